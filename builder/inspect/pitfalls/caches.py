"""Pitfalls of package managers: `apt-get update` alone or lists left behind, and
package-manager caches (pip, apt, npm, yarn, apk, go) left in the final image."""

from __future__ import annotations

import re

from builder.inspect.pitfalls.base import (
    CatalogEntry,
    Context,
    Finding,
    Fix,
    check,
    commands,
    finding,
    human,
    lines_of,
    where,
)

APT = CatalogEntry(
    "apt-lists",
    "apt-get update in a RUN of its own, or apt lists not cleaned in the same RUN",
    Fix(
        "Update, install and remove the lists in one RUN: no stale index in the cache, and "
        "no index files in the layer.",
        "RUN apt-get update\nRUN apt-get install -y curl",
        "RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n"
        " && rm -rf /var/lib/apt/lists/*",
    ),
    "bytes: apt list files that step left in the image",
)

CACHE = CatalogEntry(
    "package-cache",
    "Package-manager cache left in the image",
    Fix(
        "Turn the cache off or remove it in the same RUN (or use a cache mount).",
        "RUN pip install -r requirements.txt",
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "# or: RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
    ),
    "bytes: cache files left in the final image",
)

APT_LISTS = "var/lib/apt/lists/"
_UPDATE = re.compile(r"\bapt(-get)?\s+(-\S+\s+)*update\b")
_INSTALL = re.compile(r"\bapt(-get)?\s+(-\S+\s+)*install\b")
_CLEAN = re.compile(r"\brm\s+(-\S+\s+)*\S*/var/lib/apt/lists")

CACHE_RE = re.compile(
    r"(?P<pip>(^|/)\.cache/pip/)"
    r"|(?P<npm>(^|/)\.npm/)"
    r"|(?P<yarn>(^|/)\.cache/yarn/|(^|/)\.yarn-cache/)"
    r"|(?P<apt>^var/cache/apt/(archives/.*\.deb$|[^/]*\.bin$))"
    r"|(?P<apk>^var/cache/apk/.)"
    r"|(?P<go>(^|/)go/pkg/mod/cache/|(^|/)\.cache/go-build/)"
)


@check(APT)
def apt_lists(ctx: Context) -> list[Finding]:
    out = []
    for s in ctx.steps:
        if s.keyword != "RUN" or not _UPDATE.search(s.args):
            continue
        alone = not any(_INSTALL.search(c) for c in commands(s.args))
        cleaned = _CLEAN.search(s.args) is not None
        if not alone and cleaned:
            continue
        li = ctx.layer_of(s)
        nbytes = ctx.visible_bytes(li.index, lambda p: p.startswith(APT_LISTS)) if li else 0
        why = (
            "runs apt-get update in a RUN of its own"
            if alone
            else "does not remove /var/lib/apt/lists in the same RUN"
        )
        out.append(
            finding(
                APT,
                lines_of(s),
                nbytes,
                f"line {s.line} {why}: {human(nbytes)} of apt lists stay in the image"
                + ("; a later install may use a stale index from the cache" if alone else ""),
                layers=(li.index,) if li else (),
            )
        )
    return out


@check(CACHE)
def package_cache(ctx: Context) -> list[Finding]:
    found: dict[tuple[str, int], int] = {}
    user = {li.index for li in ctx.user_layers()}
    for p, rec in ctx.tree.visible.items():
        if rec[6] not in user or rec[1] == 0:
            continue
        m = CACHE_RE.search(p)
        if m:
            kind = m.lastgroup or "cache"
            found[(kind, rec[6])] = found.get((kind, rec[6]), 0) + rec[1]
    out = []
    for (kind, layer), nbytes in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        step = ctx.layers[layer].step
        out.append(
            finding(
                CACHE,
                lines_of(step),
                nbytes,
                f"{where(step, layer)} leaves {human(nbytes)} of {kind} cache in the image",
                layers=(layer,),
            )
        )
    return out
