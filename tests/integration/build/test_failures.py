"""Build failures: stage, step, Dockerfile line, command, exit code and the last output
lines; nothing half-built is tagged; CLI exit codes."""

from __future__ import annotations

import io

import pytest

from builder.engine.failure import StepError
from builder.errors import BuildError
from store.errors import ImageNotFound
from tests.fixtures.build import run_build
from tests.fixtures.common import run_pybuild
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

DF = """\
FROM busybox AS builder
RUN echo ok > /ok
RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 3
FROM busybox
COPY --from=builder /ok /ok
"""


def test_failed_run_names_everything_and_tags_nothing(build_store, tmp_path):
    out = io.StringIO()
    with pytest.raises(StepError) as ei:
        run_build(build_store, tmp_path, DF, tags=["fail:1"], out=out)
    e = ei.value
    msg = str(e)
    assert msg.startswith("Dockerfile:3: stage builder, step 3/3 ")
    assert "RUN for i in" in msg and "exit code: 3" in msg
    assert '"/bin/sh -c for i in' in msg
    assert e.exit_status == 3 and e.exit_code == 1
    assert e.tail[-1] == "line12" and len(e.tail) == 10
    assert "#3 ERROR: process" in out.getvalue() or "ERROR: process" in out.getvalue()
    with pytest.raises(ImageNotFound):
        h.image(build_store, "fail:1")


def test_missing_copy_source_fails_with_line(build_store, tmp_path):
    with pytest.raises(BuildError) as ei:
        run_build(build_store, tmp_path, "FROM busybox\n\nCOPY nope.txt /x\n", tags=["f:2"])
    assert str(ei.value).startswith("Dockerfile:3:")
    assert "COPY failed" in str(ei.value) and "nope.txt" in str(ei.value)
    assert ei.value.exit_code == 1
    with pytest.raises(ImageNotFound):
        h.image(build_store, "f:2")


def test_cli_exit_codes_and_one_line_errors(build_store, tmp_path):
    (tmp_path / "Dockerfile").write_text(DF)
    p = run_pybuild(build_store, "--progress", "plain", "-t", "x:1", str(tmp_path), env={})
    assert p.returncode == 1
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("Dockerfile:3: stage builder, step 3/3") and "exit code: 3" in last
    assert "line12" in p.stderr  # the tail block above the error line
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN\n")
    p = run_pybuild(build_store, "-q", str(tmp_path), env={})
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
