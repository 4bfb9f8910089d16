"""Which user namespace this process is in, read from /proc/self (never cached: a
rootless pybuild enters its namespace after start-up, see builder.rootless).

A rootless pybuild runs as uid 0 of its own user namespace: it may chown only to ids
its maps cover, may not make device nodes (except overlay's 0/0 whiteouts), and its
overlay mounts need `userxattr` (`user.overlay.*` xattrs, not `trusted.overlay.*`)."""

from __future__ import annotations

import os

_INITIAL = (0, 0, 4294967295)


def _ranges(kind: str) -> list[tuple[int, int, int]]:
    """(inside, outside, count) rows of /proc/self/{uid,gid}_map."""
    try:
        with open(f"/proc/self/{kind}_map", encoding="ascii") as f:
            return [
                (int(a), int(b), int(c)) for a, b, c in (line.split() for line in f if line.strip())
            ]
    except OSError:
        return [_INITIAL]


def in_user_namespace() -> bool:
    """True in any user namespace but the initial one (whose map is the identity)."""
    return _ranges("uid") != [_INITIAL]


def rootless() -> bool:
    """True when this process lacks real root: a non-root user, or uid 0 in a user
    namespace (which owns no device and cannot set trusted.* xattrs)."""
    return os.geteuid() != 0 or in_user_namespace()
