"""Capabilities: Docker's 14 for root, none effective for a non-root USER (same
bounding set), --cap-add/--cap-drop, and --privileged."""

from __future__ import annotations

from pathlib import Path

from builder.sandbox.caps import DOCKER_DEFAULT, available, mask
from tests.integration.sandbox.conftest import sh, status_field

STATUS = "grep Cap /proc/self/status"
DOCKER_MASK = 0x00000000A80425FB  # CapEff of `docker run busybox` as root


def _caps(out: str) -> dict[str, int]:
    return {k: int(status_field(out, k), 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh")}


def test_root_gets_exactly_docker_defaults(rootfs: Path) -> None:
    assert mask(DOCKER_DEFAULT) == DOCKER_MASK
    c = _caps(sh(rootfs, STATUS).out)
    assert c == {"CapEff": DOCKER_MASK, "CapPrm": DOCKER_MASK, "CapBnd": DOCKER_MASK, "CapInh": 0}


def test_non_root_user_has_none_effective_same_bounding(rootfs: Path) -> None:
    ran = sh(rootfs, STATUS + "; id -u", user="app")
    c = _caps(ran.out)
    assert c["CapEff"] == 0 and c["CapPrm"] == 0
    assert c["CapBnd"] == DOCKER_MASK
    assert ran.out.split()[-1] == "1000"


def test_default_caps_forbid_clock_and_mount(rootfs: Path) -> None:
    # Setting the clock to "now" keeps the host safe should the capability leak.
    ran = sh(
        rootfs,
        "mkdir -p /mnt; date -s \"$(date '+%Y-%m-%d %H:%M:%S')\"; echo d=$?; mount -t tmpfs t /mnt; "
        "echo m=$?; chown 1000 /tmp && echo chown-ok",
    )
    assert "m=0" not in ran.out  # busybox date exits 0 even when it fails
    assert "can't set date: Operation not permitted" in ran.err
    assert "permission denied" in ran.err
    assert "chown-ok" in ran.out


def test_cap_add_and_drop(rootfs: Path) -> None:
    c = _caps(sh(rootfs, STATUS, cap_add=("NET_ADMIN",), cap_drop=("CAP_CHOWN", "MKNOD")).out)
    expect = (DOCKER_MASK | 1 << 12) & ~(1 << 0) & ~(1 << 27)
    assert c["CapEff"] == expect and c["CapBnd"] == expect
    ran = sh(rootfs, "chown 1000 /tmp; echo rc=$?", cap_drop=("ALL",))
    assert "rc=1" in ran.out


def test_privileged_gets_everything(rootfs: Path) -> None:
    ran = sh(
        rootfs,
        STATUS + "; grep Seccomp: /proc/self/status; "
        "mkdir -p /mnt && mount -t tmpfs t /mnt && echo mounted",
        privileged=True,
    )
    c = _caps(ran.out)
    assert c["CapEff"] == mask(available()) == c["CapBnd"]
    assert status_field(ran.out, "Seccomp") == "0"
    assert "mounted" in ran.out
