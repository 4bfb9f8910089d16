"""Crash safety: writers SIGKILLed at random points during put, load and tag updates
leave `pybuild fsck` clean, with no partial blob visible (ARCHITECTURE §5)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store.archive import save
from store.image import resolve_image
from store.layout import open_store
from store.oci.digest import Digest
from store.rootfs_import import import_rootfs
from tests.fixtures.common import REPO
from tests.integration.store_core.helpers import small_image

TRIALS = 12  # per mode; 3 modes -> 36 kills


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root)}


def _kill_at_random(
    root: Path, mode: str, args: list[str], rng: random.Random, max_delay: float
) -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.store_core.worker", mode, str(root), *args],
        cwd=REPO,
        env=_env(root),
        stdout=subprocess.PIPE,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == b"ready"
    time.sleep(rng.uniform(0, max_delay))
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL


def _assert_fsck_clean(root: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "builder.cli", "fsck"],
        cwd=REPO,
        env=_env(root),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "store is clean" in out.stdout
    # No partial blob: every file under blobs/ hashes to its name (checked by fsck above,
    # and here independently), and tmp/ holds nothing after fsck.
    for p in (root / "blobs" / "sha256").iterdir():
        assert Digest.of_bytes(p.read_bytes()).hex == p.name
    assert list((root / "tmp").iterdir()) == []
    s = open_store(root)
    for name, _ in s.refs.list():
        img = resolve_image(s, name)
        assert all(s.blobs.exists(d.digest) for d in img.blobs())


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> list[Path]:
    d = tmp_path_factory.mktemp("arch")
    s = open_store(d / "src")
    import_rootfs(s, busybox_tar, "bb:1")
    small_image(s, "small:1", layers=4)
    save(s, ["bb:1", "small:1"], d / "oci.tar", "oci")
    save(s, ["bb:1"], d / "docker.tar", "docker")
    return [d / "oci.tar", d / "docker.tar"]


@pytest.mark.parametrize("mode", ["put", "load", "tag"])
def test_sigkill_leaves_store_valid(tmp_path: Path, mode: str, archives: list[Path]) -> None:
    rng = random.Random(f"crash-{mode}")
    base = tmp_path / "base"
    small_image(open_store(base), "base:1")
    for trial in range(TRIALS):
        root = tmp_path / f"t{trial}"
        shutil.copytree(base, root)
        args = [str(a) for a in archives] if mode == "load" else []
        _kill_at_random(root, mode, args, rng, max_delay=0.25 if mode == "load" else 0.08)
        _assert_fsck_clean(root)
        if mode == "load":
            # Whatever got tagged is complete; loading again afterwards succeeds.
            env = {**_env(root), "WORKER_ROUNDS": "1"}
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.store_core.worker",
                    "load",
                    str(root),
                    *args,
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
            )
            _assert_fsck_clean(root)
            names = {n for n, _ in open_store(root).refs.list()}
            assert {"bb:1", "small:1", "base:1"} <= names
        shutil.rmtree(root)
