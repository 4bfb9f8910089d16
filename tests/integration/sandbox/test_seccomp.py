"""Seccomp: Docker's default profile is in force; a static probe calls the syscalls."""

from __future__ import annotations

from pathlib import Path

from tests.integration.sandbox.conftest import sh, status_field

EPERM, ENOSYS = 1, 38
DENIED = (
    "keyctl",
    "add_key",
    "kexec_load",
    "open_by_handle_at",
    "init_module",
    "reboot",
    "unshare",
)


def _probe(rootfs: Path, names: tuple[str, ...], **kw: object) -> dict[str, tuple[int, int]]:
    ran = sh(rootfs, "/bin/probe " + " ".join(names), **kw)
    assert ran.result.exit_code == 0, ran.err
    out = {}
    for line in ran.out.splitlines():
        name, ret, err = line.split()
        out[name] = (int(ret), int(err))
    return out


def test_filter_active_and_normal_programs_run(rootfs: Path) -> None:
    ran = sh(
        rootfs,
        "grep -E 'Seccomp|NoNewPrivs' /proc/self/status; "
        "ls / >/dev/null && tar -cf - /bin/busybox | wc -c",
    )
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


def test_cached_filter_is_used_the_second_time_and_filters_the_same(
    rootfs: Path, tmp_path: Path
) -> None:
    import os

    from builder.sandbox import caps, seccomp

    capset = caps.DOCKER_DEFAULT
    assert seccomp.filter_program(capset)[1] == "compiled"  # no store: no cache
    seccomp.use_store(tmp_path / "store")
    seccomp.prepare.cache_clear()
    first, src1 = seccomp.filter_program(capset)
    assert src1 == "compiled"
    (cached,) = (tmp_path / "store" / "cache" / "seccomp").glob("*.bpf")
    assert os.stat(cached.parent).st_mode & 0o777 == 0o700
    assert cached.read_bytes() == first == seccomp.compile_filter(capset)
    second, src2 = seccomp.filter_program(capset)
    assert (second, src2) == (first, "cache")
    # The sandbox now loads the cached program; the filter behaves as compiled.
    seccomp.prepare.cache_clear()
    try:
        got = _probe(rootfs, (*DENIED, "clone3", "getpid"))
        for name in DENIED:
            assert got[name] == (-1, EPERM), (name, got[name])
        assert got["clone3"] == (-1, ENOSYS)
        # A cache file in a dir others can write is not trusted.
        os.chmod(cached.parent, 0o777)
        assert seccomp.filter_program(capset)[1] == "compiled"
        assert os.stat(cached.parent).st_mode & 0o777 == 0o700
    finally:
        seccomp.use_store(None)
        seccomp.prepare.cache_clear()
