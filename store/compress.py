"""Layer compression on threads, and decompression chosen by sniffing magic bytes.

- `ParallelGzipWriter` does what pigz does, but emits ONE valid gzip member: the input
  is cut into fixed blocks, each deflated on a worker thread (zlib releases the GIL)
  with the previous 32 KiB as its dictionary and ended by Z_SYNC_FLUSH; the CRC runs
  over the input in order. Block boundaries depend only on the data, so the output is
  byte-identical for any thread count.
- zstd uses `zstandard`'s own worker threads (multi-threaded mode is deterministic for
  any worker count >= 1, so we always run in that mode).
- `open_decompressed(stream)` sniffs gzip / zstd / plain tar and returns a reader whose
  decompression runs one chunk ahead on a thread, so unpacking overlaps with it.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Protocol, cast

import zstandard

from store.errors import InvalidArchive
from store.oci.digest import Reader

GZIP_BLOCK = 1 << 20
_DICT = 32 * 1024
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # mtime 0, OS unknown
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


_PROBE = 4096


def _incompressible(block: bytes) -> bool:
    """True when four 4 KiB samples of the block (start, thirds, end) do not shrink
    at level 1: random or already-compressed data. Such a block is emitted as stored
    deflate blocks (as zstd emits raw blocks): level 6 gives the same size there but
    spends ~8x the CPU searching. The choice depends only on the block, so the
    output stays identical for any thread count."""
    n = len(block)
    if n < 4 * _PROBE:
        return False
    c = zlib.compressobj(1, zlib.DEFLATED, -15, 9)
    got = sum(
        len(c.compress(block[off : off + _PROBE]))
        for off in ((n - _PROBE) * i // 3 for i in range(4))
    )
    got += len(c.flush(zlib.Z_SYNC_FLUSH))
    return got > 4 * _PROBE * 0.98


def _deflate_block(block: bytes, zdict: bytes, level: int) -> bytes:
    if level > 0 and _incompressible(block):
        level = 0
    c = (
        zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
        if zdict
        else zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    )
    return c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """A write-only gzip stream compressed in fixed blocks on `threads` threads."""

    def __init__(
        self, out: Sink, *, level: int = 6, threads: int | None = None, block_size: int = GZIP_BLOCK
    ) -> None:
        self._out = out
        self._level = level
        self._block = block_size
        self._threads = threads or default_threads()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="gzip")
        self._pending: deque[Future[bytes]] = deque()
        self._buf = bytearray()
        self._prev = b""
        self._crc = 0
        self._size = 0
        self._closed = False
        out.write(_GZIP_HEADER)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buf += data
        while len(self._buf) >= self._block:
            self._submit(bytes(self._buf[: self._block]))
            del self._buf[: self._block]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._pending.append(self._pool.submit(_deflate_block, block, self._prev, self._level))
        self._prev = block[-_DICT:]
        while self._pending and (len(self._pending) > 2 * self._threads or self._pending[0].done()):
            self._out.write(self._pending.popleft().result())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._buf:
                self._submit(bytes(self._buf))
                self._buf.clear()
            while self._pending:
                self._out.write(self._pending.popleft().result())
            self._out.write(b"\x03\x00")  # an empty final fixed-Huffman block
            self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


class _ZstdWriter:
    def __init__(self, out: Sink, *, level: int = 3, threads: int | None = None) -> None:
        cctx = zstandard.ZstdCompressor(
            level=level, threads=max(1, threads or default_threads()), write_checksum=True
        )
        # stream_writer keeps zstd's workers busy; compressobj measured ~1.5x slower
        # the writer only calls write() (and flush() when present) on `out`
        self._w = cctx.stream_writer(cast("IO[bytes]", out), closefd=False, write_size=1 << 20)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._w.write(data)
        return len(data)

    def close(self) -> None:
        self._w.flush(zstandard.FLUSH_FRAME)


class _Plain:
    def __init__(self, out: Sink) -> None:
        self._out = out

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._out.write(data)
        return len(data)

    def close(self) -> None:
        pass


def compressor(
    kind: str | None, out: Sink, *, threads: int | None = None, level: int | None = None
) -> ParallelGzipWriter | _ZstdWriter | _Plain:
    """A writer with write()/close() that compresses into `out` ("gzip", "zstd", None)."""
    if kind == "gzip":
        return ParallelGzipWriter(out, level=6 if level is None else level, threads=threads)
    if kind == "zstd":
        return _ZstdWriter(out, level=3 if level is None else level, threads=threads)
    if kind in (None, "", "none"):
        return _Plain(out)
    raise ValueError(f"unknown compression {kind!r}: want gzip, zstd or none")


# --- decompression ---------------------------------------------------------------


def _gzip_chunks(first: bytes, stream: Reader) -> Iterator[bytes]:
    """Inflate every gzip member in turn; output is bounded per call (gzip bombs)."""
    d = zlib.decompressobj(31)
    pending = first
    while True:
        if not pending:
            pending = stream.read(1 << 20)
            if not pending:
                if not d.eof:
                    raise InvalidArchive("<gzip>", "truncated gzip stream")
                return
        if d.eof:
            if not pending.strip(b"\0"):
                pending = b""
                continue
            if not GZIP_MAGIC.startswith(pending[:2]):
                raise InvalidArchive("<gzip>", "trailing garbage after the gzip stream")
            d = zlib.decompressobj(31)
        out = d.decompress(pending, 4 << 20)
        if out:
            yield out
        pending = d.unconsumed_tail or (d.unused_data if d.eof else b"")


class _Prefixed:
    """`first` then the rest of `stream`, as one readable."""

    def __init__(self, first: bytes, stream: Reader) -> None:
        self._first = first
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._first:
            out, self._first = self._first, b""
            return out
        return self._stream.read(n)


def _zstd_chunks(first: bytes, stream: Reader) -> Iterator[bytes]:
    # stream_reader bounds each output chunk (decompressobj would inflate a whole
    # input chunk at once: hundreds of MB for a highly compressible layer)
    # the reader only calls read() on its source, which is all _Prefixed has
    source = cast("IO[bytes]", _Prefixed(first, stream))
    reader = zstandard.ZstdDecompressor().stream_reader(
        source, read_size=1 << 20, read_across_frames=True, closefd=False
    )
    while chunk := reader.read(1 << 20):
        yield chunk


def _plain_chunks(first: bytes, stream: Reader) -> Iterator[bytes]:
    yield first
    while chunk := stream.read(1 << 20):
        yield chunk


class PrefetchReader:
    """A file-like `read(n)` over chunks produced on a background thread. With a
    `hasher`, the produced (decompressed) bytes are hashed on that thread too."""

    def __init__(
        self, produce: Callable[[], Iterator[bytes]], depth: int = 8, hasher: Any = None
    ) -> None:
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)
        self._stop = threading.Event()
        self._buf = memoryview(b"")
        self._eof = False
        self.hasher = hasher
        self._thread = threading.Thread(target=self._run, args=(produce,), daemon=True)
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[bytes]]) -> None:
        try:
            for chunk in produce():
                if self._stop.is_set():
                    return
                if chunk:
                    if self.hasher is not None:
                        self.hasher.update(chunk)
                    self._q.put(chunk)
            self._q.put(None)
        except BaseException as e:  # handed to the reader, which re-raises it
            self._q.put(e)

    def read_view(self, n: int = -1) -> memoryview:
        """Like read() but without a copy: a view valid until the next call."""
        while not self._buf and not self._eof:
            item = self._q.get()
            if item is None:
                self._eof = True
            elif isinstance(item, BaseException):
                self._eof = True
                if isinstance(item, zlib.error | zstandard.ZstdError):
                    raise InvalidArchive("<compressed stream>", str(item)) from item
                raise item
            else:
                self._buf = memoryview(item)
        if n is None or n < 0:
            n = len(self._buf)
        out = self._buf[:n]
        self._buf = self._buf[n:]
        return out

    def read(self, n: int = -1) -> bytes:
        return bytes(self.read_view(n))

    def drain(self) -> None:
        """Read to the end (so a hasher and any verifying reader below see it all)."""
        while self.read_view(1 << 20):
            pass

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass


def sniff(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def open_decompressed(stream: Reader, *, hasher: Any = None) -> PrefetchReader:
    """A reader of the plain tar inside `stream`, whatever its compression; with a
    `hasher` (e.g. hashlib.sha256()), the diff_id is computed off the main thread."""
    first = stream.read(1 << 16)
    kind = sniff(first)
    gen = {"gzip": _gzip_chunks, "zstd": _zstd_chunks}.get(kind or "", _plain_chunks)
    return PrefetchReader(lambda: gen(first, stream), hasher=hasher)
