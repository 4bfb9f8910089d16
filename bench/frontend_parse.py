"""Parsing speed: a 2,000-instruction Dockerfile through `builder.frontend.syntax.parse` (target:
under 0.5 s), typed instructions, and the full plan. Prints median seconds; the anchor
is Python's own `str.splitlines` + `shlex.split` of the same text (a lower bound for any
Python tokenizer), since BuildKit's parser needs a daemon here."""

from __future__ import annotations

import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.frontend.instructions import parse_dockerfile
from builder.frontend.plan import make_plan
from builder.frontend.syntax import parse

KINDS = [
    "RUN apk add --no-cache curl && \\\n    echo done {i}",
    'ENV A_{i}=value_{i} B="x y"',
    "COPY --chown=1000:1000 src/{i} /app/{i}",
    "LABEL k{i}=v{i}",
    "WORKDIR /w/{i}",
    "ARG X{i}=1",
    'RUN ["echo", "{i}"]',
    "EXPOSE 80{i}",
    "RUN <<EOF\necho heredoc {i}\nEOF",
    "# a comment {i}\nUSER {i}",
]


def dockerfile(n: int = 2000) -> str:
    lines = ["FROM alpine:3.19 AS base"] + [KINDS[i % len(KINDS)].format(i=i) for i in range(n - 1)]
    return "\n".join(lines) + "\n"


def _median(fn, arg, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _shlex_lines(text: str) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(shlex.split(line))
        except ValueError:
            out.append([line])
    return out


def main() -> None:
    text = dockerfile()
    anchor = _median(_shlex_lines, text)
    rows = [
        ("syntax.parse (2,000 instr.)", parse),
        ("parse_dockerfile (typed)", parse_dockerfile),
        ("make_plan (expanded plan)", make_plan),
    ]
    print(f"{'anchor: splitlines+shlex':<30} median {anchor:.3f} s")
    for name, fn in rows:
        secs = _median(fn, text)
        print(f"{name:<30} median {secs:.3f} s  x{secs / anchor:.1f} vs anchor")


if __name__ == "__main__":
    main()
