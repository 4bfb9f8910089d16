"""`pybuild import ROOTFS.tar NAME`: a one-layer image from a rootfs tar, as
`docker import` makes it.

One streaming pass: the (possibly compressed) input is decompressed, and every byte
flows through a tee into (a) a sha256 for the diff_id and (b) a gzip compressor feeding
a `BlobWriter`, while `tarfile` reads the same bytes to validate the entries. The layer
is the input tar byte for byte (like docker), gzip-compressed.

The rootfs is hostile: absolute names, `..` components and hard links that leave the
root are refused before anything is committed. The store's unpacker checks the rest
(symlink traversal, devices, sizes) when the layer is unpacked.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import tarfile
import time
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import zstandard

from store.compress import ParallelGzipWriter
from store.errors import InvalidArchive, UnsafeArchiveEntry
from store.image import write_image
from store.meta import LayerRecord, record_layer
from store.oci.config import ContainerConfig, History, ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import OCI_LAYER_GZIP
from store.oci.platform import host_platform
from store.readers.members import BoundedTarInfo

if TYPE_CHECKING:
    from store.blobs import BlobWriter
    from store.layout import Store

CHUNK = 1 << 20


_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
)


class _Peek:
    """A stream that lets us look at its first bytes without consuming them."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._head = raw.read(6)

    @property
    def head(self) -> bytes:
        return self._head

    def read(self, n: int = -1) -> bytes:
        n = n if n and n > 0 else CHUNK
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._raw.read(n)


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    p = _Peek(raw)
    h = p.head
    # _Peek only has read(): the decompressors read their source forward-only, and
    # _Tee reads the result the same way
    f = cast("IO[bytes]", p)
    if h[:2] == b"\x1f\x8b":
        # typeshed's GzipFile is a BufferedIOBase, which is not nominally an IO[bytes]
        return cast("IO[bytes]", gzip.GzipFile(fileobj=f, mode="rb"))
    if h[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(f)
    if h[:3] == b"BZh":
        return bz2.BZ2File(f)
    if h[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(f)
    return f


class _Tee:
    """Read from `src`; hash (diff_id), gzip and store every byte read."""

    def __init__(self, src: IO[bytes], out: BlobWriter) -> None:
        self._src = src
        self._out = out
        self.diff = hashlib.sha256()
        self.size = 0
        # store.compress's pigz-like writer: one gzip member, blocks deflated on threads,
        # byte-identical output for any thread count (mtime 0 in the header).
        self._z = ParallelGzipWriter(out)

    def read(self, n: int = -1) -> bytes:
        chunk = self._src.read(n if n and n > 0 else CHUNK)
        if chunk:
            self.diff.update(chunk)
            self.size += len(chunk)
            self._z.write(chunk)
        return chunk

    def finish(self) -> None:
        while self.read(CHUNK):
            pass
        self._z.close()


def check_member(ti: tarfile.TarInfo) -> None:
    """Refuse names that would land outside the root (the minimum for hostile input)."""
    unsafe = ti.name
    if unsafe.startswith("/"):
        raise UnsafeArchiveEntry(unsafe, "absolute path")
    if ".." in unsafe.split("/"):
        raise UnsafeArchiveEntry(unsafe, "'..' component")
    if "\x00" in unsafe:
        raise UnsafeArchiveEntry(unsafe, "NUL in name")
    if ti.islnk():
        target = posixpath.normpath(ti.linkname)
        if target.startswith("/") or target == ".." or target.startswith("../"):
            raise UnsafeArchiveEntry(unsafe, f"hard link leaves the root: {ti.linkname!r}")


def _now() -> str:
    sde = os.environ.get("SOURCE_DATE_EPOCH", "")
    ts = int(sde) if sde.isdigit() else time.time()
    return datetime.fromtimestamp(ts, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ" if not sde else "%Y-%m-%dT%H:%M:%SZ"
    )


def import_rootfs(
    store: Store,
    src: Path | str | IO[bytes],
    name: str | None = None,
    *,
    config: ContainerConfig | None = None,
    message: str = "",
    labels: Mapping[str, str] | None = None,
) -> Descriptor:
    """Import a rootfs tar as a one-layer image, tag it `name` (if given)."""
    path = str(src) if isinstance(src, (str, Path)) else "<stream>"
    with store.lease(labels=f"import {path}") as lease:
        opened = open(src, "rb") if isinstance(src, (str, Path)) else None
        try:
            # src is a stream whenever it was not a path opened above
            raw = opened or cast("IO[bytes]", src)
            with store.blobs.writer(OCI_LAYER_GZIP) as w:
                tee = _Tee(_decompressed(raw), w)
                try:
                    # the stream mode ("r|") only calls read() on its fileobj
                    stream = cast("IO[bytes]", tee)
                    with tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo) as tf:
                        count = 0
                        for ti in tf:
                            check_member(ti)
                            count += 1
                    tee.finish()  # trailing blocks, and the compressed stream's checks
                except _READ_ERRORS as e:
                    raise InvalidArchive(path, f"not a readable tar: {e}") from None
                if count == 0:
                    raise InvalidArchive(path, "the tar has no entries")
                layer = w.commit()
        finally:
            if opened is not None:
                opened.close()
        lease.add("blob", str(layer.digest))
        diff_id = Digest("sha256", tee.diff.hexdigest())
        record_layer(
            store.db(), LayerRecord(diff_id, layer.digest, layer.media_type, layer.size, tee.size)
        )
        created = _now()
        cc = config or ContainerConfig()
        if labels:
            cc = ContainerConfig(**{**cc.__dict__, "labels": {**(cc.labels or {}), **labels}})
        plat = host_platform()
        cfg = ImageConfig(
            architecture=plat.architecture,
            os="linux",
            config=cc,
            diff_ids=(diff_id,),
            created=created,
            history=(
                History(
                    created=created,
                    created_by="pybuild import",
                    comment=message or f"Imported from {Path(path).name}",
                ),
            ),
        )
        return write_image(store, cfg, [layer], tags=[name] if name else ())
