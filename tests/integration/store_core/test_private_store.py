"""The store is its owner's alone, as /var/lib/docker is root's: a new store's root is
0700 and its files 0600, so another user of the machine reads no layer of any image
(one may have baked a secret in). `fsck` reports a store that was made wider, and
`fsck --repair` takes it back."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.fsck import fsck
from store.layout import open_store
from tests.integration.store_core.helpers import small_image

NOBODY = 65534


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is under a 0700 one)."""
    d = Path(tempfile.mkdtemp(prefix="pybuild-private-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, user=NOBODY, group=NOBODY, extra_groups=[]
    )


def test_a_new_store_is_private(open_dir: Path) -> None:
    root = open_dir / "store"
    s = open_store(root)
    s.db()  # the metadata database is made on first use
    img = small_image(s, "secret:1", seed="s", layers=2)
    assert _mode(root) == 0o700
    files = [root / "meta.db", root / "index.json", root / "oci-layout"]
    files += [s.blobs.path(d) for d in s.blobs.iter_digests()]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    blob = s.blobs.path(img.digest)
    assert _as_nobody("cat", str(blob)).returncode != 0
    assert _as_nobody("ls", str(root)).returncode != 0
    assert fsck(s).clean


def test_fsck_reports_a_widened_store_and_repair_takes_it_back(open_dir: Path) -> None:
    root = open_dir / "store"
    s = open_store(root)
    s.db()
    img = small_image(s, "secret:1", seed="s")
    blob = s.blobs.path(img.digest)
    os.chmod(root, 0o755)
    os.chmod(blob, 0o644)
    os.chmod(root / "meta.db", 0o644)
    report = fsck(s)
    assert not report.clean
    assert any(f"store root {root} is 0755" in e for e in report.errors), report.errors
    assert any("2 store files are readable by other users" in e for e in report.errors)
    assert _as_nobody("cat", str(blob)).returncode == 0  # what the report is about
    repaired = fsck(s, repair=True)
    assert len(repaired.fixed) >= 2 and repaired.clean
    assert (_mode(root), _mode(blob), _mode(root / "meta.db")) == (0o700, 0o600, 0o600)
    assert _as_nobody("cat", str(blob)).returncode != 0
    assert fsck(s).clean


def test_docker_s_modes_pass(tmp_path: Path) -> None:
    """0710 and 0640 (what /var/lib/docker and a group-readable file give) are private
    enough: traversal without listing, and reading only by the owner's group."""
    root = tmp_path / "store"
    s = open_store(root)
    img = small_image(s, "x:1", seed="x")
    os.chmod(root, 0o710)
    os.chmod(s.blobs.path(img.digest), 0o640)
    assert fsck(s).clean
