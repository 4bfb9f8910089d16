"""Tar headers, both ways, without `tarfile`: a deterministic header writer and a
streaming reader that treats its input as hostile.

Writer: ustar headers with PAX records only when a value does not fit (long or
non-ASCII names, big sizes or ids, xattrs); numeric uid/gid, empty uname/gname, so the
same entry always gives the same bytes.

Reader: the project's one tar parser (ustar, PAX `x`/`g` records, GNU long names,
octal and base-256 numbers, checksums, size bounds). It yields `TarEntry` values with
PAX/GNU long names already applied, streaming (the unpacker reads each entry's data)
or metadata only (inspect: data hashed and skipped, `TarReader.scan`); it never holds
more than one CHUNK of its input. It reads a file-like stream it is given and opens
nothing itself. Names and link targets are *untrusted* (`unsafe_name`,
`unsafe_linkname`); the unpacker decides what they mean. Malformed input raises
`InvalidArchive`, never anything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol
from zlib import adler32

from store.errors import InvalidArchive

BLOCK = 512
REG, LNK, SYM, CHR, BLK, DIR, FIFO = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
FILE_TYPES = (REG, b"\0", b"7")  # a regular file: POSIX '0', pre-POSIX NUL, contiguous '7'
_MAX_META = 1 << 20  # PAX and GNU long-name records larger than this are refused
_OCT_LIMITS = {8: 0o7777777, 12: 0o77777777777}


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
    # set only by TarReader.scan(), for entries with data (0 and b"" otherwise): the
    # data's Adler-32 (with `size`, enough to tell a re-added file from a changed
    # one; not a security hash) and its first bytes
    data_adler32: int = 0
    data_head: bytes = b""

    @property
    def is_file(self) -> bool:
        """A regular file (typeflag '0', the pre-POSIX NUL, or contiguous '7')."""
        return self.type in FILE_TYPES


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

CHUNK = 1 << 20  # the reader pulls its input in pieces of (at most) this size
_NO_DATA = (LNK, SYM, CHR, BLK, DIR, FIFO)  # every other typeflag is followed by `size` bytes
_META_TYPES = (b"x", b"g", b"L", b"K")
_ZERO_BLOCK = bytes(BLOCK)
# mode, uid, gid, size, mtime and checksum (bytes 100..156) as every common writer
# formats them: zero-padded octal ended by NUL (the checksum by NUL and space). A
# header that matches is read with one regex; any other goes through `_number`.
_CANONICAL = re.compile(
    rb"([0-7]{7})\0([0-7]{7})\0([0-7]{7})\0([0-7]{11})\0([0-7]{11})\0([0-7]{6})\0 "
)
_ZERO_DEVS = (b"0000000\0" * 2, bytes(16))
_PAX_NUMBERS = frozenset(("size", "uid", "gid", "mtime"))  # the records that override a field
# records with neither a sparse map nor an xattr (the common ones: names, numbers, times)
_PAX_PLAIN = _PAX_NUMBERS | {"path", "linkpath", "atime", "ctime", "uname", "gname", "comment"}


class Readable(Protocol):
    """What the reader needs of its input: `read(n)` giving at most `n` bytes, b"" at
    the end (short reads are fine). A `read_view(n)` method, if present, is used
    instead to spare a copy."""

    def read(self, n: int = -1, /) -> bytes | memoryview: ...


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
    """PAX records, each `LEN KEY=VALUE\\n` with LEN counting the whole record."""
    out: dict[str, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        sp = data.find(b" ", pos, pos + 20)
        if sp < 0 or not data[pos:sp].isdigit():
            raise bad(name, "malformed PAX record length")
        stop = pos + int(data[pos:sp])
        eq = data.find(b"=", sp + 1, stop - 1)
        if stop <= sp or stop > end or data[stop - 1] != 0x0A or eq < 0:
            raise bad(name, "malformed PAX record")
        out[data[sp + 1 : eq].decode("utf-8", "surrogateescape")] = data[eq + 1 : stop - 1]
        pos = stop
    return out


def _check_sum(blk: bytes, chk: int, raw_name: bytes) -> None:
    """Refuse a header whose checksum field `chk` is wrong.

    POSIX's checksum is the sum of the block's bytes, the checksum field counted as
    eight spaces (some old writers summed signed bytes, also accepted). A Python sum()
    over 512 bytes would cost more than the rest of the header; Adler-32 sums in C:
    its low half is 1 + the byte sum modulo 65521, exact while the sum stays below
    65521: over an ASCII block (at most 512 * 127) or 256 bytes of anything (65280)."""
    if blk.isascii():
        total = (adler32(blk) & 0xFFFF) - 1
    else:
        total = (adler32(blk[:256]) & 0xFFFF) + (adler32(blk[256:]) & 0xFFFF) - 2
    unsigned = total - ((adler32(blk[148:156]) & 0xFFFF) - 1) + 256
    if chk != unsigned:
        rest = blk[:148] + blk[156:]
        if chk != unsigned - 256 * sum(1 for b in rest if b > 127):
            raise bad(raw_name.decode("utf-8", "surrogateescape"), "header checksum mismatch")


_Fields = tuple[str, bytes, int, int, int, int, int, str, int, int, dict[str, bytes]]
_new = object.__new__


def _entry(f: _Fields, data_adler32: int = 0, data_head: bytes = b"") -> TarEntry:
    """`TarEntry(*f, data_adler32, data_head)` without the frozen dataclass __init__,
    which sets each field through object.__setattr__: 1.5 us an entry, as much as
    parsing the rest of the header. The instance dict is filled directly instead; a
    unit test checks that this sets every field."""
    e = _new(TarEntry)
    d = e.__dict__
    (
        d["unsafe_name"],
        d["type"],
        d["mode"],
        d["uid"],
        d["gid"],
        d["size"],
        d["mtime"],
        d["unsafe_linkname"],
        d["devmajor"],
        d["devminor"],
        d["xattrs"],
    ) = f
    d["data_adler32"] = data_adler32
    d["data_head"] = data_head
    return e


class TarReader:
    """Iterate the `TarEntry` values of a tar byte stream, in one of two modes:

    - streaming, `for e in reader`: read each entry's data with `read_data()` before
      advancing (unread data is skipped); the unpacker's mode.
    - metadata only, `for e in reader.scan()`: each entry's data is consumed before the
      entry is yielded, hashed in place into `data_adler32` and `data_head`; inspect's
      mode.

    The input is pulled in CHUNK-sized pieces and headers are cut from that buffer, so
    a header costs no read call; data is never held beyond one piece."""

    def __init__(self, stream: Readable) -> None:
        self._src = getattr(stream, "read_view", None) or stream.read
        self._buf = memoryview(b"")
        self._pos = 0  # next unread byte of _buf
        self._base = 0  # archive offset of _buf[0]
        self._remaining = 0  # data bytes of the current entry not yet read
        self._pad = 0
        self._global: dict[str, bytes] = {}
        self.current = "<header>"  # the entry being read, for error messages

    @property
    def offset(self) -> int:
        """Bytes of the archive consumed so far."""
        return self._base + self._pos

    # --- buffer ---------------------------------------------------------------

    def _fill(self) -> bool:
        """Replace the (fully consumed) buffer with the next piece; False at the end."""
        self._base += len(self._buf)
        self._buf = memoryview(self._src(CHUNK))
        self._pos = 0
        return len(self._buf) > 0

    def _take(self, n: int) -> bytes:
        """The next `n` bytes (headers, PAX records: small), shorter only at the end."""
        pos, buf = self._pos, self._buf
        if pos + n <= len(buf):
            self._pos = pos + n
            return buf[pos : pos + n].tobytes()
        parts = [buf[pos:].tobytes()]
        have = len(parts[0])
        self._pos = len(buf)
        while have < n and self._fill():
            take = min(n - have, len(self._buf))
            parts.append(self._buf[:take].tobytes())
            self._pos = take
            have += take
        return b"".join(parts)

    def _skip(self, n: int, name: str) -> None:
        while n > 0:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    raise bad(name, "unexpected end of archive")
                continue
            take = min(avail, n)
            self._pos += take
            n -= take

    def read_data(self, n: int = CHUNK) -> bytes | memoryview:
        """Up to `n` bytes of the current entry's data, as a view of the reader's
        buffer (valid until the next read); empty at its end."""
        if self._remaining <= 0:
            return b""
        pos = self._pos
        avail = len(self._buf) - pos
        if not avail:
            if not self._fill():
                raise bad(self.current, "unexpected end of archive inside a file")
            pos, avail = 0, len(self._buf)
        take = min(n, self._remaining, avail)
        self._pos = pos + take
        self._remaining -= take
        return self._buf[pos : pos + take]

    def _digest(self, n: int, head_bytes: int) -> tuple[int, bytes]:
        """Consume `n` data bytes, hashing them where they lie in the buffer: their
        Adler-32 and their first `head_bytes`."""
        buf, pos = self._buf, self._pos
        if pos + n <= len(buf):  # the common case: the whole file is in the buffer
            view = buf[pos : pos + n]
            self._pos = pos + n
            return adler32(view), view[:head_bytes].tobytes()
        adler, head, left = 1, b"", n
        while left:
            avail = len(buf) - pos
            if not avail:
                if not self._fill():
                    raise bad(self.current, "unexpected end of archive inside a file")
                buf, pos = self._buf, 0
                continue
            take = min(avail, left)
            view = buf[pos : pos + take]
            if len(head) < head_bytes:
                head += view[: head_bytes - len(head)].tobytes()
            adler = adler32(view, adler)
            pos += take
            left -= take
        self._pos = pos
        return adler, head

    # --- entries --------------------------------------------------------------

    def __iter__(self) -> Iterator[TarEntry]:
        return self._entries(False, 0)

    def scan(self, head_bytes: int = 64) -> Iterator[TarEntry]:
        """The entries with their data already consumed: `data_adler32` and the first
        `head_bytes` of it (`data_head`) are set for every entry that has data."""
        return self._entries(True, head_bytes)

    def _entries(self, scan: bool, head_bytes: int) -> Iterator[TarEntry]:
        pax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            if self._remaining or self._pad:
                skip = self._remaining + self._pad
                self._remaining = self._pad = 0
                if self._pos + skip <= len(self._buf):
                    self._pos += skip
                else:
                    self._skip(skip, self.current)
            pos = self._pos
            if pos + BLOCK <= len(self._buf):  # the common case, without a call
                blk = self._buf[pos : pos + BLOCK].tobytes()
                self._pos = pos + BLOCK
            else:
                blk = self._take(BLOCK)
            if len(blk) < BLOCK:
                if not blk:
                    return  # EOF without the end marker: tolerated, as GNU tar does
                raise bad("<header>", "unexpected end of archive")
            if blk == _ZERO_BLOCK:
                return
            typ = blk[156:157]
            if typ in _META_TYPES:
                name, size = self._meta_header(blk)
                if size > _MAX_META:
                    raise bad(name, f"{typ.decode()} record of {size} bytes")
                pos, end = self._pos, self._pos + size + -size % BLOCK
                if end <= len(self._buf):
                    data = self._buf[pos : pos + size].tobytes()
                    self._pos = end
                else:
                    data = self._take(end - pos)
                    if len(data) < end - pos:
                        raise bad(name, "unexpected end of archive")
                    data = data[:size]
                if typ == b"x":
                    pax.update(_parse_pax(data, name))
                elif typ == b"g":
                    self._global.update(_parse_pax(data, name))
                elif typ == b"L":
                    longname = data.split(b"\0", 1)[0]
                else:
                    longlink = data.split(b"\0", 1)[0]
                continue
            fields = self._fields(blk, pax, longname, longlink)
            if pax or longname is not None or longlink is not None:
                pax, longname, longlink = {}, None, None
            self.current = fields[0]
            size = 0 if typ in _NO_DATA else fields[5]
            self._pad = -size % BLOCK
            if not scan:
                self._remaining = size
                yield _entry(fields)
            elif size:
                yield _entry(fields, *self._digest(size, head_bytes))
            else:
                yield _entry(fields)

    def _meta_header(self, blk: bytes) -> tuple[str, int]:
        """The name and size of a PAX or GNU long-name header, checked as fully as any
        other header; only the size is converted in the (common) canonical form."""
        canon = _CANONICAL.match(blk, 100)
        if canon is None or blk[329:345] not in _ZERO_DEVS:
            f = self._fields(blk, {}, None, None, meta=True)
            return f[0], f[5]
        raw_name = blk[0:100].split(b"\0", 1)[0]
        if blk[257:263] == b"ustar\0" and blk[345] != 0:
            raw_name = blk[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        _check_sum(blk, int(canon.group(6), 8), raw_name)
        return raw_name.decode("utf-8", "surrogateescape"), int(canon.group(4), 8)

    def _fields(
        self,
        blk: bytes,
        pax: dict[str, bytes],
        longname: bytes | None,
        longlink: bytes | None,
        meta: bool = False,
    ) -> _Fields:
        """The values of one header block with the PAX records (those before it, and
        the global ones unless it is itself a `meta` record) and GNU long names."""
        raw_name = blk[0:100].split(b"\0", 1)[0]
        if blk[257:263] == b"ustar\0" and blk[345] != 0:
            raw_name = blk[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        canon = _CANONICAL.match(blk, 100)
        if canon is not None:
            f_mode, f_uid, f_gid, f_size, f_mtime, f_chk = canon.groups()
            mode, uid, gid = int(f_mode, 8), int(f_uid, 8), int(f_gid, 8)
            size, mtime, chk = int(f_size, 8), int(f_mtime, 8), int(f_chk, 8)
        else:
            chk = _number(blk[148:156], "checksum", raw_name.decode("utf-8", "surrogateescape"))
        _check_sum(blk, chk, raw_name)
        merged = {**self._global, **pax} if self._global and not meta else pax
        if merged or longname is not None or longlink is not None:
            name_b = merged.get("path") or longname or raw_name
            link_b = merged.get("linkpath") or longlink or blk[157:257].split(b"\0", 1)[0]
        else:
            name_b, link_b = raw_name, blk[157:257].split(b"\0", 1)[0]
        name = name_b.decode("utf-8", "surrogateescape")
        if canon is None:
            mode = _number(blk[100:108], "mode", name)
            uid = _number(blk[108:116], "uid", name)
            gid = _number(blk[116:124], "gid", name)
            size = _number(blk[124:136], "size", name)
            mtime = _number(blk[136:148], "mtime", name)
        devs = blk[329:345]
        if devs in _ZERO_DEVS:
            devmajor = devminor = 0
        else:
            devmajor = _number(devs[:8], "devmajor", name)
            devminor = _number(devs[8:], "devminor", name)
        xattrs: dict[str, bytes] = {}
        if merged:
            keys = merged.keys()
            if not keys.isdisjoint(_PAX_NUMBERS):
                nums = {"size": size, "uid": uid, "gid": gid, "mtime": mtime}
                for key in nums:
                    if key in merged:
                        val = merged[key]
                        if key == "mtime":  # decimal seconds, maybe negative or fractional
                            val = val.split(b".", 1)[0]
                            val = val[1:] if val.startswith(b"-") else val
                        if not val.isdigit() or len(val) > 20:
                            raise bad(name, f"bad PAX {key} {merged[key][:24]!r}")
                        nums[key] = int(merged[key].split(b".", 1)[0])
                size, uid, gid, mtime = nums["size"], nums["uid"], nums["gid"], nums["mtime"]
            if not keys <= _PAX_PLAIN:  # only then can there be sparse maps or xattrs
                if any(k.startswith("GNU.sparse") for k in merged):
                    raise bad(name, "sparse files are not supported")
                xattrs = {
                    k[len("SCHILY.xattr.") :]: v
                    for k, v in pax.items()
                    if k.startswith("SCHILY.xattr.")
                }
        link = link_b.decode("utf-8", "surrogateescape")
        return (name, blk[156:157], mode, uid, gid, size, mtime, link, devmajor, devminor, xattrs)
