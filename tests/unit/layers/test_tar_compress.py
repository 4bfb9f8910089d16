"""The tar header writer/reader agree with Python's tarfile and GNU tar; gzip and
zstd output is standard, and byte-identical for any thread count."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import whiteout
from store.compress import ParallelGzipWriter, compressor, open_decompressed, sniff
from store.errors import InvalidArchive
from store.oci import tar as ts


def _one(name: str, typ: bytes, data: bytes = b"", **kw: object) -> bytes:
    return ts.header(name, typ, size=len(data), **kw) + data + ts.padding(len(data))  # type: ignore[arg-type]


def test_headers_read_back_by_tarfile_and_by_our_reader() -> None:
    caps = bytes.fromhex("0100000200100000000000000000000000000000")
    blob = (
        _one("dir/", ts.DIR, mode=0o1777, mtime=5)
        + _one(
            "dir/suid",
            ts.REG,
            b"abc",
            mode=0o4755,
            uid=1000,
            gid=2000,
            mtime=7,
            xattrs={"security.capability": caps},
        )
        + _one("dir/" + "n" * 180, ts.REG, b"z" * 700, mode=0o644)
        + _one("dir/lnk", ts.SYM, mode=0o777, linkname="/" + "t" * 130)
        + _one("dir/hard", ts.LNK, mode=0o644, linkname="dir/suid")
        + _one("dir/dev", ts.CHR, mode=0o600, devmajor=1, devminor=5)
        + _one("big-ids", ts.REG, b"", mode=0o600, uid=1 << 30, gid=1 << 31)
        + ts.END_OF_ARCHIVE
    )
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        got = {m.name: m for m in t.getmembers()}
    assert got["dir/suid"].mode == 0o4755 and got["dir/suid"].uid == 1000
    assert got["dir/suid"].uname == "" and got["dir/suid"].gname == ""
    assert got["dir/" + "n" * 180].size == 700
    assert got["dir/lnk"].linkname == "/" + "t" * 130
    assert got["big-ids"].uid == 1 << 30 and got["big-ids"].gid == 1 << 31
    r = ts.TarReader(io.BytesIO(blob))
    mine = {}
    for e in r:
        mine[e.unsafe_name] = (e, r.read_data())
    assert mine["dir/suid"][0].xattrs == {"security.capability": caps}
    assert mine["dir/suid"][1] == b"abc"
    assert mine["dir/dev"][0].devminor == 5 and mine["dir/hard"][0].unsafe_linkname == "dir/suid"
    listing = subprocess.run(
        ["tar", "-tvf", "-"], input=blob, capture_output=True, check=True
    ).stdout
    assert b"dir/" + b"n" * 180 in listing


def test_reader_reads_gnu_longnames_from_tarfile() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
        ti = tarfile.TarInfo("p/" + "x" * 300)
        ti.size = 3
        t.addfile(ti, io.BytesIO(b"abc"))
    r = ts.TarReader(io.BytesIO(out.getvalue()))
    names = [(e.unsafe_name, r.read_data()) for e in r]
    assert names == [("p/" + "x" * 300, b"abc")]


@given(st.binary(max_size=300_000), st.integers(1, 4))
def test_parallel_gzip_is_standard_and_thread_count_independent(data: bytes, threads: int) -> None:
    outs = []
    for n in (1, threads):
        buf = io.BytesIO()
        w = ParallelGzipWriter(buf, threads=n, block_size=64 * 1024)
        for i in range(0, len(data), 7919):
            w.write(data[i : i + 7919])
        w.close()
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    assert gzip.decompress(outs[0]) == data


def test_gzip_and_zstd_are_readable_by_the_cli_tools() -> None:
    data = os.urandom(1 << 20) + b"compressible " * 100_000
    for kind, cmd in (("gzip", ["gzip", "-dc"]), ("zstd", ["zstd", "-dc"])):
        outs = []
        for threads in (1, 2):
            buf = io.BytesIO()
            w = compressor(kind, buf, threads=threads)
            w.write(data)
            w.close()
            outs.append(buf.getvalue())
        assert outs[0] == outs[1], kind
        assert sniff(outs[0]) == kind
        assert subprocess.run(cmd, input=outs[0], capture_output=True, check=True).stdout == data
        r = open_decompressed(io.BytesIO(outs[0]))
        got = bytearray()
        while chunk := r.read(100_000):
            got += chunk
        assert bytes(got) == data


def test_decompress_concatenated_gzip_members_and_reject_garbage() -> None:
    blob = gzip.compress(b"one") + gzip.compress(b"two")
    r = open_decompressed(io.BytesIO(blob))
    assert r.read(100) + r.read(100) == b"onetwo"
    r = open_decompressed(io.BytesIO(gzip.compress(b"one") + b"garbage"))
    with pytest.raises(InvalidArchive):
        while r.read(100):
            pass


def test_whiteout_names() -> None:
    assert whiteout.oci_whiteout_name("a/b") == "a/.wh.b"
    assert whiteout.oci_whiteout_name("b") == ".wh.b"
    assert whiteout.oci_opaque_name("a/") == "a/.wh..wh..opq"
    assert whiteout.classify(".wh..wh..opq") == ("opaque", "")
    assert whiteout.classify(".wh.x") == ("whiteout", "x")
    assert whiteout.classify("x") == ("file", "x")
    for bad in (".wh.", ".wh...", ".wh..", ".wh..wh.plnk"):
        with pytest.raises(ValueError):
            whiteout.classify(bad)
    assert whiteout.ROOTLESS_FORMAT.opaque_xattr == "user.overlay.opaque"
    assert whiteout.ROOTLESS_FORMAT.userxattr and not whiteout.ROOT_FORMAT.userxattr


_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"),
    min_size=1,
    max_size=120,
)


@given(
    st.lists(_names, min_size=1, max_size=3),
    st.integers(0, 0o7777),
    st.integers(0, 1 << 40),
    st.integers(0, 1 << 33),
    st.integers(-(1 << 20), 1 << 36),
    st.binary(max_size=600),
    st.dictionaries(
        st.sampled_from(["user.a", "security.capability", "trusted.x"]),
        st.binary(max_size=40),
        max_size=2,
    ),
)
def test_header_round_trip(parts, mode, uid, gid, mtime, data, xattrs) -> None:
    name = "/".join(parts)
    blob = (
        ts.header(
            name, ts.REG, mode=mode, uid=uid, gid=gid, size=len(data), mtime=mtime, xattrs=xattrs
        )
        + data
        + ts.padding(len(data))
        + ts.END_OF_ARCHIVE
    )
    r = ts.TarReader(io.BytesIO(blob))
    (entry,) = [(e, bytes(r.read_data(1 << 20))) for e in r]
    e, got = entry
    assert (e.unsafe_name, e.mode, e.uid, e.gid, e.size, got, e.xattrs) == (
        name,
        mode,
        uid,
        gid,
        len(data),
        data,
        xattrs,
    )
    assert e.mtime == mtime
