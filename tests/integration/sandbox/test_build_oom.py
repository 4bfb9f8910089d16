"""A RUN step over its --memory limit fails the build with a one-line error that
names the limit (the sandbox reports the OOM kill; the engine words it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import REPO


def test_build_error_names_the_memory_limit(busybox_tar: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(tmp_path / "store")}
    pyb = [sys.executable, "-m", "builder.cli"]
    subprocess.run(
        [*pyb, "import", str(busybox_tar), "bb"], env=env, check=True, capture_output=True
    )
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM bb\nRUN awk 'BEGIN{s=\"xxxxxxxxxxxxxxxx\"; while (length(s) < 200000000) s = s s}'\n"
    )
    out = subprocess.run(
        [*pyb, "build", "--progress", "plain", "--network", "none", "--memory", "64m", str(ctx)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "ran out of memory at the 64 MiB limit" in out.stderr, out.stderr
