"""The values of COPY/ADD's permission flags: `--chown=user[:group]` resolved against
the TARGET rootfs's /etc/passwd and /etc/group, as BuildKit's file op does it, and
`--chmod` (octal or symbolic).

Owns: a small passwd/group parser, `resolve_chown`, `parse_chmod`/`SymbolicMode`. The rootfs is untrusted (it
comes from an image): the files are found by scoped resolution (a symlinked
/etc/passwd resolves inside the rootfs, never on the host) and read with a size bound.

Rules (BuildKit readUser): a numeric user without group gives gid = uid; a user name
without group gives the user's primary gid; names not found are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from builder.context import CopyError, SourceTree, TooManyLinks
from builder.unixdb import read_rows

__all__ = [
    "ChownError",
    "Owner",
    "SymbolicMode",
    "lookup_group",
    "lookup_user",
    "parse_chmod",
    "resolve_chown",
]


class ChownError(CopyError):
    pass


@dataclass(frozen=True)
class Owner:
    """A numeric owner (uid:gid), as --chown and USER resolve to."""

    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


def _read_db(rootfs: str | Path, rel: str) -> list[list[str]]:
    tree = SourceTree(rootfs, is_context=False)
    try:
        return read_rows(tree.abs(tree.resolve(rel)))
    except TooManyLinks:
        return []


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
            raise ChownError(
                f"unable to find user {user}: no matching entries in passwd file", instruction
            )
        uid, gid = found
    else:
        gid = uid
    if sep:
        gid = _num(group)
        if gid is None:
            gid = lookup_group(rootfs, group)
            if gid is None:
                raise ChownError(
                    f"unable to find group {group}: no matching entries in group file", instruction
                )
    return Owner(uid, gid)


# --- --chmod ----------------------------------------------------------------------


def parse_chmod(unsafe_text: str, instruction: str = "COPY") -> int | SymbolicMode:
    """--chmod: octal (755, 0644, 4755), or symbolic like chmod(1) (u+x,go=rX), which
    BuildKit accepts since Dockerfile 1.14."""
    text = unsafe_text or ""
    if re.fullmatch(r"0?[0-7]{1,4}", text):
        return int(text, 8)
    clauses = []
    for part in text.split(","):
        m = re.fullmatch(_CLAUSE, part)  # compiled on first use (re caches it), not at import
        if not m:
            raise CopyError(
                f"invalid --chmod value {unsafe_text!r}: expected an octal or "
                "symbolic (u+x,go-w) mode",
                instruction,
            )
        who = 0
        for c in m.group(1) or "a":
            who |= _WHO[c]
        for op, perms in re.findall(_ACTION, m.group(2)):
            clauses.append((who, op, perms))
    return SymbolicMode(text, tuple(clauses))


_CLAUSE = r"([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)"
_ACTION = r"([-+=])([ugo]|[rwxXst]*)"
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


@dataclass(frozen=True)
class SymbolicMode:
    """A parsed symbolic --chmod; applied per entry to its source mode (umask 0, as
    BuildKit clears it)."""

    text: str
    clauses: tuple[tuple[int, str, str], ...]

    def apply(self, mode: int, is_dir: bool) -> int:
        for who, op, perms in self.clauses:
            bits = 0
            for p in perms:
                if p in "ugo":
                    v = (mode >> {"u": 6, "g": 3, "o": 0}[p]) & 7
                    bits |= v << 6 | v << 3 | v
                elif p == "X":
                    bits |= 0o111 if is_dir or mode & 0o111 else 0
                else:
                    bits |= _PERM[p]
            bits &= who
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                mode = (mode & ~who) | bits
        return mode & 0o7777

    def __str__(self) -> str:
        return self.text
