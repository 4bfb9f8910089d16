"""Private /proc with Docker's masked and read-only paths, read-only /sys, a minimal
/dev, and the /etc files mounted in (reported when the image lacked them)."""

from __future__ import annotations

from pathlib import Path

from builder.sandbox import Mount
from builder.sandbox.mounts import MASKED_PATHS
from tests.integration.sandbox.conftest import sh


def test_masked_paths_are_empty(rootfs: Path) -> None:
    checks = []
    for p in MASKED_PATHS:
        checks.append(
            f"if [ -d {p} ]; then echo {p} dir $(ls -A {p} | wc -l); "
            f"elif [ -e {p} ]; then echo {p} file $(wc -c < {p}); fi"
        )
    ran = sh(rootfs, "; ".join(checks))
    assert ran.result.exit_code == 0, ran.err
    seen = [line.split() for line in ran.out.splitlines()]
    assert seen, "no masked path exists on this kernel"
    for _path, _kind, size in seen:
        assert size == "0"
    # Those the host has are really there, and masked.
    host_has = [p for p in MASKED_PATHS if Path(p).exists()]
    assert sorted(s[0] for s in seen) == sorted(host_has)


def test_readonly_proc_paths_and_sys(rootfs: Path) -> None:
    ran = sh(
        rootfs,
        "echo 1 > /proc/sys/kernel/ns_last_pid; echo a=$?; "
        "echo h > /proc/sysrq-trigger; echo b=$?; touch /sys/x; echo c=$?; "
        "grep -E ' /(proc/sys|sys|proc/bus|proc/fs|proc/irq) ' /proc/self/mountinfo",
    )
    assert "a=1" in ran.out and "b=1" in ran.out and "c=1" in ran.out
    assert "Read-only file system" in ran.err
    opts = {line.split()[4]: line.split()[5] for line in ran.out.splitlines() if " - " in line}
    for target in ("/proc/sys", "/sys"):
        assert opts[target].startswith("ro"), opts


def test_minimal_dev(rootfs: Path) -> None:
    ran = sh(
        rootfs,
        "ls /dev | tr '\\n' ' '; echo; head -c 8 /dev/urandom | wc -c; "
        "echo x > /dev/full; echo full=$?; head -c 4 /dev/zero | od -An -tx1; "
        "ls /dev/pts; mount | grep -E ' /dev/(pts|shm) '",
    )
    names = set(ran.out.splitlines()[0].split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"} <= names
    assert not names & {"sda", "vda", "kmsg", "mem", "console"}
    assert "8" in ran.out.splitlines()[1]
    assert "full=1" in ran.out
    assert "00 00 00 00" in ran.out
    assert "devpts on /dev/pts" in ran.out and "/dev/shm type tmpfs" in ran.out


def test_etc_files_present_and_reported_when_created(rootfs: Path, tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    ran = sh(
        rootfs,
        "cat /etc/hostname; grep -c localhost /etc/hosts; ls /etc/resolv.conf",
        hostname="made-here",
    )
    assert ran.result.exit_code == 0, ran.err
    assert ran.out.splitlines()[0] == "made-here"
    assert set(ran.result.created_mountpoints) == {
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    }
    # The mount points left in the layer are empty: the contents never reach it.
    for name in ("hosts", "resolv.conf", "hostname"):
        assert (upper / "etc" / name).read_bytes() == b""


def test_existing_etc_file_is_covered_not_changed(rootfs: Path, tmp_path: Path) -> None:
    (rootfs / "etc" / "hosts").write_text("image-hosts\n")
    ran = sh(rootfs, "cat /etc/hosts")
    assert "image-hosts" not in ran.out and "localhost" in ran.out
    assert "/etc/hosts" not in ran.result.created_mountpoints
    assert (tmp_path / "upper" / "etc" / "hosts").read_text() == "image-hosts\n"


def test_extra_mounts_bind_readonly_and_tmpfs(rootfs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    ran = sh(
        rootfs,
        "cat /run/secrets/token; echo > /run/secrets/token; echo w=$?; "
        "touch /cache/x && mount | grep ' /cache '",
        mounts=(
            Mount("/run/secrets/token", "bind", secret, readonly=True),
            Mount("/cache", "tmpfs"),
        ),
    )
    assert ran.out.startswith("s3cret")
    assert "w=1" in ran.out and "tmpfs on /cache" in ran.out
    assert "/run/secrets" in ran.result.created_mountpoints
    assert "/cache" in ran.result.created_mountpoints
    assert secret.read_text() == "s3cret"


def test_created_dirs_with_step_files_stay_in_the_layer(rootfs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("x")
    mounts = (Mount("/new/deep/secret", "bind", secret, readonly=True),)
    quiet = sh(rootfs, "true", mounts=mounts).result.created_mountpoints
    assert {"/new", "/new/deep", "/new/deep/secret"} <= set(quiet)
    (rootfs / "new").rename(rootfs / "new-old")  # start again from no /new
    busy = sh(rootfs, "echo mine > /new/deep/own", mounts=mounts).result.created_mountpoints
    assert "/new/deep/secret" in busy
    assert "/new" not in busy and "/new/deep" not in busy


def test_hosts_and_resolv_from_content_or_file(rootfs: Path, tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    ran = sh(rootfs, "cat /etc/hosts /etc/resolv.conf", hosts="10.9.8.7 db\n", resolv_conf=resolv)
    assert ran.out == "10.9.8.7 db\nnameserver 192.0.2.53\n"
