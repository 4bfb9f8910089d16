"""The pitfall catalog. Each module holds a group of checks; importing this package
registers them all. `run_checks(ctx)` returns every finding, ordered by first line;
`CATALOG` lists the entries (id, title, fix with before/after) for docs and HTML."""

from __future__ import annotations

from builder.inspect.pitfalls import caches, files, ordering, secrets  # noqa: F401 - registers
from builder.inspect.pitfalls.base import REGISTRY, CatalogEntry, Context, Finding, Fix

CATALOG: dict[str, CatalogEntry] = {e.id: e for e, _ in REGISTRY}


def run_checks(ctx: Context, only: set[str] | None = None) -> list[Finding]:
    out: list[Finding] = []
    for entry, fn in REGISTRY:
        if only is None or entry.id in only:
            out.extend(fn(ctx))
    return sorted(out, key=lambda f: (f.lines[:1] or (10**9,), f.id, f.lines, -f.bytes))


__all__ = ["CATALOG", "CatalogEntry", "Context", "Finding", "Fix", "run_checks"]
