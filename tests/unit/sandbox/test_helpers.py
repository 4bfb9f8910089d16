"""Small pure pieces: namespace flags, id maps, PATH lookup, which created mount points
a layer leaves out, and the memory size wording (no namespaces needed)."""

from __future__ import annotations

import os
from pathlib import Path

from builder.sandbox import SandboxSpec, libc, namespaces
from builder.sandbox.runner import removable
from builder.units import binary_size


def test_flags_by_network_and_rootless() -> None:
    base = libc.CLONE_NEWNS | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC | libc.CLONE_NEWPID
    assert namespaces.flags("host", False) == base
    assert namespaces.flags("none", False) == base | libc.CLONE_NEWNET
    assert namespaces.flags("default", True) == base | libc.CLONE_NEWNET | libc.CLONE_NEWUSER


def test_idmap_membership() -> None:
    m = namespaces.IdMap(((0, 1000, 1), (1, 100000, 65536)), ((0, 1000, 1),), True)
    assert m.maps_uid(0) and m.maps_uid(1000) and m.maps_uid(65536) and not m.maps_uid(65537)
    assert m.maps_gid(0) and not m.maps_gid(1)


def test_subids_by_name_or_uid(tmp_path: Path) -> None:
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\n1001:200000:1000\nbroken\n")
    assert namespaces._subids(str(f), "alice", 1000) == (100000, 65536)
    assert namespaces._subids(str(f), "bob", 1001) == (200000, 1000)
    assert namespaces._subids(str(f), "carol", 1002) is None
    assert namespaces._subids(str(tmp_path / "missing"), "alice", 1) is None


def test_removable_keeps_dirs_the_step_used(tmp_path: Path) -> None:
    root = tmp_path
    (root / "run" / "secrets").mkdir(parents=True)
    (root / "run" / "secrets" / "token").write_text("")
    (root / "cache").mkdir()
    (root / "cache" / "mine").write_text("step output")
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("")
    spec = SandboxSpec(rootfs=root, argv=("true",))
    created = ["/run", "/run/secrets", "/run/secrets/token", "/cache", "/etc/hosts"]
    assert removable(spec, created) == ("/run", "/run/secrets", "/run/secrets/token", "/etc/hosts")
    os.unlink(root / "cache" / "mine")
    assert "/cache" in removable(spec, created)


def test_binary_size() -> None:
    assert binary_size(64 << 20) == "64 MiB"
    assert binary_size(1 << 30) == "1 GiB"
    assert binary_size(3 << 10) == "3 KiB"
