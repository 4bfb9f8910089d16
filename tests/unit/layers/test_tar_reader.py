"""The tar reader on what the writer does not produce. Its two modes agree: scan()
yields the entries iteration yields, with the Adler-32 and first bytes of the data
read_data() gives, however the input is cut into reads. Its fast paths (canonical
number fields, the Adler-32 checksum sum, the direct TarEntry constructor) give what
the general ones give."""

from __future__ import annotations

import dataclasses
import io
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import InvalidArchive
from store.oci import tar as ts


class _Trickle:
    """A stream whose reads return at most `piece` bytes (a pipe, a slow socket)."""

    def __init__(self, data: bytes, piece: int) -> None:
        self._f, self._piece = io.BytesIO(data), piece

    def read(self, n: int = -1, /) -> bytes:
        return self._f.read(self._piece if n < 0 else min(n, self._piece))


def _one(name: str, typ: bytes = ts.REG, data: bytes = b"", **kw: object) -> bytes:
    kw.setdefault("mode", 0o644)
    return ts.header(name, typ, size=len(data), **kw) + data + ts.padding(len(data))  # type: ignore[arg-type]


def _rechecksum(h: bytearray) -> bytes:
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


_NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"),
    min_size=1,
    max_size=60,
).map(lambda s: "d/" + s)
_ENTRIES = st.lists(
    st.tuples(
        _NAMES,
        st.sampled_from([ts.REG, ts.DIR, ts.SYM, b"7"]),
        st.binary(max_size=3000),
        st.integers(0, 1 << 24),
    ),
    max_size=8,
)


def _archive(entries: list[tuple[str, bytes, bytes, int]]) -> bytes:
    parts = []
    for name, typ, data, uid in entries:
        if typ in (ts.REG, b"7"):
            parts.append(_one(name, typ, data, uid=uid))
        else:
            parts.append(_one(name, typ, uid=uid, linkname="t" * (uid % 150)))
    return b"".join(parts) + ts.END_OF_ARCHIVE


@given(_ENTRIES, st.sampled_from([1, 7, 511, 512, 513, 4096, 1 << 20]))
def test_scan_agrees_with_streaming_reads(entries, piece: int) -> None:
    blob = _archive(entries)
    r = ts.TarReader(_Trickle(blob, piece))
    streamed = []
    for e in r:
        data = b""
        while chunk := r.read_data(300):
            data += bytes(chunk)
        streamed.append((e, data))
    scanned = list(ts.TarReader(_Trickle(blob, piece)).scan(head_bytes=10))
    assert len(scanned) == len(streamed) == len(entries)
    for s, (e, data) in zip(scanned, streamed, strict=True):
        assert dataclasses.replace(s, data_adler32=0, data_head=b"") == e
        assert (s.data_adler32, s.data_head) == (
            (zlib.adler32(data), data[:10]) if data else (0, b"")
        )
        assert e.data_adler32 == 0 and e.data_head == b""


def test_entry_constructor_sets_every_field() -> None:
    fields = ("n", ts.REG, 0o644, 1, 2, 3, 4, "l", 5, 6, {"user.a": b"v"})
    fast = ts._entry(fields, 7, b"head")
    assert fast == ts.TarEntry(*fields, 7, b"head")
    assert list(vars(fast)) == [f.name for f in dataclasses.fields(ts.TarEntry)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.size = 9  # type: ignore[misc]


def test_numbers_in_any_octal_form_read_alike() -> None:
    """Space-padded fields (old writers) take the general path, with the same values."""
    canonical = bytearray(ts.header("f", ts.REG, mode=0o755, uid=1000, gid=50, size=0, mtime=9))
    odd = bytearray(canonical)
    odd[100:108] = b"   755 \0"
    odd[108:116] = b"  1750\0\0"
    odd[136:148] = b"11 " + b"\0" * 9
    odd[329:345] = b"      0\0" * 2
    got = []
    for h in (bytes(canonical), _rechecksum(odd)):
        (e,) = ts.TarReader(io.BytesIO(h + ts.END_OF_ARCHIVE))
        got.append(e)
    assert got[0] == got[1]
    assert (got[0].mode, got[0].uid, got[0].gid, got[0].mtime) == (0o755, 1000, 50, 9)


def test_checksum_of_non_ascii_headers() -> None:
    """Bytes over 127 (UTF-8 names, base-256 numbers) are summed without overflow;
    a byte off by one is still caught."""
    h = bytearray(ts.header("f", ts.REG, mode=0o644))
    h[0:100] = b"\xff" * 100
    h[345:500] = b"\xfe" * 155
    good = _rechecksum(h)
    (e,) = ts.TarReader(io.BytesIO(good + ts.END_OF_ARCHIVE))
    assert e.unsafe_name.endswith("\udcff")
    bad = bytearray(good)
    bad[400] -= 1
    with pytest.raises(InvalidArchive, match="checksum"):
        list(ts.TarReader(io.BytesIO(bytes(bad) + ts.END_OF_ARCHIVE)))


def test_data_of_an_unknown_type_is_skipped() -> None:
    """POSIX: a reader treats an unknown typeflag as a regular file, data included."""
    h = bytearray(ts.header("vendor", ts.REG, mode=0o644, size=700))
    h[156:157] = b"V"
    blob = _rechecksum(h) + b"v" * 700 + ts.padding(700) + _one("next", data=b"n")
    r = ts.TarReader(io.BytesIO(blob))
    got = [(e.unsafe_name, e.type, bytes(r.read_data())) for e in r]
    assert got == [("vendor", b"V", b"v" * 700), ("next", ts.REG, b"n")]
    scanned = [(e.unsafe_name, e.data_adler32) for e in ts.TarReader(io.BytesIO(blob)).scan()]
    assert scanned == [("vendor", zlib.adler32(b"v" * 700)), ("next", zlib.adler32(b"n"))]


def test_truncation_is_reported_in_both_modes() -> None:
    blob = _one("f", data=b"x" * 3000)[:2000]
    for mode in ("stream", "scan"):
        r = ts.TarReader(io.BytesIO(blob))
        with pytest.raises(InvalidArchive, match="unexpected end of archive") as info:
            for _ in r.scan() if mode == "scan" else r:
                while r.read_data():
                    pass
        assert info.value.path == "f"
