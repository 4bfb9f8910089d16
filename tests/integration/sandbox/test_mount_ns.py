"""Mount namespace: pivot_root into the overlay, host files invisible, nothing leaks."""

from __future__ import annotations

from pathlib import Path

from tests.integration.sandbox.conftest import sandboxish_mounts, sh


def _host_mounts() -> list[str]:
    return Path("/proc/self/mountinfo").read_text().splitlines()


def test_root_is_the_overlay_and_host_marker_is_invisible(rootfs: Path, tmp_path: Path) -> None:
    marker = tmp_path / "host-marker-4f2a"
    marker.write_text("secret")
    (rootfs / "in-image").write_text("mine")
    ran = sh(rootfs, f"cat /in-image; ls {marker} 2>&1; ls / ; cat /proc/1/mountinfo | head -1")
    assert ran.result.exit_code == 0, ran.err
    assert ran.out.startswith("mine")
    assert "No such file" in ran.out
    assert "secret" not in ran.out
    assert " / / " in ran.out  # mount 1 in mountinfo is the new root


def test_mounts_inside_never_reach_the_host(rootfs: Path, tmp_path: Path) -> None:
    before = sandboxish_mounts(tmp_path)
    ran = sh(
        rootfs,
        "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo mounted",
        cap_add=("SYS_ADMIN",),
        seccomp=False,
    )
    assert ran.result.exit_code == 0, ran.err
    assert "mounted" in ran.out
    assert not [m for m in _host_mounts() if "/mnt/x" in m]
    assert sandboxish_mounts(tmp_path) == before


def test_no_mount_left_after_100_steps(rootfs: Path, tmp_path: Path) -> None:
    before = sandboxish_mounts(tmp_path)
    for _ in range(100):
        ran = sh(rootfs, "true")
        assert ran.result.exit_code == 0
    assert sandboxish_mounts(tmp_path) == before
