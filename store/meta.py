"""The store's metadata database: one sqlite file, `root/meta.db`, in WAL mode.

Owns the connection rules, per-module schema registration, and the tables of the store
core: `layers` (diff_id <-> blob), `leases` (gc protection while a build or pull runs)
and `file_hashes` / `file_xattrs` (the builder's file-hash cache, ARCHITECTURE §8). Other
modules (snapshots, the build cache) create their own tables with `ensure_schema`.

Connection rules (read before using):
- A `sqlite3.Connection` must be used by ONE thread at a time. `Store.db()` hands each
  thread its own connection; do not pass connections between threads.
- Connections are opened with `isolation_level="IMMEDIATE"`: Python begins a write
  transaction (BEGIN IMMEDIATE) just before the first INSERT/UPDATE/DELETE, and `with
  conn:` commits it or rolls it back. Reads before that first write are NOT inside the
  transaction, so a read-check-write sequence must use `write_transaction(conn)`, which
  takes the write lock at once (avoiding the read->write upgrade deadlock too).
- `busy_timeout` is 30 s, so concurrent pybuild processes wait instead of failing.
- WAL + `synchronous=NORMAL`: a crash loses at most the last transactions, never
  consistency. Blobs are the truth; rows here are caches and bookkeeping that fsck can
  check against them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.atomic import PRIVATE_FILE
from store.oci.digest import Digest

DB_NAME = "meta.db"
BUSY_TIMEOUT_MS = 30_000


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once (BEGIN IMMEDIATE), for read-check-write
    sequences: commits on success, rolls back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def connect(root: Path) -> sqlite3.Connection:
    """Open `root/meta.db` (created if missing) with WAL and a busy timeout.
    See the module docstring for the threading rules."""
    path = Path(root) / DB_NAME
    with contextlib.suppress(FileExistsError):  # private; its -wal and -shm take its mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level="IMMEDIATE",
        check_same_thread=True,
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    ensure_schema(conn, "store.meta", CORE_DDL)
    return conn


def ensure_schema(conn: sqlite3.Connection, name: str, ddl: str) -> None:
    """Run `ddl` (use `CREATE ... IF NOT EXISTS`) once per (name, ddl text).

    Idempotent and safe across processes: the DDL is recorded by hash in
    `schema_registry`; a changed DDL is run again (so additive `IF NOT EXISTS`
    changes apply)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_registry ("
        "name TEXT PRIMARY KEY, ddl_sha256 TEXT NOT NULL)"
    )
    want = hashlib.sha256(ddl.encode()).hexdigest()
    row = conn.execute("SELECT ddl_sha256 FROM schema_registry WHERE name=?", (name,)).fetchone()
    if row is not None and row[0] == want:
        return
    with conn:
        for stmt in _statements(ddl):
            conn.execute(stmt)
        conn.execute(
            "INSERT OR REPLACE INTO schema_registry(name, ddl_sha256) VALUES (?, ?)", (name, want)
        )


def _statements(ddl: str) -> list[str]:
    # executescript() would COMMIT outside our transaction; split instead.
    out, buf = [], ""
    for line in ddl.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


CORE_DDL = """
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uncompressed_size INTEGER,
    created REAL NOT NULL,
    PRIMARY KEY (diff_id, media_type, digest)
);
CREATE INDEX IF NOT EXISTS layers_by_digest ON layers(digest);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    pid INTEGER NOT NULL,
    labels TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS file_xattrs (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL
);
"""


# --- layers --------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRecord:
    """One stored form of a layer: its uncompressed diff_id and the blob holding it."""

    diff_id: Digest
    digest: Digest
    media_type: str
    size: int
    uncompressed_size: int | None = None


def record_layer(conn: sqlite3.Connection, rec: LayerRecord) -> None:
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?, ?, ?)",
            (
                str(rec.diff_id),
                str(rec.digest),
                rec.media_type,
                rec.size,
                rec.uncompressed_size,
                time.time(),
            ),
        )


def layers_by_diff_id(conn: sqlite3.Connection, diff_id: Digest) -> list[LayerRecord]:
    rows = conn.execute(
        "SELECT diff_id, digest, media_type, size, uncompressed_size "
        "FROM layers WHERE diff_id=? ORDER BY created",
        (str(diff_id),),
    )
    return [_layer(r) for r in rows]


def layer_by_digest(conn: sqlite3.Connection, digest: Digest) -> LayerRecord | None:
    r = conn.execute(
        "SELECT diff_id, digest, media_type, size, uncompressed_size "
        "FROM layers WHERE digest=? LIMIT 1",
        (str(digest),),
    ).fetchone()
    return _layer(r) if r else None


def forget_layer_blob(conn: sqlite3.Connection, digest: Digest) -> None:
    with conn:
        conn.execute("DELETE FROM layers WHERE digest=?", (str(digest),))


def _layer(r: tuple) -> LayerRecord:
    return LayerRecord(Digest.parse(r[0]), Digest.parse(r[1]), r[2], r[3], r[4])


# --- file-hash cache -----------------------------------------------------------


class FileHashTable:
    """The rows behind `builder.filehash.FileHashCache` (which memoises and batches
    them): (path, size, mtime_ns, inode) -> content hash, so a no-op rebuild re-reads
    nothing. A hit needs all four to match; any change is a miss."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        r = self._conn.execute(
            "SELECT size, mtime_ns, inode, hash FROM file_hashes WHERE path=?", (str(path),)
        ).fetchone()
        if r is None or (r[0], r[1], r[2]) != (size, mtime_ns, inode):
            return None
        return r[3]

    def put(self, path: str, size: int, mtime_ns: int, inode: int, content_hash: str) -> str:
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)",
                (str(path), size, mtime_ns, inode, str(content_hash)),
            )
        return str(content_hash)

    def put_many(self, rows: list[tuple[str, int, int, int, str]]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)",
                [(str(p), s, m, i, str(h)) for p, s, m, i, h in rows],
            )

    def hashes_under(self, lo: str) -> Iterator[tuple[str, int, int, int, str]]:
        """(path, size, mtime_ns, inode, hash) of every content row under the dir `lo/`."""
        return self._under("SELECT path, size, mtime_ns, inode, hash FROM file_hashes", lo)

    def xattrs_under(self, lo: str) -> Iterator[tuple[str, int, int, str]]:
        """(path, inode, ctime_ns, digest) of every xattr row under the dir `lo/`."""
        return self._under("SELECT path, inode, ctime_ns, digest FROM file_xattrs", lo)

    def _under(self, select: str, lo: str) -> Iterator[Any]:
        # paths under "a/b/" sort from "a/b/" up to (not including) "a/b0" ("0" follows "/")
        return iter(
            self._conn.execute(f"{select} WHERE path >= ? AND path < ?", (lo, lo[:-1] + "0"))
        )

    def xattr_row(self, path: str) -> tuple[int, int, str] | None:
        """(inode, ctime_ns, digest) stored for `path`, or None."""
        return self._conn.execute(
            "SELECT inode, ctime_ns, digest FROM file_xattrs WHERE path=?", (path,)
        ).fetchone()

    def put_xattrs(self, rows: list[tuple[str, int, int, str]]) -> None:
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO file_xattrs VALUES (?, ?, ?, ?)", rows)

    def clear(self) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM file_hashes")
