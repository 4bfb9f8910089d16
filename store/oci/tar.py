"""Tar headers, both ways, without `tarfile`: a deterministic header writer and a
streaming reader that treats its input as hostile.

Writer: ustar headers with PAX records only when a value does not fit (long or
non-ASCII names, big sizes or ids, xattrs); numeric uid/gid, empty uname/gname, so the
same entry always gives the same bytes.

Reader: yields `TarEntry` values with PAX/GNU long names already applied. Names and
link targets are *untrusted* (`unsafe_name`, `unsafe_linkname`); the unpacker decides
what they mean. Malformed input raises `InvalidArchive`, never anything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from store.errors import InvalidArchive

BLOCK = 512
REG, LNK, SYM, CHR, BLK, DIR, FIFO = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
_MAX_META = 1 << 20  # PAX and GNU long-name records larger than this are refused
_OCT_LIMITS = {8: 0o7777777, 12: 0o77777777777}
_NO_DATA = (LNK, SYM, CHR, BLK, DIR, FIFO)  # every other typeflag is followed by `size` bytes


@dataclass(frozen=True)
class TarEntry:
    """One archive member after PAX/GNU records; names are untrusted."""

    unsafe_name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    unsafe_linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def printable(text: str) -> str:
    """Untrusted text made safe for a one-line message (newlines, controls escaped)."""
    return text if text.isprintable() else repr(text)[1:-1]


def bad(unsafe_name: str, why: str) -> InvalidArchive:
    return InvalidArchive(printable(unsafe_name), printable(why))


# --- writer ------------------------------------------------------------------


def _octal(value: int, width: int) -> bytes | None:
    if value < 0 or value > _OCT_LIMITS.get(width, (1 << (3 * (width - 1))) - 1):
        return None
    return b"%0*o\0" % (width - 1, value)


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n = len(b"%d" % n) + len(body)
    return b"%d" % n + body


_MAGIC = b"ustar\x0000"
_O7, _O11 = 0o7777777, 0o77777777777


def _raw_header(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typeflag: bytes,
    linkname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    # values that do not fit were moved to PAX records by header(); zero them here
    uid = uid if 0 <= uid <= _O7 else 0
    gid = gid if 0 <= gid <= _O7 else 0
    size = size if 0 <= size <= _O11 else 0
    mtime = mtime if 0 <= mtime <= _O11 else 0
    devmajor = devmajor if 0 <= devmajor <= _O7 else 0
    devminor = devminor if 0 <= devminor <= _O7 else 0
    nums = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, uid, gid, size, mtime)
    devs = b"%07o\0%07o\0" % (devmajor, devminor)
    # the checksum counts its own field as 8 spaces (256); zero padding adds nothing
    chk = sum(name) + sum(nums) + 256 + typeflag[0] + sum(linkname) + sum(_MAGIC) + sum(devs)
    return b"".join(
        (
            name.ljust(100, b"\0"),
            nums,
            b"%06o\0 " % chk,
            typeflag,
            linkname.ljust(100, b"\0"),
            _MAGIC,
            bytes(64),
            devs,
            bytes(167),
        )
    )


def header(
    name: str | bytes,
    typeflag: bytes,
    *,
    mode: int,
    uid: int = 0,
    gid: int = 0,
    size: int = 0,
    mtime: int = 0,
    linkname: str | bytes = "",
    devmajor: int = 0,
    devminor: int = 0,
    xattrs: dict[str, bytes] | None = None,
) -> bytes:
    """The header block(s) for one entry: a PAX 'x' block first when needed."""
    bname = os.fsencode(name)
    blink = os.fsencode(linkname)
    if (
        not xattrs
        and len(bname) <= 100
        and len(blink) <= 100
        and bname.isascii()
        and blink.isascii()
        and 0 <= uid <= _O7
        and 0 <= gid <= _O7
        and 0 <= size <= _O11
        and 0 <= mtime <= _O11
    ):
        return _raw_header(
            bname, mode & 0o7777, uid, gid, size, mtime, typeflag, blink, devmajor, devminor
        )
    pax: list[bytes] = []
    if len(bname) > 100 or not bname.isascii():
        pax.append(_pax_record(b"path", bname))
        bname = bname[:100].decode("ascii", "replace").encode("ascii", "replace")[:100]
    if len(blink) > 100 or not blink.isascii():
        pax.append(_pax_record(b"linkpath", blink))
        blink = blink[:100].decode("ascii", "replace").encode("ascii", "replace")[:100]
    for key, val in (("size", size), ("uid", uid), ("gid", gid), ("mtime", mtime)):
        if _octal(val, 12 if key in ("size", "mtime") else 8) is None:
            pax.append(_pax_record(key.encode(), b"%d" % val))
    for key in sorted(xattrs or ()):
        pax.append(_pax_record(b"SCHILY.xattr." + os.fsencode(key), (xattrs or {})[key]))
    main = _raw_header(
        bname, mode & 0o7777, uid, gid, size, mtime, typeflag, blink, devmajor, devminor
    )
    records = sorted(pax, key=lambda r: r.split(b" ", 1)[1])
    data = b"".join(records)
    ext = _raw_header(b"././@PaxHeader", 0o644, 0, 0, len(data), 0, b"x", b"", 0, 0)
    return ext + data + b"\0" * (-len(data) % BLOCK) + main


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


END_OF_ARCHIVE = b"\0" * (2 * BLOCK)


# --- reader ------------------------------------------------------------------


def _number(field_: bytes, what: str, name: str) -> int:
    if field_ and field_[0] & 0x80:  # GNU base-256
        val = int.from_bytes(bytes([field_[0] & 0x7F]) + field_[1:], "big")
        if field_[0] & 0x40:
            raise bad(name, f"negative {what}")
        return val
    text = field_.split(b"\0", 1)[0].strip(b" ")
    if text.lstrip(b"01234567"):  # int() alone would take "-1", "0o7" and "1_0"
        raise bad(name, f"bad octal {what} field {text[:16]!r}")
    return int(text, 8) if text else 0


def _parse_pax(data: bytes, name: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos, pos + 20)
        if sp < 0 or not data[pos:sp].isdigit():
            raise bad(name, "malformed PAX record length")
        n = int(data[pos:sp])
        rec = data[sp + 1 : pos + n]
        if n <= sp - pos or pos + n > len(data) or not rec.endswith(b"\n") or b"=" not in rec:
            raise bad(name, "malformed PAX record")
        key, _, val = rec[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = val
        pos += n
    return out


class TarReader:
    """Iterate `TarEntry` values from a byte stream; read each entry's data with
    `read_data()` before advancing (unread data is skipped)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._remaining = 0  # data bytes of the current entry not yet read
        self._pad = 0
        self.offset = 0
        self._global: dict[str, bytes] = {}
        self.current = "<header>"  # the entry being read, for error messages
        self._read_view = getattr(stream, "read_view", stream.read)

    def _read(self, n: int, name: str) -> bytes:
        buf = self._stream.read(n)
        while len(buf) < n:
            more = self._stream.read(n - len(buf))
            if not more:
                raise bad(name, "unexpected end of archive")
            buf += more
        self.offset += n
        return buf

    def _skip(self, n: int, name: str) -> None:
        while n > 0:
            n -= len(self._read(min(n, 1 << 20), name))

    def read_data(self, n: int = 1 << 20) -> bytes | memoryview:
        """Up to `n` bytes of the current entry's data (a view when the stream offers
        `read_view`, valid until the next read); empty at its end."""
        if self._remaining <= 0:
            return b""
        chunk = self._read_view(min(n, self._remaining))
        if not chunk:
            raise bad(self.current, "unexpected end of archive inside a file")
        self._remaining -= len(chunk)
        self.offset += len(chunk)
        return chunk

    def _finish_entry(self) -> None:
        self._skip(self._remaining + self._pad, self.current)
        self._remaining = self._pad = 0

    def __iter__(self) -> Iterator[TarEntry]:
        pax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            self._finish_entry()
            first = self._stream.read(BLOCK)
            if not first:
                return  # EOF without the end marker: tolerated, as GNU tar does
            blk = first + (
                self._read(BLOCK - len(first), "<header>") if len(first) < BLOCK else b""
            )
            self.offset += len(first)
            if blk == bytes(BLOCK):
                return
            typ = blk[156:157]
            meta = typ in (b"x", b"g", b"L", b"K")
            entry = (
                self._parse(blk, {}, None, None)
                if meta
                else self._parse(blk, pax, longname, longlink)
            )
            if meta:
                if entry.size > _MAX_META:
                    raise bad(entry.unsafe_name, f"{typ.decode()} record of {entry.size} bytes")
                data = self._read(entry.size, entry.unsafe_name)
                self._read(-entry.size % BLOCK, entry.unsafe_name)
                if typ == b"x":
                    pax.update(_parse_pax(data, entry.unsafe_name))
                elif typ == b"g":
                    self._global.update(_parse_pax(data, entry.unsafe_name))
                elif typ == b"L":
                    longname = data.split(b"\0", 1)[0]
                else:
                    longlink = data.split(b"\0", 1)[0]
                continue
            pax, longname, longlink = {}, None, None
            self._remaining = 0 if entry.type in _NO_DATA else entry.size
            self._pad = -self._remaining % BLOCK
            self.current = entry.unsafe_name
            yield entry

    def _parse(
        self, blk: bytes, pax: dict[str, bytes], longname: bytes | None, longlink: bytes | None
    ) -> TarEntry:
        raw_name = blk[0:100].split(b"\0", 1)[0]
        if blk[257:263] == b"ustar\0" and blk[345] != 0:
            raw_name = blk[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        label = raw_name.decode("utf-8", "surrogateescape")
        chk = _number(blk[148:156], "checksum", label)
        unsigned = sum(blk) - sum(blk[148:156]) + 256
        if chk != unsigned:
            rest = blk[:148] + blk[156:]
            if chk != unsigned - 256 * sum(1 for b in rest if b > 127):
                raise bad(label, "header checksum mismatch")
        merged = {**self._global, **pax}
        name_b = merged.get("path") or longname or raw_name
        link_b = merged.get("linkpath") or longlink or blk[157:257].split(b"\0", 1)[0]
        name = name_b.decode("utf-8", "surrogateescape")
        nums = {}
        for key, sl in (
            ("mode", slice(100, 108)),
            ("uid", slice(108, 116)),
            ("gid", slice(116, 124)),
            ("size", slice(124, 136)),
            ("mtime", slice(136, 148)),
            ("devmajor", slice(329, 337)),
            ("devminor", slice(337, 345)),
        ):
            nums[key] = _number(blk[sl], key, name)
        for key in ("size", "uid", "gid", "mtime"):
            if key in merged:
                val = merged[key]
                if key == "mtime":  # decimal seconds, maybe negative, maybe fractional
                    val = val.split(b".", 1)[0]
                    val = val[1:] if val.startswith(b"-") else val
                if not val.isdigit() or len(val) > 20:
                    raise bad(name, f"bad PAX {key} {merged[key][:24]!r}")
                nums[key] = int(merged[key].split(b".", 1)[0])
        if any(k.startswith("GNU.sparse") for k in merged):
            raise bad(name, "sparse files are not supported")
        xattrs = {
            k[len("SCHILY.xattr.") :]: v for k, v in pax.items() if k.startswith("SCHILY.xattr.")
        }
        return TarEntry(
            name,
            blk[156:157],
            nums["mode"],
            nums["uid"],
            nums["gid"],
            nums["size"],
            nums["mtime"],
            link_b.decode("utf-8", "surrogateescape"),
            nums["devmajor"],
            nums["devminor"],
            xattrs,
        )
