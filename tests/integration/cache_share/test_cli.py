"""The CLI: `--cache-to type=registry,ref=...,mode=max` and the short `--cache-from REF`;
plain progress names remote hits `CACHED (from registry REF)`; a bad value is one line
on stderr and exit code 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.fixtures.registry import unique_repo
from tests.integration.cache_share.helpers import EPOCH, QUICK, machine

pytestmark = pytest.mark.root


def _pybuild(root, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYBUILD_ROOT": str(root), "SOURCE_DATE_EPOCH": str(EPOCH)}
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", "build", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_export_import_and_plain_progress(tmp_path, busybox_image, registry, monkeypatch):
    ref = f"{registry.host}/{unique_repo('cli')}:c"
    root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
    (ctx_a / "Dockerfile").write_text(QUICK)
    a = _pybuild(
        root_a,
        "--progress",
        "plain",
        "--cache-to",
        f"type=registry,ref={ref},mode=max",
        "--iidfile",
        str(tmp_path / "a.id"),
        str(ctx_a),
    )
    assert a.returncode == 0, a.stderr
    assert re.search(r"exported \d+ cache entries to .*mode=max", a.stdout + a.stderr)

    root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
    (ctx_b / "Dockerfile").write_text(QUICK)
    b = _pybuild(
        root_b,
        "--progress",
        "plain",
        "--cache-from",
        ref,
        "--iidfile",
        str(tmp_path / "b.id"),
        str(ctx_b),
    )
    assert b.returncode == 0, b.stderr
    out = b.stdout + b.stderr
    hits = re.findall(rf"^#\d+ CACHED \(from registry {re.escape(ref)}\)$", out, re.M)
    assert len(hits) == 6
    assert (tmp_path / "a.id").read_text() == (tmp_path / "b.id").read_text()

    bad = _pybuild(root_b, "--cache-to", "type=registry,ref=x/y,mode=most", str(ctx_b))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "--cache-to type=registry,ref=x/y,mode=most: mode must be min or max"
    )
