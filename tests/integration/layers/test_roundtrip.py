"""diff -> unpack round trips on real overlay mounts: a base layer with every file
type, then every kind of change made in a merged dir; the layers, unpacked into a
fresh store and stacked, must give back exactly the tree that was mounted."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from store.compress import open_decompressed
from store.layout import open_store
from tests.integration.layers.helpers import describe

CAPS = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw, effective


def _base_tree(m: Path) -> None:
    for d in ("etc", "bin", "usr/lib", "var/empty", "data/sub", "opq/keep", "gone-dir/x", "todir"):
        (m / d).mkdir(parents=True, exist_ok=True)
    (m / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (m / "etc/config").write_text("v1\n")
    (m / "bin/tool").write_bytes(b"\x7fELF" + os.urandom(3000))
    os.chmod(m / "bin/tool", 0o4755)
    os.setxattr(m / "bin/tool", "security.capability", CAPS)
    os.setxattr(m / "etc/config", "user.note", b"hello")
    os.link(m / "bin/tool", m / "bin/tool-hardlink")
    os.symlink("../usr/lib", m / "bin/lib")
    os.symlink("/etc/passwd", m / "passwd-abs")
    os.mkfifo(m / "data/fifo")
    os.mknod(m / "data/null", 0o20666, os.makedev(1, 3))
    os.chmod(m / "data/null", 0o666)
    os.mkdir(m / "tmp", 0o1777)
    os.chmod(m / "tmp", 0o1777)
    os.chmod(m / "usr/lib", 0o2755)
    (m / "data/sub/owned").write_text("owned")
    os.chown(m / "data/sub/owned", 1000, 1000)
    (m / "opq/keep/old").write_text("old")
    (m / "opq/old-top").write_text("old")
    (m / "gone-dir/x/f").write_text("f")
    (m / "tofile").mkdir()
    (m / "tofile/child").write_text("c")
    (m / "todir/.keep").write_text("")
    (m / "todir-file").write_text("file")
    (m / "ünicode-ñame").write_text("u")
    (m / ("long-" + "n" * 200)).write_text("long")
    os.utime(m / "etc/passwd", (1_500_000_000, 1_500_000_000))


def _changes(m: Path) -> None:
    (m / "added").write_text("new file")  # add
    (m / "etc/config").write_text("v2\n")  # modify
    (m / "passwd-abs").unlink()  # delete a symlink
    shutil.rmtree(m / "gone-dir")  # delete a tree
    shutil.rmtree(m / "tofile")  # replace a dir with a file
    (m / "tofile").write_text("now a file")
    (m / "todir-file").unlink()  # replace a file with a dir
    (m / "todir-file").mkdir()
    (m / "todir-file/inner").write_text("inner")
    shutil.rmtree(m / "opq")  # make a dir opaque
    (m / "opq").mkdir()
    (m / "opq/fresh").write_text("fresh")
    os.chmod(m / "etc/passwd", 0o600)  # chmod only
    os.chown(m / "data/sub/owned", 2000, 2000)  # chown only
    os.link(m / "etc/passwd", m / "etc/passwd-link")  # hard link to a lower file
    (m / "new-hl-a").write_text("pair")  # hard links made in the layer
    os.link(m / "new-hl-a", m / "new-hl-b")
    os.setxattr(m / "added", "security.capability", CAPS)  # xattr on a new file
    os.symlink("added", m / "added-link")
    os.mkdir(m / "empty-new")  # empty dir
    os.unlink(m / "bin/tool-hardlink")  # delete one name of a pair


@pytest.mark.root
@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_round_trip_every_type_and_change(tmp_path: Path, compression: str | None) -> None:
    src = open_store(tmp_path / "src")
    sn = src.snapshots
    with sn.prepare(None) as a:
        _base_tree(a.merged)
        want_base = describe(a.merged)
        l1 = sn.commit(a, compression=compression)
    b = sn.prepare(l1.chain_id)
    assert describe(b.merged) == want_base  # the committed upper as a lower
    _changes(b.merged)
    want = describe(b.merged)
    l2 = sn.commit(b, compression=compression)
    plain = open_decompressed(io.BytesIO(b"".join(_blob(src, l2.descriptor))))
    with tarfile.open(fileobj=io.BytesIO(plain.read(1 << 30))) as t:
        names = set(t.getnames())
    assert {"opq/.wh..wh..opq", ".wh.passwd-abs", ".wh.gone-dir", "bin/.wh.tool-hardlink"} <= names
    assert not any(n.startswith("gone-dir/") for n in names)

    dst = open_store(tmp_path / "dst")
    for r in (l1, l2):
        dst.blobs.put(io.BytesIO(b"".join(_blob(src, r.descriptor))), r.descriptor.media_type)
    top = dst.snapshots.ensure_layers([l1.descriptor, l2.descriptor], [l1.diff_id, l2.diff_id])
    assert top == l2.chain_id
    with dst.snapshots.prepare(top) as c:
        got = describe(c.merged)
    assert got == want
    with sn.prepare(l2.chain_id) as again:  # the reused upper dir
        assert describe(again.merged) == want
    for s, chain in ((sn, l2.chain_id), (sn, l1.chain_id), (dst.snapshots, top)):
        s.remove(chain)
    assert sn.list() == [] and dst.snapshots.list() == []


def _blob(store, desc) -> list[bytes]:
    with store.blobs.open(desc.digest, desc.size) as f:
        return [f.read()]
