"""Local archives for ADD: recognised by content (tar, optionally gzip, bzip2, xz or
zstd compressed; the name does not matter, as moby's isArchivePath), and extracted
into a directory through the store's hostile-archive unpacker (`store.unpack`)."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import zstandard

from builder.context import CopyError
from store.errors import StoreError
from store.unpack import UnpackOptions, unpack_tar

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]


def _decompressed(f: IO[bytes]) -> IO[bytes]:
    head = f.read(6)
    f.seek(0)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "gzip":
                # typeshed's GzipFile is a BufferedIOBase, not nominally an IO[bytes]
                return cast("IO[bytes]", gzip.GzipFile(fileobj=f))
            if kind == "bzip2":
                return bz2.BZ2File(f)
            if kind == "xz":
                return lzma.LZMAFile(f)
            return zstandard.ZstdDecompressor().stream_reader(f)
    return f


def _open_regular(path: str) -> IO[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CopyError(f"not a regular file: {path}", "ADD")
    return os.fdopen(fd, "rb")


def is_archive(path: str) -> bool:
    """moby isArchivePath: decompresses and reads one valid tar header."""
    try:
        with _open_regular(path) as f:
            r = _decompressed(f)
            block = r.read(512)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zstandard.ZstdError, CopyError):
        return False
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.TarError:
        return False
    return True


def extract_archive(path: str, dest_dir: str, instruction: str = "ADD") -> int:
    """Extract a local archive into the existing real directory `dest_dir` with the
    store's safe unpacker. Returns the entry count."""
    try:
        with _open_regular(path) as f:
            r = _decompressed(f)
            stats = unpack_tar(r, Path(dest_dir), UnpackOptions(rootless=os.geteuid() != 0))
    except StoreError as e:
        raise CopyError(str(e), instruction) from None
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as e:
        raise CopyError(f"failed to extract {os.path.basename(path)}: {e}", instruction) from None
    return stats.entries


@contextlib.contextmanager
def staging_dir(beside: str) -> Iterator[str]:
    """A fresh directory next to `beside` (so a later rename or copy stays on its
    filesystem), else in the system temp dir; removed with what is in it."""
    try:
        d = tempfile.mkdtemp(
            prefix=".pybuild-add-", dir=os.path.dirname(beside.rstrip("/")) or None
        )
    except OSError:
        d = tempfile.mkdtemp(prefix="pybuild-add-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
