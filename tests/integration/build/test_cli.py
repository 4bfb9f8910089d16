"""`pybuild build` through the CLI: -f outside the context (with its own
<Dockerfile>.dockerignore), -f - from stdin, bare --build-arg from the environment,
build as the default verb, and the plain progress on stderr."""

from __future__ import annotations

import pytest

from tests.fixtures.common import run_pybuild
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root


def test_dockerfile_outside_context_with_its_ignore_file(build_store, tmp_path):
    ctx, dfdir = tmp_path / "ctx", tmp_path / "df"
    ctx.mkdir()
    dfdir.mkdir()
    (ctx / "keep.txt").write_text("k")
    (ctx / "drop.txt").write_text("d")
    (dfdir / "app.Dockerfile").write_text("FROM busybox\nCOPY . /c/\n")
    (dfdir / "app.Dockerfile.dockerignore").write_text("drop.txt\n")
    p = run_pybuild(
        build_store,
        "-f",
        str(dfdir / "app.Dockerfile"),
        "-t",
        "out:1",
        "--progress",
        "plain",
        str(ctx),
        env={},  # a CI job's bare environment
    )
    assert p.returncode == 0, p.stderr
    tree = h.rootfs(build_store, "out:1")
    assert "c/keep.txt" in tree and "c/drop.txt" not in tree
    assert "#2 [2/2] COPY . /c/" in p.stderr and p.stdout == ""


def test_stdin_dockerfile_and_env_build_arg(build_store, tmp_path):
    df = "FROM busybox\nARG FROM_ENV\nRUN echo $FROM_ENV > /v\n"
    p = run_pybuild(
        build_store,
        "build",
        "-f",
        "-",
        "-t",
        "in:1",
        "--build-arg",
        "FROM_ENV",
        "-q",
        str(tmp_path),
        stdin=df,
        env={"FROM_ENV": "hello"},
    )
    assert p.returncode == 0, p.stderr
    assert h.read_file(build_store, "in:1", "v") == b"hello\n"
    assert p.stdout.strip() == str(h.image(build_store, "in:1").manifest().config.digest)
