"""Images that BuildKit built (a private dockerd, `docker save`) carry no pybuild line
markers: `inspect docker-archive:F -f Dockerfile` maps their layers to lines by the
best-effort match and must report exactly the findings of each pitfall case."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.cli import main
from tests.integration.inspect.test_pitfalls_built import _Quiet
from tests.interop.buildkit.conftest import docker_busybox, dockerd  # noqa: F401 - fixtures
from tests.unit.inspect.cases import CASES_DIR, build_argv, case_ids, context_dir, expected


@pytest.fixture(scope="module")
def tool_url() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(CASES_DIR / "add-url" / "context"))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.interop
@pytest.mark.parametrize("case", case_ids())
def test_buildkit_built_case(
    case: str,
    dockerd,  # noqa: F811 - the fixture imported above
    docker_busybox,  # noqa: F811
    tool_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    df = CASES_DIR / case / "Dockerfile"
    tag = f"bk-{case}:1"
    dockerd.docker(
        "build",
        "--network=none",
        "-q",
        "-f",
        str(df),
        "-t",
        tag,
        *build_argv(case, "Dockerfile", tool_url),
        str(context_dir(case, "Dockerfile")),
    )
    tar = tmp_path / "saved.tar"
    dockerd.docker("save", tag, "-o", str(tar))
    capsys.readouterr()
    assert main(["inspect", f"docker-archive:{tar}", "--json", "-f", str(df)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["line_source"] in ("dockerfile", "none")
    got = sorted(
        (
            {"id": f["id"], "lines": f["lines"], "bytes": f["bytes"], "steps": f["steps"]}
            for f in doc["pitfalls"]
        ),
        key=lambda f: (f["id"], f["lines"]),
    )
    assert got == sorted(expected(case)["findings"], key=lambda f: (f["id"], f["lines"]))
