"""UTS and IPC namespaces: own hostname, own SysV IPC."""

from __future__ import annotations

import ctypes
import socket
from pathlib import Path

from tests.integration.sandbox.conftest import sh

IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


def test_own_hostname_host_unchanged(rootfs: Path) -> None:
    host_before = socket.gethostname()
    ran = sh(
        rootfs,
        "hostname; cat /etc/hostname; hostname renamed && hostname",
        hostname="step-box",
        privileged=True,
    )
    assert ran.out.split() == ["step-box", "step-box", "renamed"]
    assert socket.gethostname() == host_before


def test_own_sysv_ipc(rootfs: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
    assert shmid >= 0
    try:
        assert str(shmid) in Path("/proc/sysvipc/shm").read_text()
        ran = sh(rootfs, "wc -l < /proc/sysvipc/shm")
        assert ran.result.exit_code == 0, ran.err
        assert ran.out.strip() == "1"  # the header only
    finally:
        libc.shmctl(shmid, IPC_RMID, None)
