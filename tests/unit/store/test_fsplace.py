"""Placement hints: the snapshot root and the cache-mount root are marked as tops of
independent hierarchies (`chattr +T`), so ext4 spreads each snapshot to a block group of
its own rather than next to a just-deleted sibling's freed inodes (see store.fsplace)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from store.fsplace import spread_children, topdir_flag
from store.layout import open_store


def _lsattr_has_t(path: Path) -> bool:
    out = subprocess.run(
        ["lsattr", "-d", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return "T" in out.split()[0]


def test_the_flag_is_set_and_read_back_as_chattr_sees_it(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    supported = topdir_flag(d) is not None
    assert spread_children(d) is supported
    if supported:  # ext2/3/4, as the build machines' /tmp and /var are
        assert topdir_flag(d) is True
        assert _lsattr_has_t(d)
        assert spread_children(d) is True  # idempotent
    else:  # xfs, btrfs, tmpfs: a hint only, nothing to set, no error
        assert topdir_flag(d) is None


def test_a_missing_directory_is_not_an_error(tmp_path: Path) -> None:
    assert spread_children(tmp_path / "absent") is False


def test_a_store_marks_its_snapshot_root(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    try:
        root = store.snapshots.root
        assert topdir_flag(root) is (True if topdir_flag(tmp_path) is not None else None)
        if topdir_flag(root):
            assert _lsattr_has_t(root)
            # only the root: the snapshots below it keep ext4's default placement
            child = root / "child"
            child.mkdir()
            assert topdir_flag(child) is False
    finally:
        store.close()
