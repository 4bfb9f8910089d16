"""The `gc_roots` table: content other parts of pybuild ask the garbage collector to
keep, each row owned by whoever registered it. `store.gc` reads it; owners (the build
cache) write it inside their own transactions. Kept apart from `store.gc` so an owner
imports only this, not the collector."""

from __future__ import annotations

import sqlite3

GC_ROOTS_DDL = """
CREATE TABLE IF NOT EXISTS gc_roots (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    PRIMARY KEY (kind, key, owner)
);
"""


def add_root_in(conn: sqlite3.Connection, kind: str, key: str, owner: str) -> None:
    """`add_root` inside the caller's transaction (the table must exist)."""
    conn.execute("INSERT OR IGNORE INTO gc_roots VALUES (?, ?, ?)", (kind, str(key), owner))


def remove_roots_in(conn: sqlite3.Connection, owner: str) -> None:
    """Drop every root `owner` registered, inside the caller's transaction."""
    conn.execute("DELETE FROM gc_roots WHERE owner=?", (owner,))
