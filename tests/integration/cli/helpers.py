"""Running the real `pybuild` command in a subprocess, against a store in tmp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import REPO

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONPATH": str(REPO),
    "LANG": "C.UTF-8",
    "HOME": os.environ.get("HOME", "/root"),
}


def pybuild_argv() -> list[str]:
    """`pybuild` as this interpreter runs it (the console script is `builder.cli:entry`)."""
    return [sys.executable, "-m", "builder.cli"]


def pyb(
    root: Path,
    *args: object,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    e = {**BASE_ENV, "PYBUILD_ROOT": str(root), **(env or {})}
    return subprocess.run(
        [*pybuild_argv(), *map(str, args)],
        capture_output=True,
        text=True,
        env=e,
        cwd=cwd or REPO,
        input=stdin,
        timeout=timeout,
    )
