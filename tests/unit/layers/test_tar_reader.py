"""The tar reader on the header forms the writer does not produce."""

from __future__ import annotations

import io

from store.oci import tar as ts


def _one(name: str, typ: bytes = ts.REG, data: bytes = b"", **kw: object) -> bytes:
    kw.setdefault("mode", 0o644)
    return ts.header(name, typ, size=len(data), **kw) + data + ts.padding(len(data))  # type: ignore[arg-type]


def _rechecksum(h: bytearray) -> bytes:
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def test_data_of_an_unknown_type_is_skipped() -> None:
    """POSIX: a reader treats an unknown typeflag as a regular file, data included."""
    h = bytearray(ts.header("vendor", ts.REG, mode=0o644, size=700))
    h[156:157] = b"V"
    blob = _rechecksum(h) + b"v" * 700 + ts.padding(700) + _one("next", data=b"n")
    r = ts.TarReader(io.BytesIO(blob))
    got = [(e.unsafe_name, e.type, bytes(r.read_data())) for e in r]
    assert got == [("vendor", b"V", b"v" * 700), ("next", ts.REG, b"n")]
