"""Turn a testdata/pitfalls case into an image in the store, without the build engine:
one layer per RUN/COPY/ADD of the final stage, made from the case's `expected.json`
"layers" spec (the files that step makes; COPY entries take the real context files),
with history entries carrying created_by and the pybuild line marker. The build-based
test (tests/integration/inspect/test_pitfalls_built.py) reuses expected.json's findings
unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from builder.inspect.dockerfile import parse_dockerfile
from builder.inspect.history import marker_comment
from tests.unit.inspect.synth import content, layer_tar, store_image

CASES_DIR = Path(__file__).resolve().parents[3] / "testdata" / "pitfalls"


def case_ids() -> list[str]:
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.json").is_file())


def expected(case: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / case / "expected.json").read_text())


def _context_files(ctx: Path, src: str) -> list[tuple[str, Path]]:
    base = ctx / src
    if base.is_file():
        return [(base.name, base)]
    ignore_file = ctx / ".dockerignore"
    ignored = set(ignore_file.read_text().split()) if ignore_file.is_file() else set()
    out = []
    for dirpath, _, names in os.walk(base):
        for n in sorted(names):
            p = Path(dirpath) / n
            rel = str(p.relative_to(base))
            if rel.split("/", 1)[0] not in ignored:  # top-level names only: enough here
                out.append((rel, p))
    return sorted(out)


def context_dir(case: str, dockerfile: str) -> Path:
    name = expected(case).get("contexts", {}).get(dockerfile, "context")
    d = CASES_DIR / case / name
    return d if d.is_dir() else CASES_DIR / case  # cases that copy nothing


def build_argv(case: str, dockerfile: str, url: str = "") -> list[str]:
    """Extra `pybuild build` flags for the case (secrets, build args, network)."""
    args = expected(case).get("build_args", {}).get(dockerfile, [])
    return [
        a.replace("context/", f"{CASES_DIR / case}/context/").replace("{url}", url) for a in args
    ]


def _entries(ops: list[list[Any]], ctx: Path, written: dict[str, bytes]) -> list[tuple]:
    out: list[tuple] = []
    for op in ops:
        kind = op[0]
        if kind == "copy":
            srcs, dest = op[1], op[2]
            for src in srcs:
                for rel, p in _context_files(ctx, src):
                    if src in (".", "./") or dest.endswith("/"):
                        target = dest.rstrip("/") + "/" + rel
                    else:
                        target = dest
                    data = p.read_bytes()
                    mode = op[3] if len(op) > 3 else p.stat().st_mode & 0o777
                    written[target.lstrip("/")] = data
                    out.append(("file", target, data, mode))
        elif kind == "file":
            data = content(op[1], op[2])
            written[op[1]] = data
            out.append(("file", op[1], data, *op[3:]))
        elif kind == "chmod":
            out.append(("file", op[1], written[op[1]], op[2]))
        else:
            out.append(tuple(op))
    return out


def created_by(keyword: str, args: str) -> str:
    if keyword == "RUN":
        return f"RUN /bin/sh -c {args} # buildkit"
    return f"{keyword} {args}" + (" # buildkit" if keyword in ("COPY", "ADD") else "")


def build_case(case: str, dockerfile: str, base_tar: bytes, root: Path, tag: str) -> Path:
    d = CASES_DIR / case
    df = parse_dockerfile((d / dockerfile).read_text(), dockerfile)
    spec = expected(case)["layers"][dockerfile]
    tars = [base_tar]
    history: list[dict[str, Any]] = [
        {"created_by": "/bin/sh -c #(nop) ADD file:busybox-rootfs in / "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
    ]
    written: dict[str, bytes] = {}
    for s in df.stage_steps(df.final_stage):
        if s.keyword == "FROM":
            continue
        h = {
            "created_by": created_by(s.keyword, s.args),
            "comment": marker_comment(s.line, s.end_line, "case"),
        }
        if s.makes_layer:
            tars.append(
                layer_tar(
                    _entries(spec.get(str(s.line), []), context_dir(case, dockerfile), written)
                )
            )
        else:
            h["empty_layer"] = True
        history.append(h)
    store_image(root, tag, tars, history)
    return d / dockerfile
