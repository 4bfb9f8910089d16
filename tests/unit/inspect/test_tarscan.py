"""The fast tar scanner agrees with the stdlib tarfile on every header form (ustar,
PAX, GNU long names, base-256 numbers), through gzip, zstd and no compression."""

from __future__ import annotations

import io
import tarfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.inspect.errors import LayerFormatError
from builder.inspect.layers import layer_path
from builder.inspect.tarscan import TarScan
from tests.unit.inspect.synth import compress

NAME = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/\\"),
    min_size=1,
    max_size=40,
)
PATH = st.lists(NAME, min_size=1, max_size=6).map("/".join)
ENTRY = st.tuples(
    PATH,
    st.sampled_from(["file", "dir", "sym", "hard"]),
    st.integers(0, 3000),
    st.integers(0, 2**21),
)


def _tar(entries: list[tuple[str, str, int, int]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for path, kind, size, uid in entries:
            ti = tarfile.TarInfo(path)
            ti.uid = uid if fmt != tarfile.USTAR_FORMAT else uid % 2**21
            ti.mode = 0o640
            data = None
            if kind == "file":
                ti.size = size
                data = io.BytesIO(bytes((i * 7) & 0xFF for i in range(size)))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, "t/" + path
            else:
                ti.type, ti.linkname = tarfile.LNKTYPE, path + "x"
            tf.addfile(ti, data)
    return buf.getvalue()


def _ref(data: bytes) -> list[tuple]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for m in tf:
            crc = zlib.adler32(tf.extractfile(m).read()) if m.isreg() and m.size else 0  # type: ignore[union-attr]
            name = m.name
            while name.startswith("./"):
                name = name[2:]
            out.append((name.strip("/"), m.size if m.isreg() else 0, m.uid, m.linkname, crc))
    return out


@given(
    st.lists(ENTRY, max_size=12),
    st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
    st.sampled_from(["gzip", "zstd", "none"]),
)
def test_agrees_with_tarfile(entries, fmt, how) -> None:
    data = _tar(entries, fmt)
    blob, _ = compress(data, how)
    scan = TarScan(io.BytesIO(blob))
    got = [
        (
            layer_path(e.unsafe_name),
            e.size if e.is_file else 0,
            e.uid,
            e.unsafe_linkname,
            e.data_adler32,
        )
        for e in scan
    ]
    assert got == _ref(data)
    assert scan.uncompressed_size == len(data)
    assert scan.compressed_size == len(blob)


def test_multi_member_gzip() -> None:
    import gzip

    data = _tar([("a", "file", 100, 0), ("b", "file", 5000, 0)], tarfile.PAX_FORMAT)
    blob = gzip.compress(data[:1024]) + gzip.compress(data[1024:])
    assert [e.unsafe_name for e in TarScan(io.BytesIO(blob))] == ["a", "b"]


def test_truncated_layer_fails_cleanly() -> None:
    data = _tar([("a", "file", 3000, 0)], tarfile.PAX_FORMAT)
    with pytest.raises(LayerFormatError):
        list(TarScan(io.BytesIO(data[:1536])))


def test_memory_stays_bounded_on_highly_compressible_layers() -> None:
    """A layer that inflates 1000:1 is still read in CHUNK-sized pieces."""
    import gzip
    import tracemalloc

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("zeros")
        ti.size = 64 << 20
        tf.addfile(ti, io.BytesIO(bytes(ti.size)))
    blob = gzip.compress(buf.getvalue(), compresslevel=1)
    del buf
    tracemalloc.start()
    try:
        entries = list(TarScan(io.BytesIO(blob)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [e.size for e in entries] == [64 << 20]
    assert peak < 12 << 20


@given(st.binary(max_size=4096), st.integers(0, 4095), st.binary(min_size=1, max_size=8))
def test_hostile_bytes_fail_only_with_layer_format_error(
    junk: bytes, at: int, patch: bytes
) -> None:
    """Random bytes, and real tars with bytes overwritten, never crash the scanner."""
    good = _tar([("dir/" + "n" * 120, "file", 700, 5), ("l", "sym", 0, 0)], tarfile.PAX_FORMAT)
    bad = bytearray(good)
    bad[at % len(bad) : at % len(bad) + len(patch)] = patch
    for data in (junk, bytes(bad)):
        try:
            for e in TarScan(io.BytesIO(data)):
                assert e.size >= 0
        except LayerFormatError:
            pass


def test_hostile_corpus_is_listed_or_refused_as_layer_format_error() -> None:
    """inspect reads the unpacker's hostile tars with the same parser: what the parser
    refuses, inspect refuses for the same reason; the rest (escapes the unpacker
    refuses) is listed, as inspect only reports names and never opens them."""
    from pathlib import Path

    from store.errors import InvalidArchive
    from tests.unit.layers.hostile import load_corpus

    for case in load_corpus().hostile_tars(Path("/nonexistent/outside")):
        try:
            names = [e.unsafe_name for e in TarScan(io.BytesIO(case.data))]
        except LayerFormatError as e:
            assert "\n" not in str(e), case.name
            assert case.error is not InvalidArchive or case.why in str(e), case.name
        else:
            assert case.error is not InvalidArchive and case.entry in names, case.name
