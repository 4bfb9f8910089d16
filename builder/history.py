"""Image history entries in BuildKit's form, and the Go text formats they need.

BuildKit builds `created_by` strings with `fmt.Sprintf`, so matching it byte for byte
needs Go's `%q` (strconv.Quote / QuoteRune), `%v` of slices and maps, and
`time.Duration.String()`. Every entry pybuild writes also records the Dockerfile line
that made it (`entry()`), so inspection can map layers to lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from store.imageconfig import History

COMMENT = "buildkit.dockerfile.v0"
# builder.inspect reads the Dockerfile line from the comment (`pybuild:line=N[-M]`,
# then ` pybuild:build=ID`): only the five known history fields survive docker
# save/load and other tools' re-encoding.
LINE_MARK = "pybuild:line="
BUILD_MARK = "pybuild:build="

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _printable(ch: str) -> bool:
    if ch == " ":
        return True
    if " " < ch < "\x7f":  # printable ASCII: no need for unicodedata (~1 ms to import)
        return True
    import unicodedata

    return unicodedata.category(ch)[0] not in ("C", "Z")


def quote(s: str) -> str:
    """strconv.Quote: a double-quoted Go string literal."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        else:
            out.append(_escape_code(ord(ch)))
    out.append('"')
    return "".join(out)


def _escape_code(cp: int) -> str:
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def quote_rune(n: int) -> str:
    """strconv.QuoteRune, which `%q` applies to an int."""
    ch = chr(n)
    if ch == "'":
        return "'\\''"
    if ch in _ESCAPES:
        return f"'{_ESCAPES[ch]}'"
    if _printable(ch):
        return f"'{ch}'"
    return f"'{_escape_code(n)}'"


def quote_list(items: Iterable[str]) -> str:
    """`%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(quote(s) for s in items) + "]"


def v_list(items: Iterable[str]) -> str:
    """`%v` of a []string: `[a b]`."""
    return "[" + " ".join(items) + "]"


def v_set(keys: Iterable[str]) -> str:
    """`%v` of a map[string]struct{}: `map[a:{} b:{}]` (fmt sorts the keys)."""
    return "map[" + " ".join(f"{k}:{{}}" for k in sorted(keys)) + "]"


def duration(ns: int) -> str:
    """time.Duration(ns).String(): `0s`, `1.5s`, `5m0s`, `1h0m0s`, `500ms`, `2µs`."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    sign = "-" if neg else ""
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                return sign + _frac(u, size) + unit
    secs_total, frac = divmod(u, 1_000_000_000)
    h, rem = divmod(secs_total, 3600)
    m, s = divmod(rem, 60)
    sec = _frac(s * 1_000_000_000 + frac, 1_000_000_000) + "s"
    if h:
        return f"{sign}{h}h{m}m{sec}"
    if m:
        return f"{sign}{m}m{sec}"
    return sign + sec


def _frac(value: int, size: int) -> str:
    whole, rest = divmod(value, size)
    if not rest:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


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
    from dataclasses import replace

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
