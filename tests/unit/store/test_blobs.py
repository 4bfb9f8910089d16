"""BlobStore: put/open/stat/delete, verification while streaming, atomicity on failure."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.blobs import BlobStore
from store.errors import BlobNotFound, BlobTooLarge, DigestMismatch, InvalidImage, SizeMismatch
from store.oci.digest import EMPTY_SHA256, Digest


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "s")


def _visible(b: BlobStore) -> list[Path]:
    return sorted(p for p in b.blobs_dir.rglob("*") if p.is_file()) + sorted(b.tmp_dir.iterdir())


def test_put_computes_digest_and_layout_path(blobs: BlobStore) -> None:
    data = os.urandom(3 << 20)  # several chunks
    d = blobs.put(io.BytesIO(data), "application/octet-stream")
    assert d.digest == Digest.of_bytes(data) and d.size == len(data)
    assert blobs.path(d.digest) == blobs.root / "blobs" / "sha256" / d.digest.hex
    assert blobs.path(d.digest).read_bytes() == data
    assert oct(blobs.path(d.digest).stat().st_mode & 0o777) == oct(0o600)  # the owner's alone
    assert blobs.stat(d.digest) == len(data) and blobs.exists(d.digest)
    assert list(blobs.iter_digests()) == [d.digest]
    assert list(blobs.tmp_dir.iterdir()) == []


def test_put_is_idempotent_and_refreshes_mtime(blobs: BlobStore) -> None:
    d1 = blobs.put(io.BytesIO(b"abc"), "x")
    os.utime(blobs.path(d1.digest), (1, 1))
    d2 = blobs.put(io.BytesIO(b"abc"), "y", expected=d1.digest, size=3)
    assert d2.digest == d1.digest and d2.media_type == "y"
    assert blobs.path(d1.digest).stat().st_mtime > 1
    d3 = blobs.put_bytes(b"abc", "x")
    assert d3 == d1 and len(list(blobs.iter_digests())) == 1


@given(st.binary(min_size=1, max_size=300))
def test_expected_digest_mismatch_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    b = BlobStore(tmp_path_factory.mktemp("b"))
    wrong = Digest.of_bytes(data + b"!")
    with pytest.raises(DigestMismatch):
        b.put(io.BytesIO(data), "x", expected=wrong)
    assert _visible(b) == []


def test_size_mismatch_both_ways(blobs: BlobStore) -> None:
    with pytest.raises(SizeMismatch):
        blobs.put(io.BytesIO(b"12345"), "x", size=4)  # longer than promised: fails mid-stream
    with pytest.raises(SizeMismatch):
        blobs.put(io.BytesIO(b"123"), "x", size=4)
    assert _visible(blobs) == []


def test_writer_commit_and_discard(blobs: BlobStore) -> None:
    with blobs.writer("x") as w:
        w.write(b"hello ")
        w.write(memoryview(b"world"))
        assert w.size == 11 and w.digest == Digest.of_bytes(b"hello world")
        d = w.commit()
    assert blobs.path(d.digest).read_bytes() == b"hello world"
    with blobs.writer("x") as w:
        w.write(b"partial")
    with pytest.raises(RuntimeError), blobs.writer("x") as w:
        w.write(b"boom")
        raise RuntimeError
    assert list(blobs.tmp_dir.iterdir()) == [] and list(blobs.iter_digests()) == [d.digest]


def test_open_verifies_and_detects_rot(blobs: BlobStore) -> None:
    d = blobs.put_bytes(b"content" * 100, "x")
    with blobs.open(d.digest) as r:
        assert r.read(10_000) == b"content" * 100
        assert r.read() == b""
    blobs.path(d.digest).write_bytes(b"Content" * 100)  # same size, flipped byte
    with blobs.open(d.digest) as r, pytest.raises(DigestMismatch):
        while r.read(64):
            pass
    with pytest.raises(BlobNotFound):
        blobs.open(EMPTY_SHA256)
    with pytest.raises(BlobNotFound):
        blobs.stat(EMPTY_SHA256)


def test_read_json_is_bounded_and_checked(blobs: BlobStore) -> None:
    d = blobs.put_bytes(b'{"a": [1, 2]}', "application/json")
    assert blobs.read_json(d) == {"a": [1, 2]} and blobs.read_json(d.digest) == {"a": [1, 2]}
    with pytest.raises(BlobTooLarge):
        blobs.read_json(d, limit=5)
    with pytest.raises(InvalidImage):
        blobs.read_json(blobs.put_bytes(b"not json", "x"))


def test_delete_and_copy_to(blobs: BlobStore) -> None:
    d = blobs.put_bytes(b"bytes", "x")
    out = io.BytesIO()
    assert blobs.copy_to(d.digest, out) == 5 and out.getvalue() == b"bytes"
    blobs.delete(d.digest)
    blobs.delete(d.digest)  # a second delete is not an error
    assert not blobs.exists(d.digest)


def test_empty_blob(blobs: BlobStore) -> None:
    d = blobs.put(io.BytesIO(b""), "x")
    assert d.digest == EMPTY_SHA256 and d.size == 0
    with blobs.open(d.digest) as r:
        assert r.read() == b""


def test_stream_without_readinto(blobs: BlobStore) -> None:
    class OnlyRead:
        def __init__(self) -> None:
            self.parts = [b"a" * 10, b"b" * 5]

        def read(self, n: int = -1) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    d = blobs.put(OnlyRead(), "x")  # type: ignore[arg-type]
    assert d.digest == Digest.of_bytes(b"a" * 10 + b"b" * 5)


def test_pipelined_put_of_a_big_stream(blobs: BlobStore) -> None:
    data = os.urandom(1 << 20) * 12  # above the pipelining threshold
    d = blobs.put(io.BytesIO(data), "x")
    assert d.digest == Digest.of_bytes(data) and d.size == len(data)
    with pytest.raises(DigestMismatch):
        blobs.put(io.BytesIO(data), "x", expected=Digest.of_bytes(b"other"))
    with blobs.writer("x") as w:
        w.pipelined().write(b"a" * 100)
        assert w.digest == Digest.of_bytes(b"a" * 100)
        w.write(bytearray(b"b"))  # after digest: hashed inline again
        assert w.commit().digest == Digest.of_bytes(b"a" * 100 + b"b")
    assert list(blobs.tmp_dir.iterdir()) == []
