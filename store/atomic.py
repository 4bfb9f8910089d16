"""Atomic small-file writes for the store's layout files (index.json, oci-layout).

A temp file beside the target's store `tmp/` dir is written, fsynced, renamed over the
target, and the directory fsynced. The temp file is flock'ed while it is being written,
so fsck can tell a live writer's file (locked) from a crashed one's (unlocked).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

TMP_PREFIX = "ingest-"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# The store is private to its owner, as /var/lib/docker is to root: other users of
# the machine may not read its layers (an image may have baked a secret in).
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def locked_tempfile(tmp_dir: Path, suffix: str = "") -> tuple[int, Path]:
    """A new file in `tmp/` (mkstemp's flags: exclusive, 0600, no symlink followed),
    flock'ed LOCK_EX so fsck leaves it alone while we live. (Not `tempfile`: it imports
    shutil, and with it bz2 and lzma, ~6 ms on every run that writes a ref.)"""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        name = tmp_dir / f"{TMP_PREFIX}{os.urandom(8).hex()}{suffix}"
        try:
            fd = os.open(name, flags, 0o600)
            break
        except FileExistsError:
            continue
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, name


def atomic_write_bytes(target: Path, data: bytes, tmp_dir: Path, mode: int = PRIVATE_FILE) -> None:
    fd, tmp = locked_tempfile(tmp_dir, ".json")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.rename(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        os.close(fd)
    fsync_dir(target.parent)


def is_abandoned(path: Path) -> bool:
    """True when no live process holds the temp file's flock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
