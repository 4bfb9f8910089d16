"""Image history entries in BuildKit's form, and the Go text formats they need.

BuildKit builds `created_by` strings with `fmt.Sprintf`, so matching it byte for byte
needs Go's `%q` (strconv.Quote / QuoteRune), `%v` of slices and maps, and
`time.Duration.String()`. Every entry pybuild writes also records the Dockerfile line
that made it (`entry()`), so inspection can map layers to lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

from store.oci.config import History

COMMENT = "buildkit.dockerfile.v0"
# builder.inspect reads the Dockerfile line from the comment (`pybuild:line=N[-M]`,
# then ` pybuild:build=ID`): only the five known history fields survive docker
# save/load and other tools' re-encoding.
LINE_MARK = "pybuild:line="
BUILD_MARK = "pybuild:build="


def rfc3339(epoch: float) -> str:
    """Go's time.Time JSON form in UTC: seconds, plus nanoseconds when non-zero."""
    whole = int(epoch)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    ns = int(round((epoch - whole) * 1e9))
    return f"{base}.{ns:09d}".rstrip("0") + "Z" if ns else base + "Z"


def marker(line: int, end_line: int | None = None) -> str:
    return f"{LINE_MARK}{line}" + (f"-{end_line}" if end_line and end_line != line else "")


def entry(
    created_by: str,
    *,
    empty_layer: bool,
    created: str | None,
    line: int | None = None,
    end_line: int | None = None,
) -> History:
    """A history entry as BuildKit writes it, plus where in the Dockerfile it came from
    (the build id is added when the build finishes: `stamp_build`)."""
    comment = COMMENT if line is None else f"{COMMENT} {marker(line, end_line)}"
    return History(created=created, created_by=created_by, comment=comment, empty_layer=empty_layer)


def stamp_build(h: History, build_id: str) -> History:
    """Add ` pybuild:build=ID` to an entry this build made (one without an id yet)."""
    c = h.comment or ""
    if LINE_MARK not in c or BUILD_MARK in c:
        return h

    return replace(h, comment=f"{c} {BUILD_MARK}{build_id}")


def run_created_by(args: Iterable[str], build_args: Iterable[tuple[str, str]]) -> str:
    """`RUN |1 V=1 /bin/sh -c make # buildkit` (runCommandString + commitToHistory)."""
    seen: dict[str, int] = {}
    env: list[str] = []
    for k, v in build_args:
        if k in seen:
            env[seen[k]] = f"{k}={v}"
        else:
            seen[k] = len(env)
            env.append(f"{k}={v}")
    prefix = [f"|{len(env)}", *env] if env else []
    return "RUN " + " ".join([*prefix, *args]) + " # buildkit"


def copy_created_by(
    add: bool,
    sources: Iterable[str],
    dest: str,
    *,
    chown: str = "",
    chmod: str = "",
    parents: bool = False,
    heredocs: Iterable[str] = (),
) -> str:
    """`COPY --chown=1:1 a b /dst # buildkit`, as BuildKit's dispatchCopy writes it."""
    parts = ["ADD" if add else "COPY"]
    if parents:
        parts.append("--parents")
    if chown:
        parts.append(f"--chown={chown}")
    if chmod:
        parts.append(f"--chmod={chmod}")
    parts.extend(sources)
    parts.extend(f"<<{h}" for h in heredocs)
    parts.append(dest)
    return " ".join(parts) + " # buildkit"
