"""Fixtures for sandbox tests: a busybox rootfs (plus a static syscall probe built
with gcc) as an overlay lower dir, a fresh overlay mount per test, and `sh()` to run
a shell command in the sandbox and capture its output."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from builder.sandbox import SandboxResult, SandboxSpec, run

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def lower(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sandbox-lower") / "rootfs"
    root.mkdir()
    with tarfile.open(busybox_tar) as tf:
        tf.extractall(root, numeric_owner=True)
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(root / "bin" / "probe"), str(DATA / "probe.c")],
        check=True,
    )
    return root


@pytest.fixture
def rootfs(lower: Path, tmp_path: Path) -> Iterator[Path]:
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            str(merged),
        ],
        check=True,
    )
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True)


@dataclass
class Ran:
    result: SandboxResult
    out: str
    err: str


def sh(rootfs: Path, script: str, **kw: object) -> Ran:
    """Run `sh -c script` in the sandbox (network none unless given), capturing output."""
    kw.setdefault("network", "none")
    spec = SandboxSpec(rootfs=rootfs, argv=("/bin/sh", "-c", script), **kw)  # type: ignore[arg-type]
    return run_spec(spec)


def run_spec(spec: SandboxSpec) -> Ran:
    out: list[bytes] = []
    err: list[bytes] = []
    res = run(spec, stdout=out.append, stderr=err.append)
    return Ran(res, b"".join(out).decode(), b"".join(err).decode())


def sandboxish_mounts(area: Path) -> set[str]:
    """Host mounts a leaking sandbox would leave: anything under `area` (the test's
    tmp dir) but the fixture's overlay, and kernel filesystems (proc, sysfs, devpts,
    mqueue) wherever they are. Other engineers' tests mount things too, so the plain
    mount count is not a stable measure."""
    out = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point, fstype = fields[4], fields[fields.index("-") + 1]
        mine = point.startswith(str(area) + "/") and not point.endswith("/merged")
        if mine or fstype in ("proc", "sysfs", "devpts", "mqueue"):
            out.add(f"{point} {fstype}")
    return out


def status_field(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in status output:\n{text}")


__all__ = ["Ran", "sh", "run_spec", "sandboxish_mounts", "status_field", "replace"]
