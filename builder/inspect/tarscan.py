"""A layer blob as inspect reads it: decompressed, counted, and listed entry by entry.

Owns the layer side of inspect's scan: sniffing the compression (gzip, also multi-member,
zstd or none), inflating in bounded CHUNK pieces (a gzip bomb never inflates more than
that at once), and counting the blob's compressed and uncompressed bytes. The tar
itself is parsed by `store.oci.tar.TarReader` in its metadata-only mode (`scan`):
entries come with their data's Adler-32 and first bytes, the data is never held. Any
malformed layer ends in `LayerFormatError`. The stdlib `tarfile` is ~5x slower per
member in stream mode, which matters at 100k files (bench/inspect_speed.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO, Protocol, cast

import zstandard

from builder.inspect.errors import LayerFormatError
from store.errors import InvalidArchive
from store.oci.tar import CHUNK, TarEntry, TarReader

HEAD_BYTES = 64  # enough to see "-----BEGIN ... PRIVATE KEY-----"


class _Readable(Protocol):
    """The one thing the scan needs from a stream (a file or one of the wrappers
    below): `read(n)`, returning b"" at the end."""

    def read(self, n: int = -1, /) -> bytes: ...


class _Chunks:
    """Decompressed chunks of a layer blob; the format is sniffed from the first bytes.
    `read()` gives the next chunk (at most CHUNK bytes), b"" at the end, and `total`
    counts the bytes given so far."""

    def __init__(self, raw: _Readable) -> None:
        self._raw = raw
        self.total = 0
        first = raw.read(4)
        self._first = first
        self._zr = None
        if first[:2] == b"\x1f\x8b":
            self._mode = "gzip"
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif first == b"\x28\xb5\x2f\xfd":
            self._mode = "zstd"
            # zstandard's stub asks for IO[bytes], but it only ever calls .read()
            self._zr = zstandard.ZstdDecompressor().stream_reader(
                cast("IO[bytes]", _Prefixed(first, raw)), read_across_frames=True
            )
            self._first = b""
        else:
            self._mode = "plain"

    def read(self, n: int = -1, /) -> bytes:
        try:
            chunk = self._next()
        except zlib.error as e:
            raise LayerFormatError(f"layer is not valid gzip: {e}") from None
        except Exception as e:  # zstandard.ZstdError and friends
            if type(e).__module__.startswith("zstandard"):
                raise LayerFormatError(f"layer is not valid zstd: {e}") from None
            raise
        self.total += len(chunk)
        return chunk

    def _next(self) -> bytes:
        """The next non-empty chunk (at most CHUNK bytes), or b"" at the end. Output is
        bounded with max_length: a gzip bomb never inflates more than CHUNK at once."""
        if self._zr is not None:
            return self._zr.read(CHUNK)
        if self._mode == "plain":
            data = self._first + self._raw.read(CHUNK)
            self._first = b""
            return data
        while True:
            d = self._d
            if d.unconsumed_tail:
                inp = d.unconsumed_tail
            elif d.eof and d.unused_data:  # multi-member gzip
                inp = d.unused_data
                self._d = d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                inp = self._first + self._raw.read(CHUNK)
                self._first = b""
                if not inp:
                    return d.flush()
            out = d.decompress(inp, CHUNK)
            if out:
                return out


class _Prefixed:
    def __init__(self, prefix: bytes, raw: _Readable) -> None:
        self._prefix, self._raw = prefix, raw

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            p, self._prefix = self._prefix, b""
            return p + self._raw.read(max(0, n - len(p))) if n > 0 else p + self._raw.read()
        return self._raw.read(n)


class _Counting:
    """Counts the bytes read from the (compressed) source: the layer's blob size."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw, self.count = raw, 0

    def read(self, n: int = -1) -> bytes:
        b = self._raw.read(n)
        self.count += len(b)
        return b


class TarScan:
    """Iterate a layer's entries (`store.oci.tar.TarEntry`, data scanned: see
    `TarReader.scan`; with `data=False` the data is skipped unhashed). After
    iteration, `compressed_size` and `uncompressed_size` hold the byte counts of the
    blob and of the tar stream."""

    def __init__(self, raw: IO[bytes], *, data: bool = True) -> None:
        self._src = _Counting(raw)
        self._chunks = _Chunks(self._src)
        self._data = data
        self.compressed_size = 0

    @property
    def uncompressed_size(self) -> int:
        return self._chunks.total

    def __iter__(self) -> Iterator[TarEntry]:
        reader = TarReader(self._chunks)
        try:
            yield from reader.scan(HEAD_BYTES) if self._data else reader
        except InvalidArchive as e:
            raise LayerFormatError(f"layer tar: {e.path}: {e.why}") from None
        # drain to count the whole blob (trailing zero blocks, padding)
        while self._chunks.read():
            pass
        self.compressed_size = self._src.count
