"""meta.db: schema registration, layer records, file-hash cache, leases."""

from __future__ import annotations

import threading
from pathlib import Path

from store import meta
from store.layout import open_store
from store.oci.digest import Digest
from store.oci.mediatype import OCI_LAYER_GZIP


def test_connect_is_wal_and_schema_idempotent(tmp_path: Path) -> None:
    conn = meta.connect(tmp_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ddl = "CREATE TABLE IF NOT EXISTS t1 (a TEXT);\nCREATE INDEX IF NOT EXISTS t1a ON t1(a);"
    meta.ensure_schema(conn, "mod", ddl)
    meta.ensure_schema(conn, "mod", ddl)
    meta.ensure_schema(meta.connect(tmp_path), "mod", ddl + "\nCREATE TABLE IF NOT EXISTS t2 (b);")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"t1", "t2", "t1a", "layers", "leases", "file_hashes"} <= names


def test_layer_records(tmp_path: Path) -> None:
    conn = meta.connect(tmp_path)
    diff, blob = Digest.of_bytes(b"tar"), Digest.of_bytes(b"gz")
    rec = meta.LayerRecord(diff, blob, OCI_LAYER_GZIP, 10, 30)
    meta.record_layer(conn, rec)
    meta.record_layer(conn, rec)
    assert meta.layers_by_diff_id(conn, diff) == [rec]
    assert meta.layer_by_digest(conn, blob) == rec
    meta.forget_layer_blob(conn, blob)
    assert meta.layers_by_diff_id(conn, diff) == []


def test_file_hash_cache(tmp_path: Path) -> None:
    c = open_store(tmp_path).file_hashes()
    assert c.get("/x", 1, 2, 3) is None
    assert c.put("/x", 1, 2, 3, "sha256:aa") == "sha256:aa"
    assert c.get("/x", 1, 2, 3) == "sha256:aa"
    for changed in [(9, 2, 3), (1, 9, 3), (1, 2, 9)]:
        assert c.get("/x", *changed) is None
    c.put_many([("/y", 1, 1, 1, "h1"), ("/z", 2, 2, 2, "h2")])
    assert c.get("/z", 2, 2, 2) == "h2"


def test_store_db_is_per_thread(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    seen = []

    def work() -> None:
        seen.append(id(s.db()))
        s.file_hashes().put(f"/t{len(seen)}", 1, 1, 1, "h")

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(set(seen)) == 4 and id(s.db()) not in seen


def test_lease_lifecycle(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    with s.lease(labels="test") as lease:
        lease.add("blob", "sha256:" + "a" * 64)
        live = s.active_leases()
        assert [lid for lid, _ in live] == [lease.id]
        assert s.leased_resources([lease.id]) == {("blob", "sha256:" + "a" * 64)}
    assert s.active_leases() == []
    assert s.db().execute("SELECT COUNT(*) FROM lease_resources").fetchone()[0] == 0


def test_lease_without_resources_lives_in_its_lock_file(tmp_path: Path) -> None:
    # A no-op build names no resources: its lease must cost no meta.db write, yet gc
    # must still see it (and the blobs written since it started).
    from store.gc import gc

    s = open_store(tmp_path)
    with s.lease(labels="noop") as lease:
        assert s.db().execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
        ((lid, created),) = s.active_leases()
        assert lid == lease.id and created == lease.created
        fresh = s.blobs.put_bytes(b"fresh", "x")
        assert gc(s).removed_blobs == []
        assert s.blobs.exists(fresh.digest)
    assert s.active_leases() == []
    assert not list(s.locks_dir.glob("lease-*"))
