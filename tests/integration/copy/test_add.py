"""ADD: local archives (recognised by content) are extracted safely; URLs are
fetched from a loopback http.server with --checksum and Last-Modified."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from builder.add import prepare_add
from builder.context import CopyError, SourceTree
from builder.copy import CopyOptions
from builder.filehash import FileHashCache
from builder.local_archive import is_archive
from tests.fixtures.http_files import Handler, serve
from tests.integration.copy.treeutil import make_tree, read_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)


def _tar(members: list[tuple[str, bytes | None, dict]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, kw in members:
            ti = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(ti, k, v)
            if data is None and ti.type == tarfile.REGTYPE:
                ti.type = tarfile.DIRTYPE
            ti.size = len(data) if data is not None and ti.type == tarfile.REGTYPE else 0
            tf.addfile(ti, io.BytesIO(data) if ti.size else None)
    return buf.getvalue()


TAR = _tar(
    [
        ("pkg", None, {"mode": 0o755}),
        ("pkg/bin.sh", b"#!/bin/sh\n", {"mode": 0o755, "uid": 33, "gid": 44}),
        ("pkg/ln", None, {"type": tarfile.SYMTYPE, "linkname": "bin.sh"}),
    ]
)
COMPRESS = {
    "plain": lambda b: b,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


def _add(ctx: Path, target: Path, srcs: list[str], dest: str, tmp: Path, **kw):
    plan = prepare_add(
        SourceTree.context(ctx), srcs, tmp / "staging", CopyOptions(**kw.pop("opts", {})), **kw
    )
    plan.apply(dest, str(target))
    return plan


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_add_extracts_archives_by_content(tmp_path: Path, kind: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "payload.bin").write_bytes(COMPRESS[kind](TAR))  # the name says nothing
    target = tmp_path / "t"
    target.mkdir()
    assert is_archive(str(ctx / "payload.bin"))
    _add(ctx, target, ["payload.bin"], "/opt", tmp_path)
    got = read_tree(target)
    assert got["opt/pkg/bin.sh"] == ("file", 0o755, 33, 44, "#!/bin/sh\n")
    assert got["opt/pkg/ln"][4] == "bin.sh"
    assert "opt/payload.bin" not in got


def test_add_chown_applies_to_archive_members(tmp_path: Path) -> None:
    from builder.chown import Owner

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.tgz").write_bytes(COMPRESS["gzip"](TAR))
    target = make_tree(tmp_path / "t", {"opt/old": "keep"})
    _add(ctx, target, ["a.tgz"], "/opt/", tmp_path, opts={"owner": Owner(1000, 1000)})
    got = read_tree(target)
    assert got["opt/pkg/bin.sh"] == ("file", 0o755, 1000, 1000, "#!/bin/sh\n")
    assert got["opt/pkg"][1:4] == (0o755, 1000, 1000)
    assert got["opt/pkg/ln"][2:] == (1000, 1000, "bin.sh")
    assert got["opt/old"] == ("file", 0o644, 0, 0, "keep")
    assert [p for p in os.listdir(tmp_path) if p.startswith(".pybuild-add-")] == []


def test_add_non_archive_is_copied(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {"fake.tar.gz": "not an archive", "a.txt": "A"})
    (ctx / "trunc.gz").write_bytes(gzip.compress(b"short"))
    target = tmp_path / "t"
    target.mkdir()
    _add(ctx, target, ["fake.tar.gz", "a.txt", "trunc.gz"], "/d/", tmp_path)
    got = read_tree(target)
    assert got["d/fake.tar.gz"][4] == "not an archive" and got["d/a.txt"][4] == "A"
    assert "d/trunc.gz" in got


@pytest.mark.parametrize(
    "evil",
    [
        [("../escape", b"x", {})],
        [("a", None, {"type": tarfile.SYMTYPE, "linkname": "/"}), ("a/etc/evil", b"x", {})],
        [("h", None, {"type": tarfile.LNKTYPE, "linkname": "../../outside"})],
    ],
)
def test_hostile_archive_is_refused(tmp_path: Path, evil) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "evil.tar").write_bytes(_tar(evil))
    target = tmp_path / "t"
    target.mkdir()
    with pytest.raises(CopyError) as info:
        _add(ctx, target, ["evil.tar"], "/x/", tmp_path)
    assert str(info.value).startswith("ADD failed: ") and "\n" not in str(info.value)
    assert not (tmp_path / "escape").exists() and not Path("/etc/evil").exists()


# --- remote ---------------------------------------------------------------------

BODY = b"remote payload\n"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


class _Handler(Handler):
    def respond(self, path: str, n: int) -> tuple[int, bytes, dict[str, str]]:
        if path.startswith("/missing"):
            return 404, b"", {}
        body = COMPRESS["gzip"](TAR) if path.endswith(".tgz") else BODY
        return 200, body, {} if path.startswith("/nolm") else {"Last-Modified": LAST_MODIFIED}


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    with serve(_Handler) as got:
        yield got


def test_add_url_with_checksum_and_last_modified(tmp_path: Path, server) -> None:
    base, hits = server
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    target = tmp_path / "t"
    target.mkdir()
    good = "sha256:" + hashlib.sha256(BODY).hexdigest()
    plan = _add(
        ctx, target, [f"{base}/files/tool.sh?x=1"], "/usr/local/bin/", tmp_path, checksum=good
    )
    got = read_tree(target)
    assert got["usr/local/bin/tool.sh"] == ("file", 0o600, 0, 0, BODY.decode())
    assert os.stat(target / "usr/local/bin/tool.sh").st_mtime == 1445412480
    assert hits == ["/files/tool.sh?x=1"]
    h1 = plan.source_hash(FileHashCache()).digest
    plan2 = prepare_add(
        SourceTree.context(ctx),
        [f"{base}/files/tool.sh?x=1"],
        tmp_path / "staging2",
        CopyOptions(chmod=0o755),
    )
    assert plan2.source_hash(FileHashCache()).digest != h1


def test_add_url_checksum_mismatch(tmp_path: Path, server) -> None:
    base, _ = server
    bad = "sha256:" + "0" * 64
    with pytest.raises(
        CopyError,
        match=r"ADD failed: digest mismatch for .*expected sha256:0+, "
        r"got sha256:[0-9a-f]{64}",
    ):
        prepare_add(
            SourceTree.context(tmp_path), [f"{base}/f"], tmp_path / "s", CopyOptions(), checksum=bad
        )
    assert not list((tmp_path / "s").rglob("f"))


def test_add_url_names_and_no_extraction(tmp_path: Path, server) -> None:
    base, _ = server
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    target = tmp_path / "t"
    target.mkdir()
    _add(ctx, target, [f"{base}/pkg.tgz"], "/dl/", tmp_path)
    _add(ctx, target, [f"{base}/nolm/x"], "/renamed", tmp_path, opts={"chmod": 0o644})
    _add(ctx, target, [f"{base}/"], "/u/", tmp_path)
    got = read_tree(target)
    assert got["dl/pkg.tgz"][0] == "file"  # remote archives are never extracted
    assert got["renamed"] == ("file", 0o644, 0, 0, BODY.decode())
    assert "u/__unnamed__" in got
    with pytest.raises(CopyError, match="invalid response status 404"):
        _add(ctx, target, [f"{base}/missing"], "/m", tmp_path)
    with pytest.raises(CopyError, match="checksum can't be specified"):
        _add(ctx, target, ["a.txt"], "/m", tmp_path, checksum="sha256:" + "0" * 64)
    with pytest.raises(CopyError, match="more than one source file"):
        _add(ctx, target, [f"{base}/a", f"{base}/b"], "/m", tmp_path)
