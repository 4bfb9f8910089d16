"""Where blobs came from: (digest -> registry, repository) rows in the store's sqlite,
recorded by pull and push, so push can ask a registry to cross-repo mount a blob from
a repository that already holds it instead of uploading it again."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from store import meta
from store.oci.digest import Digest

if TYPE_CHECKING:
    from store.layout import Store

SCHEMA_NAME = "registry_client.blob_sources"
DDL = """
CREATE TABLE IF NOT EXISTS registry_blob_sources (
    digest TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (digest, registry, repository)
);
CREATE INDEX IF NOT EXISTS registry_blob_sources_by_reg
    ON registry_blob_sources (digest, registry);
"""


def _conn(store: Store) -> sqlite3.Connection | None:
    db = getattr(store, "db", None)
    if db is None:
        return None
    conn = db()
    meta.ensure_schema(conn, SCHEMA_NAME, DDL)
    return conn


def record(store: Store, registry: str, repository: str, digests: Iterable[Digest]) -> None:
    conn = _conn(store)
    if conn is None:
        return
    now = time.time()
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO registry_blob_sources VALUES (?, ?, ?, ?)",
            [(str(d), registry, repository, now) for d in digests],
        )


def repositories_with(store: Store, registry: str, digest: Digest) -> list[str]:
    """Repositories on `registry` known to hold `digest`, most recently seen first."""
    conn = _conn(store)
    if conn is None:
        return []
    rows = conn.execute(
        "SELECT repository FROM registry_blob_sources WHERE digest=? AND registry=? "
        "ORDER BY seen DESC LIMIT 3",
        (str(digest), registry),
    ).fetchall()
    return [r[0] for r in rows]
