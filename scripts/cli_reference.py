"""Write docs/cli.md, the CLI reference, from the verbs' own argparse parsers:
`python3 scripts/cli_reference.py > docs/cli.md` (tests/unit/cli checks it is current)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = """\
# pybuild CLI reference

Generated from the parsers by `python3 scripts/cli_reference.py > docs/cli.md`; the
contract it implements is ARCHITECTURE §2. `pybuild VERB --help` prints the same text.

`pybuild [build] [OPTIONS] CONTEXT` — build is the default verb, so `pybuild -t app .`
is `pybuild build -t app .`. Every verb also takes `--debug` (tracebacks on errors).

Exit codes: **0** success; **1** a build step failed (RUN exit status, a missing COPY
source) or a registry error; **2** a usage error or a Dockerfile syntax error. Errors
are one line on stderr, e.g. `Dockerfile:7:1: COPY: ...` or
`push 127.0.0.1:5000/app:1: 401 UNAUTHORIZED (authentication required)`.

Environment: `PYBUILD_ROOT` (store; `/var/lib/pybuild` for root, else
`$XDG_DATA_HOME/pybuild`), `DOCKER_CONFIG` (credentials), `SOURCE_DATE_EPOCH`
(timestamps), `PYBUILD_INSECURE_REGISTRIES` (comma-separated plain-HTTP hosts),
`PYBUILD_DEBUG=1` (same as `--debug`).

`--progress`: `auto` (`tty` when stderr is a terminal, else `plain`), `plain`
(BuildKit's `#5 [builder 2/4] RUN make` / `#5 CACHED` / `#5 DONE 1.2s` lines), `tty`
(a live view), `json` (one event per line; schema in `builder/progress_schema.json`
and the `builder/progress.py` docstring), `quiet` (`-q`: only the image id).
"""


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps help text to the terminal width
    from builder.cli import _available_verbs, make_parser

    parts = [HEADER]
    for verb, (_, summary) in _available_verbs().items():
        parser, _ = make_parser(verb)
        parts.append(
            f"\n## pybuild {verb}\n\n{summary[0].upper() + summary[1:]}.\n\n"
            f"```text\n{parser.format_help().rstrip()}\n```\n"
        )
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
