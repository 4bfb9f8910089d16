"""Layer diff: an overlay upper dir -> a deterministic OCI layer tar, compressed, with
its diff_id and blob digest computed in the same streaming pass.

What the upper dir means (ARCHITECTURE §7):
- a char 0/0 device is a deletion -> empty file `.wh.NAME`;
- a dir with the opaque xattr -> the dir entry plus `DIR/.wh..wh..opq`;
- overlay bookkeeping xattrs (`*.overlay.*`) are dropped, others (security.capability,
  user.*) are kept as PAX `SCHILY.xattr.*` records;
- hard links become link entries to the first path in walk order;
- entries are emitted depth-first with names sorted bytewise, so the walk is stable.

Determinism: numeric ids, empty uname/gname, whole-second mtimes clamped to
`source_date_epoch` when given, gzip mtime 0 and fixed block cuts (store.compress).
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from store.compress import Sink, compressor
from store.errors import StoreError
from store.oci import tar as ts
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD
from store.whiteout import ROOT_FORMAT, OverlayFormat, is_overlay_whiteout, oci_whiteout_name

if TYPE_CHECKING:
    from typing import TypedDict

    from store.blobs import BlobStore

    class _Owner(TypedDict):
        """The `store.oci.tar.header` keywords every entry of an upper dir shares."""

        uid: int
        gid: int
        mtime: int


MEDIA_TYPES = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, None: OCI_LAYER}
_FLUSH = 1 << 20
_SKIP_XATTRS = ("security.selinux",)


@dataclass(frozen=True)
class DiffOptions:
    """How a snapshot's changes are written as a layer."""

    compression: str | None = "gzip"
    source_date_epoch: int | None = None
    exclude: tuple[str, ...] = ()  # paths as seen in the container, e.g. "/etc/hosts"
    fmt: OverlayFormat = ROOT_FORMAT
    threads: int | None = None
    level: int | None = None
    # Also give the upper dir the (clamped, whole-second) mtimes written to the tar,
    # so a snapshot reused from it is identical to the layer unpacked elsewhere.
    normalize_source: bool = False

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.compression or None]


@dataclass(frozen=True)
class LayerInfo:
    """What one diff produced: diff_id over the tar, digest/size over the blob."""

    diff_id: Digest
    digest: Digest
    size: int
    uncompressed_size: int
    media_type: str

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)


def _xattrs(path: str, fmt: OverlayFormat) -> tuple[dict[str, bytes], bool]:
    """(xattrs to keep, is_opaque_dir)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}, False
    keep: dict[str, bytes] = {}
    opaque = False
    for n in names:
        if fmt.is_overlay_xattr(n):
            if n == fmt.opaque_xattr:
                opaque = os.getxattr(path, n, follow_symlinks=False) == b"y"
            continue
        if n in _SKIP_XATTRS:
            continue
        try:
            keep[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            continue
    return keep, opaque


class _TarEmitter:
    """Walks the upper dir and yields tar bytes in ~1 MiB batches."""

    def __init__(self, upper: Path, opts: DiffOptions) -> None:
        self.upper = str(upper)
        self.opts = opts
        self.exclude = {e.strip("/") for e in opts.exclude if e.strip("/")}
        self.links: dict[tuple[int, int], str] = {}
        self.buf = bytearray()

    def _mtime(self, st: os.stat_result) -> int:
        m = int(st.st_mtime)
        sde = self.opts.source_date_epoch
        return min(m, sde) if sde is not None else m

    def chunks(self) -> Iterator[bytes | bytearray]:
        yield from self._walk(self.upper, "")
        self.buf += ts.END_OF_ARCHIVE
        yield self.buf

    def _walk(self, abs_dir: str, rel_dir: str) -> Iterator[bytes | bytearray]:
        with os.scandir(abs_dir) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
        for de in entries:
            rel = rel_dir + de.name
            if rel in self.exclude:
                continue
            yield from self._entry(de.path, rel, de.stat(follow_symlinks=False))
            if len(self.buf) >= _FLUSH:
                yield self.buf
                self.buf = bytearray()

    def _entry(self, path: str, rel: str, st: os.stat_result) -> Iterator[bytes | bytearray]:
        mode, fmt = st.st_mode, self.opts.fmt
        common: _Owner = {"uid": st.st_uid, "gid": st.st_gid, "mtime": self._mtime(st)}
        if self.opts.normalize_source and st.st_mtime_ns != common["mtime"] * 10**9:
            ns = common["mtime"] * 10**9
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
        if is_overlay_whiteout(st):
            self.buf += ts.header(oci_whiteout_name(rel), ts.REG, mode=0, **common)
            return
        xattrs, opaque = _xattrs(path, fmt)
        if stat.S_ISDIR(mode):
            self.buf += ts.header(rel + "/", ts.DIR, mode=mode, xattrs=xattrs, **common)
            if opaque:
                self.buf += ts.header(rel + "/.wh..wh..opq", ts.REG, mode=0, **common)
            yield from self._walk(path, rel + "/")
        elif stat.S_ISREG(mode):
            if st.st_nlink > 1:
                first = self.links.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    self.buf += ts.header(
                        rel, ts.LNK, mode=mode, linkname=first, xattrs=xattrs, **common
                    )
                    return
            self.buf += ts.header(rel, ts.REG, mode=mode, size=st.st_size, xattrs=xattrs, **common)
            yield from self._file(path, rel, st.st_size)
        elif stat.S_ISLNK(mode):
            self.buf += ts.header(
                rel, ts.SYM, mode=0o777, linkname=os.readlink(path), xattrs=xattrs, **common
            )
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            self.buf += ts.header(
                rel,
                ts.CHR if stat.S_ISCHR(mode) else ts.BLK,
                mode=mode,
                devmajor=os.major(st.st_rdev),
                devminor=os.minor(st.st_rdev),
                xattrs=xattrs,
                **common,
            )
        elif stat.S_ISFIFO(mode):
            self.buf += ts.header(rel, ts.FIFO, mode=mode, xattrs=xattrs, **common)
        # sockets cannot be archived; tar and docker skip them too

    def _file(self, path: str, rel: str, size: int) -> Iterator[bytes | bytearray]:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            left = size
            while left > 0:
                chunk = os.read(fd, min(left, _FLUSH))
                if not chunk:
                    raise StoreError(f"layer diff: {rel} shrank while being read")
                left -= len(chunk)
                if len(chunk) >= _FLUSH // 2:
                    if self.buf:
                        yield self.buf
                        self.buf = bytearray()
                    yield chunk
                else:
                    self.buf += chunk
        finally:
            os.close(fd)
        self.buf += ts.padding(size)


def tar_chunks(upper: Path, opts: DiffOptions = DiffOptions()) -> Iterator[bytes | bytearray]:
    """The uncompressed layer tar of `upper`, in chunks."""
    return _TarEmitter(upper, opts).chunks()


class _Counter:
    def __init__(self, out: Sink, hashing: bool) -> None:
        self.out = out
        self.hash = hashlib.sha256() if hashing else None
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.hash is not None:
            self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


def _stream(
    upper: Path, out: Sink, opts: DiffOptions, hash_blob: bool
) -> tuple[Digest, int, _Counter]:
    """Walk and read on this thread; hash and compress on another (both release
    the GIL), so tar generation overlaps with them."""
    blob = _Counter(out, hash_blob)
    comp = compressor(opts.compression, blob, threads=opts.threads, level=opts.level)
    diff_hash = hashlib.sha256()
    q: queue.Queue[bytes | bytearray | None] = queue.Queue(8)
    failed: list[BaseException] = []

    def consume() -> None:
        try:
            while (chunk := q.get()) is not None:
                diff_hash.update(chunk)
                comp.write(chunk)
            comp.close()
        except BaseException as e:
            failed.append(e)
            while q.get() is not None:  # keep the producer from blocking
                pass

    worker = threading.Thread(target=consume, name="layerdiff", daemon=True)
    worker.start()
    tar_size = 0
    try:
        for chunk in tar_chunks(upper, opts):
            if failed:
                break
            tar_size += len(chunk)
            q.put(chunk)
    finally:
        q.put(None)
        worker.join()
    if failed:
        raise failed[0]
    return Digest("sha256", diff_hash.hexdigest()), tar_size, blob


def write_layer(upper: Path, out: Sink, opts: DiffOptions = DiffOptions()) -> LayerInfo:
    """Stream the layer blob of `upper` into `out`; one pass gives diff_id and digest."""
    diff_id, tar_size, blob = _stream(upper, out, opts, True)
    assert blob.hash is not None
    return LayerInfo(
        diff_id, Digest("sha256", blob.hash.hexdigest()), blob.size, tar_size, opts.media_type
    )


def diff_to_store(upper: Path, blobs: BlobStore, opts: DiffOptions = DiffOptions()) -> LayerInfo:
    """Diff `upper` straight into the blob store, whose writer hashes the blob as it
    streams (so the compressed bytes are hashed once)."""
    with blobs.writer(opts.media_type) as w:
        diff_id, tar_size, blob = _stream(upper, w, opts, False)
        desc = w.commit()
    return LayerInfo(diff_id, desc.digest, desc.size, tar_size, opts.media_type)
