"""Cgroup limits (v1 on this hybrid host, v2 where unified): memory OOM with a clear
error, pids containment, the CPU quota, and removal afterwards."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.sandbox import StepOOM, cgroups, check
from tests.integration.sandbox.conftest import sh

MiB = 1 << 20
GROW = (
    'awk "BEGIN{s=\\"xxxxxxxxxxxxxxxx\\"; while (length(s) < 200000000) s = s s; print length(s)}"'
)


def _parent_dirs(parent: str) -> list[Path]:
    if cgroups.is_v2():
        return [cgroups.ROOT / parent]
    return [cgroups.ROOT / c / parent for c in ("memory", "pids", "cpu")]


def _children(parent: str) -> list[Path]:
    return [d for p in _parent_dirs(parent) if p.exists() for d in p.iterdir() if d.is_dir()]


@pytest.fixture
def parent() -> Iterator[str]:
    """A private cgroup parent, removed afterwards."""
    name = f"pybuild-test-{uuid.uuid4().hex[:8]}"
    yield name
    for p in _parent_dirs(name):
        if p.exists():
            p.rmdir()


def test_memory_limit_kills_and_says_so(rootfs: Path, parent: str) -> None:
    ran = sh(rootfs, GROW, memory=64 * MiB, cgroup_parent=parent)
    assert ran.result.oom_killed
    assert ran.result.exit_code == 137
    with pytest.raises(StepOOM) as exc:
        check(ran.result, "RUN grow")
    assert "ran out of memory at the 64 MiB limit" in str(exc.value)
    assert _children(parent) == []


def test_without_limit_the_same_step_succeeds(rootfs: Path) -> None:
    ran = sh(rootfs, GROW)
    assert ran.result.exit_code == 0 and not ran.result.oom_killed


def test_pids_limit_contains_a_fork_bomb(rootfs: Path, parent: str) -> None:
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for d in _children(parent):
                try:
                    peak[0] = max(peak[0], int((d / "pids.current").read_text()))
                except (OSError, ValueError):
                    pass
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    # 2^11 processes wanted at once, each sleeping: far more than the limit.
    bomb = "b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; sleep 1; wait; }; b 10"
    try:
        ran = sh(rootfs, bomb, pids_limit=64, cgroup_parent=parent)
    finally:
        done.set()
        t.join()
    assert "can't fork" in ran.err or "Resource temporarily unavailable" in ran.err, ran.err
    assert 0 < peak[0] <= 64, peak  # the watcher may be starved on a busy host
    assert _children(parent) == []


def test_cpu_quota_and_pids_max_files(rootfs: Path, parent: str) -> None:
    seen: dict[str, str] = {}
    stop = threading.Event()

    def watch() -> None:
        # the last values read while the step's cgroup lives: a read right after the
        # directory appears may precede the limits being written (quota still -1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not stop.is_set():
            for d in _children(parent):
                for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.max", "pids.max"):
                    try:
                        seen[name] = (d / name).read_text().strip()
                    except OSError:
                        pass  # not this hierarchy's file, or the cgroup just went away
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    try:
        ran = sh(rootfs, "sleep 1", cpus=0.5, pids_limit=100, cgroup_parent=parent)
    finally:
        stop.set()
        t.join()
    assert ran.result.exit_code == 0
    if cgroups.is_v2():
        assert seen["cpu.max"] == "50000 100000"
    else:
        assert seen["cpu.cfs_quota_us"] == "50000" and seen["cpu.cfs_period_us"] == "100000"
    assert seen["pids.max"] == "100"
    assert _children(parent) == []


def test_step_sees_its_own_cgroups_read_only(rootfs: Path, parent: str) -> None:
    ran = sh(
        rootfs,
        "cat /proc/self/cgroup | cut -d: -f3 | sort -u; "
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "2>/dev/null; touch /sys/fs/cgroup/x; echo w=$?",
        memory=64 * MiB,
        cgroup_parent=parent,
    )
    lines = ran.out.splitlines()
    assert lines[0] == "/"  # the cgroup namespace hides the host's hierarchy
    assert str(64 * MiB) in lines
    assert "w=1" in ran.out and "Read-only file system" in ran.err


def test_missing_controller_is_a_one_line_setup_error() -> None:
    """On this hybrid host the cgroup2 mount has no controllers: asking it for a memory
    limit must say what to do, and leave nothing behind."""
    from builder.sandbox import SandboxSetupError

    unified = cgroups.ROOT / "unified"
    if not cgroups.is_v2(unified):
        unified = cgroups.ROOT  # a pure v2 host: use a name no kernel has
        cg = cgroups.StepCgroup("t", cgroups.Limits(memory=1 << 26), root=unified / "nope")
    else:
        cg = cgroups.StepCgroup(
            f"t{uuid.uuid4().hex[:8]}",
            cgroups.Limits(memory=1 << 26),
            root=unified,
            parent=f"pybuild-test-{uuid.uuid4().hex[:8]}",
        )
    with pytest.raises(SandboxSetupError) as exc:
        cg.create()
    msg = str(exc.value)
    assert "no cgroup memory controller" in msg and "\n" not in msg
    assert cg.dirs == []


def test_stale_cgroups_of_a_killed_pybuild_are_reaped(rootfs: Path, parent: str) -> None:
    stale = cgroups.ROOT / "pids" / parent / "left-by-a-killed-run"
    stale.mkdir(parents=True)
    old = time.time() - cgroups.STALE_AFTER - 10
    os.utime(stale, (old, old))
    young = cgroups.ROOT / "pids" / parent / "just-starting"
    young.mkdir()
    try:
        assert sh(rootfs, "true", pids_limit=10, cgroup_parent=parent).result.exit_code == 0
        assert not stale.exists() and young.exists()
    finally:
        for d in (stale, young):
            if d.exists():
                d.rmdir()
