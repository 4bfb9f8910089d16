"""Seccomp: Docker's default profile is in force; a static probe calls the syscalls."""

from __future__ import annotations

from pathlib import Path

from tests.integration.sandbox.conftest import sh, status_field

EPERM, ENOSYS = 1, 38
DENIED = ("keyctl", "add_key", "kexec_load", "open_by_handle_at", "init_module", "reboot",
          "unshare")


def _probe(rootfs: Path, names: tuple[str, ...], **kw: object) -> dict[str, tuple[int, int]]:
    ran = sh(rootfs, "/bin/probe " + " ".join(names), **kw)
    assert ran.result.exit_code == 0, ran.err
    out = {}
    for line in ran.out.splitlines():
        name, ret, err = line.split()
        out[name] = (int(ret), int(err))
    return out


def test_filter_active_and_normal_programs_run(rootfs: Path) -> None:
    ran = sh(rootfs, "grep -E 'Seccomp|NoNewPrivs' /proc/self/status; "
             "ls / >/dev/null && tar -cf - /bin/busybox | wc -c")
    assert status_field(ran.out, "Seccomp") == "2"
    assert status_field(ran.out, "NoNewPrivs") == "1"
    assert int(ran.out.split()[-1]) > 100_000


def test_dangerous_syscalls_fail_with_eperm(rootfs: Path) -> None:
    got = _probe(rootfs, (*DENIED, "clone3", "getpid"))
    for name in DENIED:
        assert got[name] == (-1, EPERM), (name, got[name])
    assert got["clone3"] == (-1, ENOSYS)
    assert got["getpid"][1] == 0


def test_sys_admin_opens_unshare(rootfs: Path) -> None:
    got = _probe(rootfs, ("unshare", "keyctl"), cap_add=("SYS_ADMIN",))
    assert got["unshare"] == (0, 0)
    assert got["keyctl"] == (-1, EPERM)  # still denied: not tied to a capability


def test_privileged_is_unconfined(rootfs: Path) -> None:
    got = _probe(rootfs, ("keyctl", "clone3"), privileged=True)
    assert got["keyctl"][1] != EPERM
    assert got["clone3"][1] != ENOSYS
