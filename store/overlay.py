"""Overlay mounts through the `mount(2)` syscall (ctypes), and the option string.

The kernel takes the whole option string in one page, so a deep stack of lowerdirs
needs short names: snapshots are reached through `l/<LINK>` symlinks (12 characters)
and, when absolute paths would not fit, the mount is made with paths relative to the
snapshots dir after a `chdir` there, as docker's overlay2 driver does. The chdir is
process-wide, so it is serialised by a lock and undone at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from dataclasses import dataclass

from store.errors import MountError

PAGE = os.sysconf("SC_PAGE_SIZE")
MNT_DETACH = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_cwd_lock = threading.Lock()


def _escape(path: str) -> str:
    # overlayfs splits lowerdir on ':' and options on ','; backslash escapes both
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


@dataclass(frozen=True)
class OverlaySpec:
    """Everything needed to (re)create one overlay mount; `cwd` is the directory
    the relative paths are relative to (None when they are absolute)."""

    lowers: tuple[str, ...]  # topmost first
    upper: str | None
    work: str | None
    cwd: str | None = None
    userxattr: bool = False

    def options(self) -> str:
        opts = ["lowerdir=" + ":".join(_escape(p) for p in self.lowers)]
        if self.upper is not None and self.work is not None:
            opts += [f"upperdir={_escape(self.upper)}", f"workdir={_escape(self.work)}"]
        if self.userxattr:
            opts.append("userxattr")
        else:
            # the upper dir must stay a plain diff: no redirects, no metacopy, no index
            opts += ["index=off", "redirect_dir=off", "metacopy=off"]
        return ",".join(opts)

    def fits(self) -> bool:
        return len(self.options().encode()) < PAGE


def mount(
    source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    rc = _libc.mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data is not None else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise MountError(target, err, f"{os.strerror(err)} (options {len(data or '')} bytes)")


# Filesystems overlayfs refuses as an upper dir (no d_type/xattrs/tmpfile, or itself).
_NO_UPPER_FS = {
    "overlay",
    "aufs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "vfat",
    "exfat",
    "ntfs",
    "ntfs3",
    "fuseblk",
    "9p",
    "ecryptfs",
}


def filesystem_type(path: str) -> str:
    """The type of the mount that holds `path` (longest mountinfo prefix)."""
    real, best, fstype = os.path.realpath(path), -1, ""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4].encode().decode("unicode_escape")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best:
                best, fstype = len(mnt), fields[fields.index("-") + 1]
    return fstype


def mount_overlay(target: str, spec: OverlaySpec) -> None:
    try:
        _mount_overlay(target, spec)
    except MountError as e:  # say why, when the store's filesystem is the cause
        upper = os.path.join(spec.cwd or "", spec.upper or "")
        fstype = filesystem_type(upper) if spec.upper and e.errno == errno.EINVAL else ""
        if e.errno == errno.ENODEV:
            raise MountError(
                target,
                e.errno,
                "overlayfs is not supported by this kernel "
                "(modprobe overlay, or CONFIG_OVERLAY_FS)",
            ) from None
        if fstype in _NO_UPPER_FS:
            raise MountError(
                target,
                e.errno,
                f"overlayfs is not supported on the store's "
                f"filesystem ({fstype}): set PYBUILD_ROOT to a directory on "
                "ext4, xfs, btrfs or tmpfs",
            ) from None
        raise


def _mount_overlay(target: str, spec: OverlaySpec) -> None:
    data = spec.options()
    if len(data.encode()) >= PAGE:
        raise MountError(
            target,
            errno.E2BIG,
            f"overlay options are {len(data)} bytes; the limit is one page ({PAGE})",
        )
    if spec.cwd is None:
        mount("overlay", target, "overlay", 0, data)
        return
    target = os.path.abspath(target)
    with _cwd_lock:
        old = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(spec.cwd)
            mount("overlay", target, "overlay", 0, data)
        finally:
            os.fchdir(old)
            os.close(old)


def umount(target: str, *, detach_on_busy: bool = True) -> None:
    if _libc.umount2(os.fsencode(target), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EINVAL:  # not a mount point (already gone)
        return
    if (
        err == errno.EBUSY
        and detach_on_busy
        and _libc.umount2(os.fsencode(target), MNT_DETACH) == 0
    ):
        return
    raise MountError(target, err, f"umount: {os.strerror(err)}")


def is_mounted(target: str) -> bool:
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            mnt = line.split(" ", 5)[4].encode().decode("unicode_escape")
            if mnt == real:
                return True
    return False
