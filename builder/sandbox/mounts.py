"""The sandbox's filesystem, set up by PID 1 inside its private mount namespace:
the rootfs (optionally an overlay mounted here), /proc with Docker's masked and
read-only paths, a read-only /sys, a minimal /dev, the /etc files, extra mounts, then
pivot_root. Every mount lives in the namespace, so none outlives the step."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from builder.sandbox import libc
from builder.sandbox.libc import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC
from builder.sandbox.spec import Mount, Overlay
from builder.sandbox.user import scoped_path

# Docker's defaults (moby oci/defaults.go).
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
)
_LOCKED = MS_NOSUID | MS_NODEV | MS_NOEXEC
SHM_SIZE = 64 << 20  # /dev/shm's size unless told: Docker's 64 MiB


@dataclass(frozen=True)
class RootPlan:
    """What PID 1 mounts. `etc_files` maps /etc/NAME to its content (str), or to a
    host file (Path) to bind there."""

    rootfs: str
    overlay: Overlay | None
    rootless: bool
    own_netns: bool
    privileged: bool
    etc_files: tuple[tuple[str, str | Path], ...]
    mounts: tuple[Mount, ...]
    cgroups: tuple[tuple[str, str, str], ...] = ()  # cgroups.hierarchies(), to show
    shm_size: int = SHM_SIZE


def overlay_options(ov: Overlay, rootless: bool) -> str:
    lower = ":".join(str(p) for p in ov.lowerdirs)
    opts = f"lowerdir={lower},upperdir={ov.upperdir},workdir={ov.workdir}"
    return opts + (",userxattr" if rootless else "")


class _Root:
    """Mount helpers relative to the new root, recording created mount points."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.created: list[str] = []

    def path(self, inside: str) -> Path:
        return scoped_path(self.root, inside)

    def _record(self, p: Path) -> None:
        self.created.append("/" + str(p.relative_to(self.root)))

    def ensure_dir(self, inside: str) -> str:
        p = self.path(inside)
        if not p.is_dir():
            missing = []
            q = p
            while not q.exists() and q != self.root:
                missing.append(q)
                q = q.parent
            p.mkdir(parents=True, exist_ok=True)
            for m in reversed(missing):
                self._record(m)
        return str(p)

    def ensure_file(self, inside: str) -> str:
        p = self.path(inside)
        if not p.exists():
            self.ensure_dir(str(Path(inside).parent))
            p = self.path(inside)
            p.touch(mode=0o644)
            self._record(p)
        return str(p)


def setup(plan: RootPlan) -> list[str]:
    """Build the root and pivot into it. Returns the mount points it had to create."""
    libc.mount("", "/", "", MS_REC | libc.MS_PRIVATE)
    if plan.overlay is not None:
        _mount_overlay(plan)
    libc.mount(plan.rootfs, plan.rootfs, "", MS_BIND | MS_REC)
    if not plan.privileged:  # a node made with CAP_MKNOD must not open a host device
        libc.mount(
            "",
            plan.rootfs,
            "",
            MS_BIND
            | libc.MS_REMOUNT
            | MS_NODEV
            | _flags_of(plan.rootfs)
            | (MS_RDONLY if _is_ro(plan.rootfs) else 0),
        )
    r = _Root(plan.rootfs)
    libc.mount("proc", r.ensure_dir("/proc"), "proc", _LOCKED)
    _setup_dev(r, plan.rootless, plan.shm_size)
    sys_dir = r.ensure_dir("/sys")
    ro = 0 if plan.privileged else MS_RDONLY
    if plan.own_netns:
        libc.mount("sysfs", sys_dir, "sysfs", _LOCKED | ro)
        _cgroupfs(f"{sys_dir}/fs/cgroup", plan, ro)
    else:  # sysfs needs our own netns (rootless); a recursive bind shows the host's
        libc.mount("/sys", sys_dir, "", MS_BIND | MS_REC)
        if ro:
            libc.mount("", sys_dir, "", MS_BIND | libc.MS_REMOUNT | ro | _LOCKED)
    _etc(r, plan.etc_files)
    for m in plan.mounts:
        _extra(r, m)
    if not plan.privileged:
        _mask_and_protect(r)
    os.chdir(plan.rootfs)
    libc.pivot_root(".", ".")
    libc.umount2(".", libc.MNT_DETACH)
    os.chdir("/")
    return r.created


def _mount_overlay(plan: RootPlan) -> None:
    assert plan.overlay is not None
    try:
        libc.mount(
            "overlay", plan.rootfs, "overlay", 0, overlay_options(plan.overlay, plan.rootless)
        )
    except OSError as e:
        if e.errno == errno.ENODEV:
            raise OSError(
                e.errno,
                "overlayfs is missing: modprobe overlay (or use a kernel with CONFIG_OVERLAY_FS)",
            ) from None
        if plan.rootless and e.errno in (errno.EPERM, errno.EINVAL):
            raise OSError(
                e.errno,
                "overlayfs refused to mount in a user namespace: rootless "
                "builds need Linux 5.11 or later (userxattr)",
            ) from None
        raise


def _cgroupfs(target: str, plan: RootPlan, ro: int) -> None:
    """The step's own cgroups (rooted at its cgroup namespace), read-only, as Docker
    shows them. v1 hierarchies cannot be mounted in a user namespace: rootless v1
    steps see an empty /sys/fs/cgroup."""
    if not plan.cgroups or not os.path.isdir(target):
        return
    if plan.cgroups[0][0] == "":
        libc.mount("cgroup2", target, "cgroup2", _LOCKED | ro)
        return
    if plan.rootless:
        return
    libc.mount("tmpfs", target, "tmpfs", _LOCKED, "mode=755")
    for name, fstype, opts in plan.cgroups:
        os.mkdir(f"{target}/{name}")
        libc.mount(fstype, f"{target}/{name}", fstype, _LOCKED | ro, opts)
    if ro:
        libc.mount("", target, "", MS_BIND | libc.MS_REMOUNT | ro | _LOCKED)


def _setup_dev(r: _Root, rootless: bool, shm_size: int) -> None:
    dev = r.ensure_dir("/dev")
    libc.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name in DEVICES:
        target = f"{dev}/{name}"
        with open(target, "w"):
            pass
        libc.mount(f"/dev/{name}", target, "", MS_BIND)
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(f"{dev}/{sub}", 0o1777 if sub == "shm" else 0o755)
    gid = "" if rootless else ",gid=5"
    libc.mount(
        "devpts",
        f"{dev}/pts",
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        f"newinstance,ptmxmode=0666,mode=0620{gid}",
    )
    libc.mount("shm", f"{dev}/shm", "tmpfs", _LOCKED, f"mode=1777,size={shm_size}")
    try:
        libc.mount("mqueue", f"{dev}/mqueue", "mqueue", _LOCKED)
    except OSError:
        os.rmdir(f"{dev}/mqueue")
    for name, target in DEV_LINKS:
        os.symlink(target, f"{dev}/{name}")


def _etc(r: _Root, files: tuple[tuple[str, str | Path], ...]) -> None:
    """Content goes through a file on the sandbox's own /dev tmpfs that is unlinked
    once bound: nothing on the host to clean up, even if pybuild is killed."""
    dev = r.path("/dev")
    for inside, value in files:
        target = r.ensure_file(inside)
        if isinstance(value, Path):
            libc.mount(str(value), target, "", MS_BIND)
            continue
        staged = f"{dev}/.pybuild-{inside.rsplit('/', 1)[1]}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
        libc.mount(staged, target, "", MS_BIND)
        os.unlink(staged)


def _extra(r: _Root, m: Mount) -> None:
    if m.type == "tmpfs":
        libc.mount(
            "tmpfs", r.ensure_dir(m.target), "tmpfs", MS_NOSUID | MS_NODEV, m.options or "mode=755"
        )
        return
    if m.source is None:
        raise ValueError(f"bind mount to {m.target} needs a source")
    src = str(m.source)
    target = r.ensure_dir(m.target) if os.path.isdir(src) else r.ensure_file(m.target)
    libc.mount(src, target, "", MS_BIND | MS_REC)
    if m.readonly:
        libc.mount("", target, "", MS_BIND | libc.MS_REMOUNT | MS_RDONLY | _flags_of(target))


def _flags_of(path: str) -> int:
    st = os.statvfs(path)
    return (
        (MS_NOSUID if st.f_flag & os.ST_NOSUID else 0)
        | (MS_NODEV if st.f_flag & os.ST_NODEV else 0)
        | (MS_NOEXEC if st.f_flag & os.ST_NOEXEC else 0)
    )


def _is_ro(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _mask_and_protect(r: _Root) -> None:
    for inside in MASKED_PATHS:
        p = str(r.root) + inside
        if os.path.isdir(p):
            libc.mount("tmpfs", p, "tmpfs", MS_RDONLY | _LOCKED)
        elif os.path.exists(p):
            libc.mount("/dev/null", p, "", MS_BIND)
    for inside in READONLY_PATHS:
        p = str(r.root) + inside
        if os.path.exists(p):
            libc.mount(p, p, "", MS_BIND | MS_REC)
            libc.mount("", p, "", MS_BIND | libc.MS_REMOUNT | MS_RDONLY | _flags_of(p))
