"""Atomic small-file writes for the store's layout files (index.json, oci-layout).

A temp file beside the target's store `tmp/` dir is written, fsynced, renamed over the
target, and the directory fsynced. The temp file is flock'ed while it is being written,
so fsck can tell a live writer's file (locked) from a crashed one's (unlocked).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

TMP_PREFIX = "ingest-"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def locked_tempfile(tmp_dir: Path, suffix: str = "") -> tuple[int, Path]:
    """mkstemp in `tmp_dir`, flock'ed LOCK_EX so fsck leaves it alone while we live."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix, dir=tmp_dir)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, Path(name)


def atomic_write_bytes(target: Path, data: bytes, tmp_dir: Path, mode: int = 0o644) -> None:
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
