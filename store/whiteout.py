"""Whiteouts as named concepts, in both of their forms.

- OCI form (inside layer tars): an empty file `.wh.NAME` deletes NAME from the layers
  below; `.wh..wh..opq` in a directory hides all of that directory's lower children.
- Overlay form (inside snapshot dirs): a char 0/0 device at NAME, and an opaque
  directory marked with the `<prefix>opaque` xattr = "y", where the prefix is
  `trusted.overlay.` as root, or `user.overlay.` for a rootless (`userxattr`) mount.

`OverlayFormat` is the parameter that says which xattr namespace a snapshot uses.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from store import userns

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
# Other `.wh..wh.` names are AUFS metadata (plnk, orph); layers must not carry them.
WH_META_PREFIX = ".wh..wh."


@dataclass(frozen=True)
class OverlayFormat:
    """Which overlay xattr namespace a snapshot tree uses."""

    xattr_prefix: str = "trusted.overlay."

    @property
    def opaque_xattr(self) -> str:
        return self.xattr_prefix + "opaque"

    @property
    def userxattr(self) -> bool:
        return self.xattr_prefix.startswith("user.")

    def is_overlay_xattr(self, name: str) -> bool:
        """Overlay bookkeeping xattrs (origin, impure, redirect, opaque...) never go
        into a layer; either namespace counts, so a rootless upper is clean too."""
        return name.startswith(("trusted.overlay.", "user.overlay."))


ROOT_FORMAT = OverlayFormat("trusted.overlay.")
ROOTLESS_FORMAT = OverlayFormat("user.overlay.")


def default_format() -> OverlayFormat:
    # uid 0 of a user namespace (rootless pybuild) cannot set trusted.* xattrs either
    return ROOTLESS_FORMAT if userns.rootless() else ROOT_FORMAT


def is_overlay_whiteout(st: os.stat_result) -> bool:
    """A char device 0/0 is how overlayfs records a deletion in an upper dir."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str | int, fmt: OverlayFormat) -> bool:
    try:
        return os.getxattr(path, fmt.opaque_xattr, follow_symlinks=False) == b"y"
    except OSError:
        return False


def make_overlay_whiteout(name: str, dir_fd: int) -> None:
    os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)


def mark_opaque(fd: int, fmt: OverlayFormat) -> None:
    os.setxattr(fd, fmt.opaque_xattr, b"y")


def oci_whiteout_name(name: str) -> str:
    """`dir/name` -> `dir/.wh.name` (the OCI form of a deleted path)."""
    head, _, base = name.rpartition("/")
    return f"{head}/{WH_PREFIX}{base}" if head else WH_PREFIX + base


def oci_opaque_name(dirname: str) -> str:
    return f"{dirname.rstrip('/')}/{WH_OPAQUE}" if dirname.strip("/") else WH_OPAQUE


def classify(basename: str) -> tuple[str, str]:
    """What an archive entry's basename means: ("opaque", ""), ("whiteout", target)
    or ("file", basename). Raises ValueError for a malformed whiteout."""
    if basename == WH_OPAQUE:
        return "opaque", ""
    if basename.startswith(WH_META_PREFIX):
        raise ValueError(f"AUFS metadata entry {basename!r} is not allowed in a layer")
    if basename.startswith(WH_PREFIX):
        target = basename[len(WH_PREFIX) :]
        if not target:
            raise ValueError("whiteout '.wh.' names no file")
        if target in (".", "..") or "/" in target or "\0" in target:
            raise ValueError(f"whiteout of {target!r} is not allowed")
        return "whiteout", target
    return "file", basename
