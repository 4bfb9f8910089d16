"""Shared checks for the robustness tests: the store is valid (fsck), nothing is left
mounted, and no step cgroup of ours outlives its build."""

from __future__ import annotations

import time
from pathlib import Path

from store.fsck import fsck
from store.image import resolve_image
from store.layout import open_store
from tests.robustness.conftest import cgroup_empty, mounts_under, pybuild_cgroups


def assert_store_valid(root: Path) -> None:
    """fsck (with only its always-safe fixes) finds no error and every tag resolves to
    complete content."""
    st = open_store(root)
    try:
        rep = fsck(st)
        assert rep.clean, f"fsck errors: {rep.errors} (fixed: {rep.fixed})"
        for name, _ in st.refs.list():
            img = resolve_image(st, name)
            missing = [str(d.digest) for d in img.blobs() if not st.blobs.exists(d.digest)]
            assert not missing, f"{name}: missing blobs {missing}"
    finally:
        st.close()


def assert_no_mounts(root: Path) -> None:
    left = mounts_under(root)
    assert not left, f"mounts left behind under the store: {left}"


def leaked_cgroups(before: set[Path], since: float) -> list[Path]:
    """Step cgroups made after `since` that are not in `before` and are still there:
    ours (other test runs' cgroups live seconds and are removed by their owner)."""
    out = []
    for d in pybuild_cgroups() - before:
        try:
            if d.stat().st_ctime >= since - 1 and cgroup_empty(d):
                out.append(d)
        except FileNotFoundError:
            continue
    return out


def wait_gone(paths: list[Path], timeout: float = 3.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        paths = [p for p in paths if p.exists()]
        if not paths:
            break
        time.sleep(0.1)
    return paths
