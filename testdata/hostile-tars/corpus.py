"""A corpus of hostile layer tars, each with the error a safe unpacker must raise.

Reusable: `hostile_tars(outside)` returns `HostileTar` values (uncompressed tar
bytes); wrap them in gzip/zstd, push them to a registry or `load` them as you like.
Load it by path (the folder name has a dash): `tests/fixtures` users can do

    spec = importlib.util.spec_from_file_location("hostile_corpus", CORPUS_PY)

Layout contract: the archive is unpacked into `BASE/root`, and `outside` is
`BASE/outside`, which holds a sentinel file `sentinel`. Relative escapes assume
that layout; absolute ones use `outside` itself. After any of these tars, nothing
under `outside` may change. `python3 corpus.py DIR` writes every tar to DIR.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from store.errors import InvalidArchive, StoreError, UnsafeArchiveEntry  # noqa: E402
from store.oci import tar as ts  # noqa: E402


@dataclass(frozen=True)
class HostileTar:
    name: str
    data: bytes  # an uncompressed tar
    error: type[StoreError]
    why: str  # a substring of the error's `why`
    entry: str  # the entry the error must name
    options: dict[str, object] = field(default_factory=dict)  # UnpackOptions fields


def _e(name: str, typ: bytes = ts.REG, data: bytes = b"", **kw: object) -> bytes:
    kw.setdefault("mode", 0o644)
    return (
        ts.header(name, typ, size=len(data) if typ == ts.REG else 0, **kw)
        + data
        + ts.padding(len(data))
    )  # type: ignore[arg-type]


def _tar(*entries: bytes) -> bytes:
    return b"".join(entries) + ts.END_OF_ARCHIVE


def _pax(records: dict[bytes, bytes], name: str, typ: bytes = ts.REG, **kw: object) -> bytes:
    data = b"".join(ts._pax_record(k, v) for k, v in records.items())
    ext = ts._raw_header(b"././@PaxHeader", 0o644, 0, 0, len(data), 0, b"x", b"", 0, 0)
    return ext + data + ts.padding(len(data)) + _e(name, typ, **kw)


def _rechecksum(h: bytearray) -> bytes:
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def _giant(name: str) -> bytes:
    h = bytearray(ts._raw_header(name.encode(), 0o644, 0, 0, 0, 0, ts.REG, b"", 0, 0))
    h[124:136] = b"\x80" + (1 << 62).to_bytes(11, "big")
    return _rechecksum(h)


def _gnu_long(kind: bytes, value: bytes) -> bytes:
    data = value + b"\0"
    hdr = ts._raw_header(b"././@LongLink", 0o644, 0, 0, len(data), 0, kind, b"", 0, 0)
    return hdr + data + ts.padding(len(data))


def hostile_tars(outside: Path) -> list[HostileTar]:
    out = str(outside)
    sent = f"{out}/sentinel"
    U, I = UnsafeArchiveEntry, InvalidArchive  # noqa: E741
    bad_sum = bytearray(_e("f", data=b"x"))
    bad_sum[0:1] = b"g"
    truncated = _e("f", data=b"x" * 1000)[: 512 + 100]
    sparse = bytearray(ts._raw_header(b"sparse", 0o644, 0, 0, 0, 0, b"S", b"", 0, 0))
    return [
        HostileTar(
            "dotdot-file", _tar(_e("../outside/evil", data=b"x")), U, "'..'", "../outside/evil"
        ),
        HostileTar(
            "dotdot-nested",
            _tar(_e("a/b/../../../outside/evil", data=b"x")),
            U,
            "'..'",
            "a/b/../../../outside/evil",
        ),
        HostileTar(
            "abs-symlink-write",
            _tar(_e("link", ts.SYM, linkname=out), _e("link/evil", data=b"x")),
            U,
            "symlink",
            "link/evil",
        ),
        HostileTar(
            "rel-symlink-write",
            _tar(_e("link", ts.SYM, linkname="../outside"), _e("link/evil", data=b"x")),
            U,
            "symlink",
            "link/evil",
        ),
        HostileTar(
            "symlink-chain",
            _tar(
                _e("a", ts.SYM, linkname="b"),
                _e("b", ts.SYM, linkname="../outside"),
                _e("a/evil", data=b"x"),
            ),
            U,
            "symlink",
            "a/evil",
        ),
        HostileTar(
            "symlink-chain-abs",
            _tar(
                _e("x/a", ts.SYM, linkname="/x/b"),
                _e("x/b", ts.SYM, linkname=out),
                _e("x/a/evil", data=b"x"),
            ),
            U,
            "symlink",
            "x/a/evil",
        ),
        HostileTar(
            "symlink-then-mkdir",
            _tar(_e("d", ts.SYM, linkname=out), _e("d/sub/", ts.DIR, mode=0o755)),
            U,
            "symlink",
            "d/sub/",
        ),
        HostileTar(
            "dir-then-symlink-dup",
            _tar(
                _e("d/", ts.DIR, mode=0o755), _e("d", ts.SYM, linkname=out), _e("d/evil", data=b"x")
            ),
            U,
            "duplicate",
            "d",
        ),
        HostileTar(
            "symlink-then-file-dup",
            _tar(_e("f", ts.SYM, linkname=sent), _e("f", data=b"pwned")),
            U,
            "duplicate",
            "f",
        ),
        HostileTar(
            "file-dup", _tar(_e("f", data=b"one"), _e("f", data=b"two")), U, "duplicate", "f"
        ),
        HostileTar(
            "hardlink-abs-host", _tar(_e("h", ts.LNK, linkname=sent)), U, "hard link target", "h"
        ),
        HostileTar(
            "hardlink-dotdot", _tar(_e("h", ts.LNK, linkname="../outside/sentinel")), U, "'..'", "h"
        ),
        HostileTar(
            "hardlink-through-symlink",
            _tar(_e("s", ts.SYM, linkname=out), _e("h", ts.LNK, linkname="s/sentinel")),
            U,
            "hard link target",
            "h",
        ),
        HostileTar(
            "hardlink-to-dir",
            _tar(_e("d/", ts.DIR, mode=0o755), _e("h", ts.LNK, linkname="d")),
            U,
            "hard link target",
            "h",
        ),
        HostileTar(
            "char-device-rootless",
            _tar(_e("null", ts.CHR, devmajor=1, devminor=3)),
            U,
            "device nodes are refused",
            "null",
            {"rootless": True},
        ),
        HostileTar(
            "block-device-rootless",
            _tar(_e("sda", ts.BLK, devmajor=8, devminor=0)),
            U,
            "device nodes are refused",
            "sda",
            {"rootless": True},
        ),
        HostileTar("whiteout-dotdot", _tar(_e(".wh...")), U, "whiteout of '..'", ".wh..."),
        HostileTar(
            "whiteout-dotdot-nested", _tar(_e("a/.wh...")), U, "whiteout of '..'", "a/.wh..."
        ),
        HostileTar(
            "whiteout-through-symlink",
            _tar(_e("s", ts.SYM, linkname=out), _e("s/.wh.sentinel")),
            U,
            "symlink",
            "s/.wh.sentinel",
        ),
        HostileTar(
            "opaque-through-symlink",
            _tar(_e("s", ts.SYM, linkname=out), _e("s/.wh..wh..opq")),
            U,
            "symlink",
            "s/.wh..wh..opq",
        ),
        HostileTar("bare-whiteout", _tar(_e("a/.wh.")), U, "names no file", "a/.wh."),
        HostileTar("aufs-metadata", _tar(_e("d/.wh..wh.aufs")), U, "AUFS", "d/.wh..wh.aufs"),
        HostileTar(
            "pax-path-override",
            _tar(_pax({b"path": b"../outside/evil"}, "safe", data=b"")),
            U,
            "'..'",
            "../outside/evil",
        ),
        HostileTar(
            "pax-linkpath-override",
            _tar(_pax({b"linkpath": b"/../../outside/sentinel"}, "h", ts.LNK, linkname="ok")),
            U,
            "'..'",
            "h",
        ),
        HostileTar("pax-nul-path", _tar(_pax({b"path": b"a\0b"}, "safe")), U, "NUL", "a\0b"),
        HostileTar(
            "gnu-longname-traversal",
            _tar(_gnu_long(b"L", b"../../outside/evil") + _e("x", data=b"x")),
            U,
            "'..'",
            "../../outside/evil",
        ),
        HostileTar("giant-size-header", _tar(_giant("big")), U, "exceeds the cap", "big"),
        HostileTar(
            "size-cap-total",
            _tar(*(_e(f"f{i}", data=b"z" * 600) for i in range(3))),
            U,
            "exceeds the cap",
            "f1",
            {"max_bytes": 1000},
        ),
        HostileTar(
            "overlay-xattr-injection",
            _tar(_e("f", xattrs={"trusted.overlay.redirect": b"/etc"})),
            U,
            "overlay xattr",
            "f",
        ),
        HostileTar(
            "file-as-parent",
            _tar(_e("f", data=b"x"), _e("f/x", data=b"x")),
            U,
            "is not a directory",
            "f/x",
        ),
        HostileTar("root-as-file", _tar(_e("./", data=b"")), U, "root must be a directory", "./"),
        HostileTar(
            "sparse-entry", _tar(_rechecksum(sparse)), U, "unsupported entry type", "sparse"
        ),
        HostileTar("bad-checksum", _tar(bytes(bad_sum)), I, "checksum", "g"),
        HostileTar("truncated", truncated, I, "unexpected end", "f"),
    ]


if __name__ == "__main__":
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    dest.mkdir(parents=True, exist_ok=True)
    for t in hostile_tars(dest.resolve().parent / "outside"):
        (dest / f"{t.name}.tar").write_bytes(t.data)
        print(f"{t.name}.tar  -> {t.error.__name__}: {t.why}")
