"""The content-addressed blob store: `root/blobs/<alg>/<hex>`, ingests in `root/tmp/`.

Owns getting bytes in and out safely:
- the store computes every digest itself while streaming (never trusts a caller);
- writes are atomic: temp file in `root/tmp`, fsync, rename, fsync the directory, so a
  crash leaves either the whole blob or nothing under `blobs/` (a leftover
  `tmp/ingest-*` is harmless and `fsck` removes it);
- puts are idempotent: an existing blob is kept and its mtime refreshed, so a gc that
  protects "blobs newer than an active lease" sees it as fresh;
- reads go through `VerifyingReader`, so a corrupted blob fails at EOF.
No code path here reads a whole blob into memory (`read_json` is bounded).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from store.atomic import PRIVATE_FILE, TMP_PREFIX, fsync_dir, locked_tempfile
from store.errors import (
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    InvalidDigest,
    InvalidImage,
    SizeMismatch,
)
from store.oci.digest import Descriptor, Digest, Reader, VerifyingReader
from store.oci.manifest import MAX_MANIFEST_SIZE

CHUNK = 1 << 20
PIPELINE_MIN = 8 << 20  # below this, a helper thread costs more than it saves
INGEST_PREFIX = TMP_PREFIX


class _PipelinedHasher:
    """Feeds chunks to a hash object on a helper thread (bounded queue)."""

    def __init__(self, h: Any) -> None:
        self._h = h
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._t = threading.Thread(target=self._run, name="blob-hasher", daemon=True)
        self._t.start()

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            self._h.update(chunk)

    def update(self, chunk: bytes) -> None:
        if not self._t.is_alive():
            raise RuntimeError("blob hasher already finished")
        self._q.put(chunk)

    def drain(self) -> None:
        if self._t.is_alive():
            self._q.put(None)
            self._t.join()


class BlobWriter:
    """Push-style ingest: `w.write(b)` ... `w.commit()`. Leaving the `with` block
    without `commit()` (or on an exception) discards the temp file."""

    def __init__(
        self,
        store: BlobStore,
        media_type: str,
        *,
        expected: Digest | None = None,
        size: int | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self.media_type = media_type
        self.expected = expected
        self.expected_size = size
        self.annotations = dict(annotations or {})
        self._hash = expected.hasher() if expected else hashlib.new("sha256")
        self._hasher: _PipelinedHasher | None = None
        self.size = 0
        self._done = False
        fd, self._tmp = locked_tempfile(store.tmp_dir)
        self._file: IO[bytes] = os.fdopen(fd, "wb", buffering=0)

    @property
    def digest(self) -> Digest:
        """Digest of what was written so far."""
        if self._hasher is not None:
            self._hasher.drain()
            self._hasher = None  # later writes hash inline
        return Digest(self._hash.name, self._hash.hexdigest())

    def pipelined(self) -> BlobWriter:
        """Hash on a helper thread while this one writes (both release the GIL), so a
        big put costs max(hash, write) instead of the sum. Only for `bytes` chunks
        that the caller will not reuse."""
        if self._hasher is None and self.size == 0:
            self._hasher = _PipelinedHasher(self._hash)
        return self

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = len(data)
        if self.expected_size is not None and self.size + n > self.expected_size:
            got = self.size + n
            self.abort()
            raise SizeMismatch(str(self.expected or "blob"), self.expected_size, got)
        if self._hasher is not None:
            self._hasher.update(bytes(data) if not isinstance(data, bytes) else data)
        else:
            self._hash.update(data)
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written:]
        self.size += n
        return n

    def commit(self) -> Descriptor:
        """Verify, fsync and rename into place; return the blob's descriptor."""
        if self._done:
            raise ValueError("blob writer already finished")
        digest = self.digest
        try:
            if self.expected_size is not None and self.size != self.expected_size:
                raise SizeMismatch(str(self.expected or digest), self.expected_size, self.size)
            if self.expected is not None and digest != self.expected:
                raise DigestMismatch(str(self.expected), str(digest))
            os.fchmod(self._file.fileno(), PRIVATE_FILE)
            os.fsync(self._file.fileno())
            # Rename while still holding the flock, so fsck never takes a live ingest.
            self._store._install(self._tmp, digest)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._file.close()
        return Descriptor(self.media_type, digest, self.size, self.annotations)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._hasher is not None:
            self._hasher.drain()
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class BlobStore:
    """Blobs of one store root. Safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        for d in (self.blobs_dir / "sha256", self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)

    # --- writing ---------------------------------------------------------------

    def writer(
        self,
        media_type: str,
        *,
        expected: Digest | None = None,
        size: int | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> BlobWriter:
        return BlobWriter(self, media_type, expected=expected, size=size, annotations=annotations)

    def put(
        self,
        stream: Reader,
        media_type: str,
        *,
        expected: Digest | None = None,
        size: int | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Descriptor:
        """Stream `stream` into the store; verify `expected`/`size` as it flows.

        With both `expected` and `size` given and that blob already stored, the stream
        is NOT read (the stored copy was verified when it was written); its mtime is
        refreshed so a concurrent gc keeps it."""
        if expected is not None and size is not None and self.exists(expected):
            # Trust-free shortcut: the stored blob was verified when it was written.
            if self.stat(expected) == size:
                self._touch(expected)
                return Descriptor(media_type, expected, size, dict(annotations or {}))
        with self.writer(media_type, expected=expected, size=size, annotations=annotations) as w:
            if size is None or size > PIPELINE_MIN:
                w.pipelined()
            while chunk := stream.read(CHUNK):
                w.write(chunk)
            return w.commit()

    def put_bytes(
        self, data: bytes, media_type: str, *, annotations: Mapping[str, str] | None = None
    ) -> Descriptor:
        with self.writer(media_type, annotations=annotations) as w:
            w.write(data)
            return w.commit()

    def put_json(self, obj: Any, media_type: str) -> Descriptor:
        """Canonical-ish JSON (sorted keys are NOT used: field order is the caller's)."""
        return self.put_bytes(json.dumps(obj, separators=(",", ":")).encode(), media_type)

    def _install(self, tmp: Path, digest: Digest) -> None:
        dest = self.path(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink()
            self._touch(digest)
            return
        os.rename(tmp, dest)
        fsync_dir(dest.parent)

    def _touch(self, digest: Digest) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path(digest))

    # --- reading ---------------------------------------------------------------

    def path(self, digest: Digest) -> Path:
        return self.blobs_dir / digest.algorithm / digest.hex

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def stat(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(str(digest)) from None

    def open(self, digest: Digest, size: int | None = None) -> VerifyingReader:
        """A reader that raises DigestMismatch/SizeMismatch at EOF if the blob rotted."""
        try:
            f = open(self.path(digest), "rb")  # owned by the reader
        except FileNotFoundError:
            raise BlobNotFound(str(digest)) from None
        if size is None:
            size = os.fstat(f.fileno()).st_size
        return VerifyingReader(f, digest, size)

    def read_json(
        self, desc_or_digest: Descriptor | Digest, *, limit: int = MAX_MANIFEST_SIZE
    ) -> Any:
        """Read and parse a small JSON blob (manifest, config, index), verified."""
        if isinstance(desc_or_digest, Descriptor):
            digest, size = desc_or_digest.digest, desc_or_digest.size
        else:
            digest, size = desc_or_digest, None
        actual = self.stat(digest)
        if actual > limit:
            raise BlobTooLarge(str(digest), actual, limit)
        with self.open(digest, size) as r:
            parts = []
            while True:
                chunk = r.read(CHUNK)
                if not chunk:
                    break
                parts.append(chunk)
        try:
            return json.loads(b"".join(parts))
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidImage(str(digest), f"not JSON: {e}") from None

    def copy_to(self, digest: Digest, out: IO[bytes], size: int | None = None) -> int:
        """Stream a verified blob into `out`; returns bytes copied."""
        n = 0
        with self.open(digest, size) as r:
            while True:
                chunk = r.read(CHUNK)
                if not chunk:
                    return n
                out.write(chunk)
                n += len(chunk)

    # --- maintenance -----------------------------------------------------------

    def delete(self, digest: Digest) -> None:
        """Remove a blob; a missing blob is not an error (gc races are benign)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def iter_digests(self) -> Iterator[Digest]:
        """Every well-named blob on disk (stray names are fsck's business)."""
        if not self.blobs_dir.is_dir():
            return
        for alg_dir in sorted(self.blobs_dir.iterdir()):
            if not alg_dir.is_dir():
                continue
            for entry in sorted(os.listdir(alg_dir)):
                try:
                    d = Digest(alg_dir.name, entry)
                except InvalidDigest:
                    continue
                if d.verifiable:
                    yield d

    def iter_ingests(self) -> Iterator[Path]:
        """Leftover temp files from interrupted writes."""
        if self.tmp_dir.is_dir():
            for p in sorted(self.tmp_dir.iterdir()):
                if p.name.startswith(INGEST_PREFIX):
                    yield p
