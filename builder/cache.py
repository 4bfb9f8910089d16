"""The build cache (ARCHITECTURE §8): step keys, the persistent key -> result table, and the
reason each miss re-ran.

A step's key is the sha256 of a canonical JSON of the parent key and the step's record,
`builder.cache_inputs.CacheInputs` (made there, from the typed step): the instruction's
canonical text after expansion, the build args and env the step can see, the platform,
and for COPY/ADD the content hashes of its sources (from `builder.filehash`: content,
mode and ownership; mtimes never count). Other inputs that decide the result (the base
image digest of FROM, a `--from` stage's key, bind-mount sources) go in `extra`.

Results live in the store's sqlite (`build_cache` table, created here with
`store.meta.ensure_schema`): a layer step's layer descriptor, diff_id, chain id and
history time; an empty-diff step; or a metadata step (config changes are recomputed
from the instruction, which is cheap and needs nothing stored).

Miss reasons compare a step's inputs with the most recent earlier entry at the same
*position* (Dockerfile + stage + step index): the first input that differs names the
reason, e.g. `re-ran: build arg VERSION changed (1.0 -> 1.1)`, `re-ran: src/app.py
changed`, `re-ran: parent step 4 re-ran`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder.cache_inputs import MAX_STORED_SOURCES, CacheInputs
from store import gc_roots, meta
from store.errors import StoreError
from store.oci.digest import Descriptor, Digest

if TYPE_CHECKING:
    from store.layout import Store

SCHEMA_NAME = "builder.cache"
DDL = """
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    position TEXT NOT NULL,
    inputs TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_by_position ON build_cache(position, last_used);
"""
# Each entry's layer blob and snapshot are gc roots owned by "build-cache:<key>"; the
# backfill (run once per store) registers the entries recorded before that.
ROOT_OWNER = "build-cache:"
ROOTS_SCHEMA_NAME = "builder.cache.gc_roots"
ROOTS_BACKFILL = """
INSERT OR IGNORE INTO gc_roots
    SELECT 'blob', json_extract(result, '$.layer.digest'), 'build-cache:' || key
    FROM build_cache WHERE json_extract(result, '$.layer.digest') IS NOT NULL;
INSERT OR IGNORE INTO gc_roots
    SELECT 'snapshot', json_extract(result, '$.chain_id'), 'build-cache:' || key
    FROM build_cache WHERE json_extract(result, '$.chain_id') IS NOT NULL;
"""
# last_used (for pruning) is refreshed at most this often, in seconds
LAST_USED_GRAIN = 600.0


def compute_key(parent: str, inputs: CacheInputs) -> str:
    """sha256 of the parent key and the record (`builder.cache_inputs`), position aside."""
    doc = {"parent": parent, **inputs.to_json(keep_sources=False)}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CacheResult:
    """What a cached step produced. kind: "layer", "empty" (no file changes) or "meta"."""

    kind: str
    layer: Descriptor | None = None
    diff_id: Digest | None = None
    chain_id: str | None = None
    created: str | None = None
    # where the layer blob can be fetched when it is not in the store (a remote cache's
    # builder.engine.cache_import.RemoteSource); never stored, never compared
    source: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layer": self.layer.to_json() if self.layer else None,
            "diff_id": str(self.diff_id) if self.diff_id else None,
            "chain_id": self.chain_id,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CacheResult:
        return cls(
            kind=obj["kind"],
            layer=Descriptor.from_json(obj["layer"]) if obj.get("layer") else None,
            diff_id=Digest.parse(obj["diff_id"]) if obj.get("diff_id") else None,
            chain_id=obj.get("chain_id"),
            created=obj.get("created"),
        )


def _roots_of(result: CacheResult) -> list[tuple[str, str]]:
    roots = [("blob", str(result.layer.digest))] if result.layer is not None else []
    return roots + ([("snapshot", str(result.chain_id))] if result.chain_id else [])


@dataclass(frozen=True)
class Previous:
    """The last recorded step at a position: its key, parent key and inputs (for miss reasons)."""

    key: str
    parent: str
    inputs: Mapping[str, Any]


class BuildCache:
    """The persistent cache table of one store. Uses the store's per-thread sqlite
    connections, so stage threads may call it concurrently."""

    def __init__(self, store: Store) -> None:
        self._store = store
        conn = store.db()
        meta.ensure_schema(conn, SCHEMA_NAME, DDL)
        meta.ensure_schema(conn, "store.gc", gc_roots.GC_ROOTS_DDL)
        meta.ensure_schema(conn, ROOTS_SCHEMA_NAME, ROOTS_BACKFILL)

    def _db(self) -> Any:
        return self._store.db()

    def _keep(self, conn: Any, key: str, result: CacheResult) -> None:
        """Register the result's layer blob and snapshot as gc roots owned by `key`
        (in the caller's transaction), so `prune` keeps what a cache hit reuses."""
        for kind, what in _roots_of(result):
            gc_roots.add_root_in(conn, kind, what, ROOT_OWNER + key)

    def lookup(self, key: str) -> CacheResult | None:
        conn = self._db()
        row = conn.execute(
            "SELECT result, last_used FROM build_cache WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        now = time.time()
        if now - row[1] > LAST_USED_GRAIN:  # a no-op rebuild writes nothing
            with conn:
                conn.execute("UPDATE build_cache SET last_used=? WHERE key=?", (now, key))
        return CacheResult.from_json(json.loads(row[0]))

    def record(self, key: str, parent: str, inputs: CacheInputs, result: CacheResult) -> None:
        now = time.time()
        conn = self._db()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO build_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    parent,
                    inputs.position,
                    json.dumps(inputs.to_json()),
                    json.dumps(result.to_json()),
                    now,
                    now,
                ),
            )
            self._keep(conn, key, result)

    def export_rows(self, keys: list[str]) -> list[dict[str, Any]]:
        """The rows of `keys` (without their miss-reason inputs) for `--cache-to`."""
        out = []
        conn = self._db()
        for k in dict.fromkeys(keys):
            r = conn.execute(
                "SELECT key, parent, position, result, inputs FROM build_cache WHERE key=?", (k,)
            ).fetchone()
            if r:
                out.append(
                    {
                        "key": r[0],
                        "parent": r[1],
                        "position": r[2],
                        "result": json.loads(r[3]),
                        "instruction": json.loads(r[4]).get("instruction") or "",
                    }
                )
        return out

    def import_rows(self, unsafe_rows: list[Any]) -> int:
        """Rows from `--cache-from`; existing keys are kept. Returns how many were new."""
        now, n = time.time(), 0
        conn = self._db()
        with conn:
            for r in unsafe_rows:
                if not isinstance(r, dict):
                    continue
                try:
                    res = CacheResult.from_json(r["result"])
                    key, parent, pos = str(r["key"]), str(r["parent"]), str(r["position"])
                except (KeyError, TypeError, ValueError, StoreError):
                    continue
                cur = conn.execute(
                    "INSERT OR IGNORE INTO build_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        parent,
                        pos,
                        json.dumps({"imported": True}),
                        json.dumps(res.to_json()),
                        now,
                        0,
                    ),
                )
                n += cur.rowcount
                if cur.rowcount:
                    self._keep(conn, key, res)
        return n

    def forget(self, key: str) -> None:
        conn = self._db()
        with conn:
            conn.execute("DELETE FROM build_cache WHERE key=?", (key,))
            gc_roots.remove_roots_in(conn, ROOT_OWNER + key)

    def previous(self, position: str, exclude_key: str = "") -> Previous | None:
        row = (
            self._db()
            .execute(
                "SELECT key, parent, inputs FROM build_cache WHERE position=? AND key<>? "
                "ORDER BY last_used DESC LIMIT 1",
                (position, exclude_key),
            )
            .fetchone()
        )
        return Previous(row[0], row[1], json.loads(row[2])) if row else None

    def explain(
        self,
        inputs: CacheInputs,
        parent: str,
        *,
        parent_step: int | None,
        parent_reran: bool,
        no_cache: bool = False,
    ) -> str:
        """The miss reason for a step whose key was not found (or --no-cache)."""
        if no_cache:
            return "re-ran: --no-cache"
        prev = self.previous(inputs.position)
        if prev is None:
            return "re-ran: not built before"
        return "re-ran: " + diff_reason(prev, inputs, parent, parent_step, parent_reran)


def _map_change(what: str, old: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        name = f"{what} {k}".strip()
        if a is None:
            return f"{name} set ({b})"
        if b is None:
            return f"{name} unset (was {a})"
        return f"{name} changed ({a} -> {b})"
    return None


def _sources_change(old: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    changes: list[str] = []
    for p in sorted(set(old) | set(new)):
        a, b = old.get(p), new.get(p)
        if a == b:
            continue
        changes.append(f"{p} {'added' if a is None else 'removed' if b is None else 'changed'}")
    if not changes:
        return None
    more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
    return changes[0] + more


def diff_reason(
    prev: Previous, inputs: CacheInputs, parent: str, parent_step: int | None, parent_reran: bool
) -> str:
    old = prev.inputs
    if old.get("instruction") != inputs.instruction:
        return f"instruction changed (was `{old.get('instruction')}`)"
    for what, o, n in (
        ("build arg", old.get("args") or {}, inputs.args),
        ("env", old.get("env") or {}, inputs.env),
    ):
        r = _map_change(what, o, n)
        if r:
            return r
    if old.get("platform", "") != inputs.platform:
        return f"platform changed ({old.get('platform')} -> {inputs.platform})"
    if old.get("sources_digest") != inputs.sources_digest():
        if "sources" in old and len(inputs.sources) <= MAX_STORED_SOURCES:
            r = _sources_change(old["sources"], inputs.sources)
            if r:
                return r
        return "source files changed"
    old_extra = dict(old.get("extra") or {})
    new_extra = dict(inputs.extra)
    if old_extra.pop("expanded", None) != new_extra.pop("expanded", None):
        return f"instruction changed after expansion ({inputs.extra.get('expanded')})"
    r = _map_change("", old_extra, new_extra)
    if r:
        return r
    if prev.parent != parent:
        if parent_step is None:
            return "base changed"
        return f"parent step {parent_step} {'re-ran' if parent_reran else 'changed'}"
    return "cache entry was removed"
