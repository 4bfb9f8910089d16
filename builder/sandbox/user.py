"""USER resolution against the image's own /etc/passwd and /etc/group (never the
host's), as Docker does: `name`, `uid`, `name:group`, `uid:gid`; supplementary
groups from /etc/group; HOME from passwd. Image files are untrusted: paths are
resolved inside the rootfs without following links out of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from builder.sandbox.errors import SandboxError
from builder.unixdb import read_rows

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class UnknownUser(SandboxError):
    """USER names a user or group the image does not have."""


@dataclass(frozen=True)
class Identity:
    """The user a RUN runs as, resolved against the image's passwd and group."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def scoped_path(root: Path, unsafe_path: str) -> Path:
    """`unsafe_path` resolved inside `root`: `..` and symlinks never leave it."""
    parts: list[str] = []
    todo = [p for p in unsafe_path.split("/") if p]
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        cand = root.joinpath(*parts, part)
        if cand.is_symlink():
            hops += 1
            if hops > 40:
                raise SandboxError(f"too many symlinks resolving {unsafe_path}")
            target = os.readlink(cand)
            if target.startswith("/"):
                parts = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        parts.append(part)
    return root.joinpath(*parts)


def _read_db(root: Path, name: str) -> list[list[str]]:
    return read_rows(scoped_path(root, name))


def resolve(root: Path, unsafe_user: str) -> Identity:
    """Resolve a USER value for the image at `root`."""
    spec = unsafe_user.strip() or "0"
    user_part, _, group_part = spec.partition(":")
    passwd, group = _read_db(root, "/etc/passwd"), _read_db(root, "/etc/group")
    entry = None
    for row in passwd:
        if len(row) >= 4 and (row[0] == user_part or (user_part.isdigit() and row[2] == user_part)):
            entry = row
            break
    if entry is None and not user_part.isdigit():
        raise UnknownUser(f"unable to find user {user_part}: no matching entries in passwd file")
    uid = int(entry[2]) if entry else int(user_part)
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0 if entry is None else 0
    home = entry[5] if entry and len(entry) > 5 and entry[5] else "/"
    if group_part:
        gid = _group_id(group, group_part)
        groups: tuple[int, ...] = ()
    else:
        name = entry[0] if entry else None
        extra = sorted(
            {
                int(r[2])
                for r in group
                if len(r) >= 4 and r[2].isdigit() and name and name in r[3].split(",")
            }
        )
        groups = tuple(g for g in extra if g != gid)
    return Identity(uid, gid, (gid, *groups) if not group_part else (gid,), home)


def _group_id(group: list[list[str]], unsafe_group: str) -> int:
    for row in group:
        if len(row) >= 3 and (
            row[0] == unsafe_group or (unsafe_group.isdigit() and row[2] == unsafe_group)
        ):
            return int(row[2])
    if unsafe_group.isdigit():
        return int(unsafe_group)
    raise UnknownUser(f"unable to find group {unsafe_group}: no matching entries in group file")


def process_env(env: tuple[tuple[str, str], ...], ident: Identity) -> dict[str, str]:
    """The command's environment: PATH default, HOME from passwd, then the spec's env."""
    out = {"PATH": DEFAULT_PATH, "HOME": ident.home}
    out.update(dict(env))
    if not out.get("PATH"):
        out["PATH"] = DEFAULT_PATH
    return out
