"""Parsed plans kept in the store, so a rebuild of an unchanged Dockerfile skips the
front end (parser, typed instructions, expansion): on a no-op rebuild that is about a
third of pybuild's CPU time, most of it in importing the front end's modules.

An entry is keyed by everything `builder.frontend.plan.make_plan` reads: the Dockerfile text
and name, build args, --target, the platform, and the front end's code (size and
mtime of its files). The base images the planner looked at are recorded with their
manifest digests; the entry is used only while each still resolves to the same one.
Entries hold a pickled `BuildPlan`: frozen dataclasses, its steps the front end's
`PlannedStep`s with their typed instructions, so unpickling one imports only
`builder.frontend.planned` and the instruction model, not the parser. The table lives
in the store's own sqlite, which only the store's owner can write.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.engine.sources import resolve_image
from builder.errors import BuildError
from builder.frontend.planned import BuildPlan
from store import meta

if TYPE_CHECKING:
    from builder.engine.state import BuildContext

SCHEMA_NAME = "builder.plan_cache"
DDL = """
CREATE TABLE IF NOT EXISTS plan_cache (
    key TEXT PRIMARY KEY,
    bases TEXT NOT NULL,
    plan BLOB NOT NULL,
    created REAL NOT NULL
);
"""
KEEP = 256  # newest entries kept
_REPO = Path(__file__).resolve().parents[2]
# the code a stored plan is made from (the planner and what it imports) and of the
# types pickled in it (the front end's planned steps, their instructions and spans)
_FRONT = (
    "builder/frontend",
    "builder/engine/planning.py",
    "builder/engine/plan_cache.py",
    "builder/errors.py",
    "builder/gofmt.py",
    "store/oci/platform.py",
)


def code_fingerprint() -> str:
    h = hashlib.sha256()
    for rel in _FRONT:
        try:
            for path, st in _code_files(str(_REPO / rel)):
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{rel}: missing\n".encode())
    return h.hexdigest()


def _code_files(path: str) -> list[tuple[str, os.stat_result]]:
    """`path` (a file) or the .py and .lark files under it (a directory), sorted, with
    their stat; os.scandir, as this runs on every build."""
    st = os.stat(path)
    if not os.path.isdir(path):
        return [(path, st)]
    out: list[tuple[str, os.stat_result]] = []
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name != "__pycache__":
                out += _code_files(e.path)
        elif e.name.endswith((".py", ".lark")) and e.is_file():
            out.append((e.path, e.stat()))
    return out


def key_of(
    text: str, file: str, build_args: Mapping[str, str], target: str | None, platform: str
) -> str:
    doc = {
        "text": text,
        "file": file,
        "args": sorted(build_args.items()),
        "target": target,
        "platform": platform,
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _db(ctx: BuildContext) -> Any:
    conn = ctx.store.db()
    meta.ensure_schema(conn, SCHEMA_NAME, DDL)
    return conn


def load(ctx: BuildContext, key: str) -> BuildPlan | None:
    """The stored plan, when its base images still resolve to the same manifests."""
    try:
        row = _db(ctx).execute("SELECT bases, plan FROM plan_cache WHERE key=?", (key,)).fetchone()
    except Exception:  # a cache: any problem means "plan it again"
        return None
    if row is None:
        return None
    try:
        bases = json.loads(row[0])
        for ref, platform, digest in bases:
            if digest is None:
                return None  # a base that failed: let the planner report it again
            try:
                _, got = resolve_image(ctx, ref, platform)
            except BuildError:
                return None
            if got != digest:
                return None
        plan = pickle.loads(row[1])  # written by this store's owner only
    except Exception:  # a cache that cannot be written is no error
        return None
    return plan if isinstance(plan, BuildPlan) else None


def save(
    ctx: BuildContext, key: str, bases: list[tuple[str, str, str | None]], plan: BuildPlan
) -> None:
    try:
        data = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
        conn = _db(ctx)
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO plan_cache VALUES (?, ?, ?, ?)",
                (key, json.dumps(bases), data, time.time()),
            )
            conn.execute(
                "DELETE FROM plan_cache WHERE key NOT IN (SELECT key FROM "
                "plan_cache ORDER BY created DESC LIMIT ?)",
                (KEEP,),
            )
    except Exception:
        pass
