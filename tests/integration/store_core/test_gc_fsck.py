"""prune/gc and fsck on real stores: what is kept, what goes, what fsck finds and fixes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from store.fsck import fsck
from store.gc import add_root, gc, remove_roots
from store.image import resolve_image
from store.layout import open_store
from store.meta import LayerRecord, record_layer
from store.oci.mediatype import OCI_LAYER_GZIP
from tests.fixtures.common import REPO
from tests.integration.store_core.helpers import small_image


def _old(store, digests) -> None:  # type: ignore[no-untyped-def]
    for d in digests:
        os.utime(store.blobs.path(d), (1, 1))


def test_prune_removes_only_unreferenced(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    keep = resolve_image(s, str(small_image(s, "keep:1", seed="k", layers=2).digest))
    gone = resolve_image(s, str(small_image(s, "gone:1", seed="g", layers=2).digest))
    untagged = resolve_image(s, str(small_image(s, None, seed="u").digest))
    stray = s.blobs.put_bytes(b"stray", "x")
    gone_blobs = gone.blobs()
    s.refs.delete("gone:1")
    rep = gc(s)
    assert set(rep.removed_blobs) == {d.digest for d in gone_blobs} | {stray.digest}
    assert rep.freed_bytes == sum(d.size for d in gone_blobs) + 5
    for d in keep.blobs() + untagged.blobs():
        assert s.blobs.exists(d.digest)
    untagged_blobs = untagged.blobs()
    assert gc(s, all=True, dry_run=True).removed_blobs  # untagged would go ...
    assert all(s.blobs.exists(d.digest) for d in untagged_blobs)  # ... but dry run keeps it
    rep = gc(s, all=True)
    assert set(rep.removed_blobs) == {d.digest for d in untagged_blobs} and rep.removed_roots == 1
    assert set(s.blobs.iter_digests()) == {d.digest for d in keep.blobs()}
    assert fsck(s).clean


def test_gc_roots_and_layer_records(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    cached = s.blobs.put_bytes(b"cache layer", OCI_LAYER_GZIP)
    record_layer(s.db(), LayerRecord(cached.digest, cached.digest, OCI_LAYER_GZIP, 11, 11))
    add_root(s, "blob", str(cached.digest), "build-cache")
    assert gc(s).removed_blobs == []
    remove_roots(s, "build-cache")
    assert gc(s).removed_blobs == [cached.digest]
    assert s.db().execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 0


def test_lease_protects_fresh_content_until_holder_dies(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    old = s.blobs.put_bytes(b"old", "x")
    _old(s, [old.digest])
    # A holder in another process, like a build that has not tagged its result yet.
    code = (
        f"import sys,io,time; sys.path.insert(0, {str(REPO)!r})\n"
        "from store.layout import open_store\n"
        f"s = open_store({str(tmp_path)!r})\n"
        "with s.lease() as l:\n"
        "    d = s.blobs.put_bytes(b'fresh', 'x'); l.add('blob', str(s.blobs.put_bytes(b'named', 'x').digest))\n"
        "    print('ready', flush=True); time.sleep(60)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
        rep = gc(s)
        assert rep.removed_blobs == [old.digest]  # fresh and named blobs survive
        assert len(list(s.blobs.iter_digests())) == 2
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    time.sleep(0.01)
    for d in list(s.blobs.iter_digests()):
        os.utime(s.blobs.path(d), (1, 1))
    assert len(gc(s).removed_blobs) == 2  # the dead holder protects nothing
    assert s.active_leases() == []


def test_fsck_finds_and_repairs(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    a = resolve_image(s, str(small_image(s, "a:1", seed="a", layers=2).digest))
    b = resolve_image(s, str(small_image(s, "b:1", seed="b").digest))
    assert fsck(s).clean
    # Rot one layer of a (same size), remove b's config, add a stray file and a
    # leftover ingest, and break oci-layout.
    p = s.blobs.path(a.manifest().layers[1].digest)
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    s.blobs.delete(b.manifest().config.digest)
    (tmp_path / "blobs" / "sha256" / "not-a-digest").write_text("x")
    (tmp_path / "tmp" / "ingest-dead").write_bytes(b"partial")
    (tmp_path / "oci-layout").write_text("{")
    rep = fsck(s)
    assert not rep.clean
    text = "\n".join(rep.errors)
    assert f"blob {a.manifest().layers[1].digest} is corrupt" in text
    assert "image a:1: layer" in text and "image b:1: config" in text and "stray entry" in text
    assert any("ingest-dead" in f for f in rep.fixed) and any("oci-layout" in f for f in rep.fixed)
    assert json.loads((tmp_path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert {n for n, _ in s.refs.list()} == {"a:1", "b:1"}  # nothing dropped without --repair
    rep = fsck(s, repair=True)
    assert rep.clean, rep.errors
    assert s.refs.list() == [] and not s.blobs.exists(a.manifest().layers[1].digest)
    assert fsck(s).clean


def test_fsck_leaves_live_ingests_alone(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    with s.blobs.writer("x") as w:
        w.write(b"in progress")
        rep = fsck(s)
        assert rep.clean and any("live process" in n for n in rep.notes)
        d = w.commit()
    assert s.blobs.exists(d.digest)


def test_fsck_and_prune_with_snapshots(tmp_path: Path, busybox_tar: Path) -> None:
    """The snapshotter: prune drops snapshots of removed images, keeps the rest."""
    from store.rootfs_import import import_rootfs

    s = open_store(tmp_path)
    import_rootfs(s, busybox_tar, "bb:1")
    small_image(s, "small:1", layers=2)
    for ref in ("bb:1", "small:1"):
        img = resolve_image(s, ref)
        s.snapshots.ensure_layers([x.descriptor for x in img.layers()], list(img.config().diff_ids))
    assert len(s.snapshots.list()) == 3
    assert fsck(s).clean
    s.refs.delete("small:1")
    rep = gc(s)
    assert len(rep.removed_snapshots) == 2
    (left,) = s.snapshots.list()
    assert left.chain_id == resolve_image(s, "bb:1").config().diff_ids[0]
    assert (left.path / "bin" / "busybox").is_file()
    assert fsck(s).clean


def test_prune_keeps_build_cache_layers_unless_all(tmp_path: Path) -> None:
    from builder.cache import BuildCache, CacheInputs, CacheResult

    s = open_store(tmp_path)
    layer = s.blobs.put_bytes(b"cached step layer", OCI_LAYER_GZIP)
    cache = BuildCache(s)
    cache.record(
        "k1",
        "",
        CacheInputs(position="Dockerfile:0:1", instruction="RUN x"),
        CacheResult(kind="layer", layer=layer, diff_id=layer.digest, chain_id=None, created=None),
    )
    assert gc(s).removed_blobs == []
    assert gc(s, all=True).removed_blobs == [layer.digest]
    assert s.db().execute("SELECT * FROM gc_roots").fetchall() == []  # its content is gone


def _roots(s) -> list[tuple[str, str, str]]:
    return s.db().execute("SELECT kind, key, owner FROM gc_roots ORDER BY kind").fetchall()


def test_the_build_cache_keeps_its_content_through_gc_roots(tmp_path: Path) -> None:
    """The store's gc reads no builder table: each cache entry registers its layer and
    snapshot as roots it owns, forgetting the entry drops them, and entries of a store
    made before that are registered once when the cache opens."""
    from builder.cache import ROOTS_SCHEMA_NAME, BuildCache, CacheInputs, CacheResult

    s = open_store(tmp_path)
    layer = s.blobs.put_bytes(b"a cached layer", OCI_LAYER_GZIP)
    chain = "sha256:" + "c" * 64
    result = CacheResult(kind="layer", layer=layer, diff_id=layer.digest, chain_id=chain)
    cache = BuildCache(s)
    cache.record("k1", "", CacheInputs(position="Dockerfile:0:1", instruction="RUN x"), result)
    owned = [("blob", str(layer.digest), "build-cache:k1"), ("snapshot", chain, "build-cache:k1")]
    assert _roots(s) == owned
    cache.forget("k1")
    assert _roots(s) == [] and gc(s).removed_blobs == [layer.digest]

    layer = s.blobs.put_bytes(b"recorded by an older pybuild", OCI_LAYER_GZIP)
    result = CacheResult(kind="layer", layer=layer, diff_id=layer.digest, chain_id=None)
    cache.record("k2", "", CacheInputs(position="Dockerfile:0:2", instruction="RUN y"), result)
    with s.db() as conn:
        conn.execute("DELETE FROM gc_roots")
        conn.execute("DELETE FROM schema_registry WHERE name=?", (ROOTS_SCHEMA_NAME,))
    BuildCache(s)
    assert _roots(s) == [("blob", str(layer.digest), "build-cache:k2")]
    assert gc(s).removed_blobs == []
    imported = CacheResult(kind="layer", layer=layer, diff_id=layer.digest, chain_id=None)
    assert (
        cache.import_rows(
            [{"key": "k3", "parent": "", "position": "p", "result": imported.to_json()}]
        )
        == 1
    )
    assert ("blob", str(layer.digest), "build-cache:k3") in _roots(s)
