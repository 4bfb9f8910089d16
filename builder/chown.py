"""`--chown=user[:group]` resolution against the TARGET rootfs's /etc/passwd and
/etc/group, as BuildKit's file op does it.

Owns: a small passwd/group parser and `resolve_chown`. The rootfs is untrusted (it
comes from an image): the files are found by scoped resolution (a symlinked
/etc/passwd resolves inside the rootfs, never on the host) and read with a size bound.

Rules (BuildKit readUser): a numeric user without group gives gid = uid; a user name
without group gives the user's primary gid; names not found are errors.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from builder.context import CopyError, SourceTree, TooManyLinks

MAX_DB_BYTES = 4 << 20


class ChownError(CopyError):
    pass


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


def _read_db(rootfs: str | Path, rel: str) -> list[list[str]]:
    tree = SourceTree(rootfs, is_context=False)
    try:
        path = tree.abs(tree.resolve(rel))
    except TooManyLinks:
        return []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = os.read(fd, MAX_DB_BYTES)
    finally:
        os.close(fd)
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _num(text: str) -> int | None:
    if text.isdigit():
        n = int(text)
        if n < 2**32:
            return n
    return None


def lookup_user(rootfs: str | Path, name: str) -> tuple[int, int] | None:
    for row in _read_db(rootfs, "etc/passwd"):
        if len(row) >= 4 and row[0] == name and _num(row[2]) is not None:
            return int(row[2]), _num(row[3]) or 0
    return None


def lookup_group(rootfs: str | Path, name: str) -> int | None:
    for row in _read_db(rootfs, "etc/group"):
        if len(row) >= 3 and row[0] == name and _num(row[2]) is not None:
            return int(row[2])
    return None


def resolve_chown(rootfs: str | Path, unsafe_spec: str, instruction: str = "COPY") -> Owner:
    """`user`, `uid`, `user:group`, `uid:gid`, mixed; names looked up in `rootfs`."""
    user, sep, group = unsafe_spec.partition(":")
    if not user or (sep and not group):
        raise ChownError(f"invalid --chown value {unsafe_spec!r}", instruction)
    uid = _num(user)
    gid: int | None
    if uid is None:
        found = lookup_user(rootfs, user)
        if found is None:
            raise ChownError(f"unable to find user {user}: no matching entries in passwd file",
                             instruction)
        uid, gid = found
    else:
        gid = uid
    if sep:
        gid = _num(group)
        if gid is None:
            gid = lookup_group(rootfs, group)
            if gid is None:
                raise ChownError(
                    f"unable to find group {group}: no matching entries in group file",
                    instruction)
    return Owner(uid, gid)
