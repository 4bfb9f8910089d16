"""PID namespace: a reaping PID 1, a private /proc, no way to the host's processes,
and nothing left running when the step ends."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.sandbox.conftest import sh


def test_proc_shows_only_sandbox_processes(rootfs: Path) -> None:
    ran = sh(rootfs, "ls -d /proc/[0-9]* | wc -l; echo self=$$")
    assert ran.result.exit_code == 0, ran.err
    count, me = ran.out.split()
    # PID 1, the shell, and ls/wc
    assert int(count) <= 4
    assert me == "self=2"


def test_pid1_reaps_orphaned_zombies(rootfs: Path) -> None:
    # The subshell exits at once, orphaning `true` children to PID 1.
    script = (
        "for i in 1 2 3 4 5; do (true &) ; done; sleep 0.3; "
        "cat /proc/[0-9]*/stat 2>/dev/null | awk '{print $3}' | sort | uniq -c"
    )
    ran = sh(rootfs, script)
    assert ran.result.exit_code == 0, ran.err
    assert " Z" not in ran.out and ran.out.strip()


def test_host_pids_cannot_be_signalled(rootfs: Path) -> None:
    ran = sh(rootfs, f"kill -0 {os.getpid()}; echo rc=$?")
    assert "rc=1" in ran.out


def test_every_process_is_gone_when_the_step_ends(rootfs: Path) -> None:
    tag = "7391.25"
    ran = sh(rootfs, f"sleep {tag} & sleep {tag} & echo started")
    assert ran.result.exit_code == 0 and "started" in ran.out
    left = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if tag.encode() in (p / "cmdline").read_bytes():
                    left.append(p.name)
            except OSError:
                pass
    assert left == []


def test_pid1_keeps_no_privilege_the_command_could_use(rootfs: Path) -> None:
    ran = sh(
        rootfs,
        "grep -E 'CapEff|CapPrm' /proc/1/status; readlink /proc/1/fd/1; echo fd=$?; "
        "cat /proc/1/environ; echo env=$?",
    )
    caps = {
        line.split(":")[0]: int(line.split()[1], 16)
        for line in ran.out.splitlines()
        if line.startswith("Cap")
    }
    assert caps == {"CapPrm": 1 << 5, "CapEff": 1 << 5}  # CAP_KILL, to forward signals
    assert "fd=1" in ran.out and "env=1" in ran.out
    assert "Permission denied" in ran.err
