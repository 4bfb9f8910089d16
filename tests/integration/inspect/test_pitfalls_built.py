"""The pitfall cases built for real with `pybuild build` on the offline busybox base
(root, overlayfs, the sandbox): each Dockerfile reports exactly the findings in its
expected.json (ids, lines, bytes, steps) with lines read from the history markers the
engine writes, and each fixed version reports none."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.cli import main
from tests.unit.inspect.cases import CASES_DIR, build_argv, case_ids, context_dir, expected


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """Serves every case's context/ (add-url fetches tool.tar.gz from it)."""
    handler = functools.partial(_Quiet, directory=str(CASES_DIR / "add-url" / "context"))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _build_and_inspect(
    case: str, dockerfile: str, url: str, capsys: pytest.CaptureFixture[str]
) -> list[dict]:
    tag = f"built-{case}:{'fixed' if dockerfile.endswith('fixed') else 'bad'}"
    argv = [
        "build",
        "-q",
        "-f",
        str(CASES_DIR / case / dockerfile),
        "-t",
        tag,
        *build_argv(case, dockerfile, url),
        str(context_dir(case, dockerfile)),
    ]
    capsys.readouterr()
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == 0, out.err[-2000:]
    assert main(["inspect", tag, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["line_source"] == "history"
    return sorted(
        (
            {"id": f["id"], "lines": f["lines"], "bytes": f["bytes"], "steps": f["steps"]}
            for f in doc["pitfalls"]
        ),
        key=lambda f: (f["id"], f["lines"]),
    )


@pytest.mark.root
@pytest.mark.parametrize("case", case_ids())
def test_built_case(
    case: str, build_store: Path, http_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    want = sorted(expected(case)["findings"], key=lambda f: (f["id"], f["lines"]))
    assert _build_and_inspect(case, "Dockerfile", http_url, capsys) == want
    assert _build_and_inspect(case, "Dockerfile.fixed", http_url, capsys) == []
