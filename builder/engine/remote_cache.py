"""`--cache-to` / `--cache-from`: the build cache shared through any registry (ARCHITECTURE §8,
§9; BuildKit's registry and inline caches).

The engine calls, in build order: `check_specs` (bad specs are usage errors before
anything runs), `import_from` per `--cache-from` (rows only: `cache_import`),
`lookup` on a local miss (a remote hit is recorded locally and shown as
`CACHED (from registry REF)`), `fetch_layers` when a step must run on layers that
are still only in the registry (layers.ensure_chain), `with_inline` and
`finish_image` when the final image is written, and `export_to` per `--cache-to`
(`cache_export`).

Keys do not depend on the store or the machine (builder.cache: no paths, no snapshot
ids, no mtimes), so a row made on one CI machine is a hit on another. Layers move
lazily: a hit needs only the layer's descriptor, a layer is downloaded only to run a
later step on it or to complete the local image, and with `--push` to the same
registry the final image's layers are cross-repo mounted, never downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from builder.cache import CacheInputs, CacheResult
from builder.engine import cache_export
from builder.engine.cache_import import (
    INLINE_KEY,
    CacheTransferError,
    RemoteRow,
    fetch_layers,
    load,
)
from builder.engine.sources import TransferProgress
from builder.errors import BuildError
from store.errors import InvalidReference
from store.oci.digest import Descriptor
from store.oci.reference import Reference

if TYPE_CHECKING:
    from builder.engine.state import BuildContext

MODES = ("min", "max")
# BuildKit options that change nothing here (pybuild always writes OCI media types)
IGNORED = (
    "oci-mediatypes",
    "image-manifest",
    "compression",
    "compression-level",
    "force-compression",
    "ignore-error",
)


class CacheSpecError(BuildError):
    exit_code = 2


@dataclass(frozen=True)
class CacheSpec:
    """One `--cache-to`/`--cache-from` value: `REF`, `type=registry,ref=REF[,mode=...]`
    or (export only) `type=inline`."""

    type: str
    ref: str = ""
    mode: str = "min"

    @classmethod
    def parse(cls, text: str, *, export: bool) -> CacheSpec:
        flag = "--cache-to" if export else "--cache-from"
        if "=" not in text:
            if not text.strip():
                raise CacheSpecError(f"{flag}: empty reference")
            return cls("registry", _checked_ref(flag, text.strip()))
        kv: dict[str, str] = {}
        for part in text.split(","):
            k, sep, v = part.partition("=")
            if not sep:
                raise CacheSpecError(f"{flag} {text}: {part!r} is not KEY=VALUE")
            kv[k.strip()] = v.strip()
        typ, ref, mode = kv.pop("type", "registry"), kv.pop("ref", ""), kv.pop("mode", "min")
        if typ not in ("registry", "inline") or (typ == "inline" and not export):
            raise CacheSpecError(
                f"{flag} {text}: type must be registry" + (" or inline" if export else "")
            )
        for k in IGNORED:
            kv.pop(k, None)
        if kv:
            raise CacheSpecError(f"{flag} {text}: unknown option {sorted(kv)[0]!r}")
        if typ == "inline":
            return cls("inline")
        if not ref:
            raise CacheSpecError(f"{flag} {text}: ref=REF is required")
        if mode not in MODES:
            raise CacheSpecError(f"{flag} {text}: mode must be min or max")
        return cls("registry", _checked_ref(flag, ref), mode)


def _checked_ref(flag: str, ref: str) -> str:
    try:
        Reference.parse(ref)
    except InvalidReference as e:
        raise CacheSpecError(f"{flag} {ref}: {e}") from None
    return ref


def check_specs(opts: Any) -> None:
    for t in opts.cache_to:
        CacheSpec.parse(t, export=True)
    for t in opts.cache_from:
        CacheSpec.parse(t, export=False)


def _rows(ctx: BuildContext) -> dict[str, RemoteRow]:
    """The imported rows, once every started import has finished (in flag order)."""
    d = ctx.__dict__
    if "_remote_pending" not in d:
        return d.get("_remote_rows", {})
    with d["_remote_lock"]:
        have = d.setdefault("_remote_rows", {})
        for ref, fut in d.get("_remote_pending", ()):
            try:
                rows = fut.result()
            except Exception as e:  # CacheImportError, or a dropped socket
                ctx.progress.message(f"WARNING: --cache-from {ref}: {e} (ignored)")
                continue
            new = 0
            for k, r in rows.items():
                if k not in have:  # the first --cache-from that has a key wins
                    have[k] = r
                    new += 1
            ctx.progress.message(f"importing cache manifest from {ref}: {new} entries")
        d.pop("_remote_pending", None)
    return have


def import_from(ctx: BuildContext, text: str) -> None:
    """Start reading the cache `text` (rows only) on a thread, so the manifest fetch
    overlaps planning and context hashing; the first lookup waits for it. A missing or
    corrupt cache is a warning: the first CI run has no cache yet, and a broken one
    must not break builds."""

    spec = CacheSpec.parse(text, export=False)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-import")
    fut = pool.submit(load, spec.ref, tuple(ctx.opts.insecure_registries), ctx.platform)
    pool.shutdown(wait=False)
    ctx.__dict__.setdefault("_remote_lock", threading.Lock())
    ctx.__dict__.setdefault("_remote_pending", []).append((spec.ref, fut))


def lookup(
    ctx: BuildContext, key: str, parent: str, inputs: CacheInputs
) -> tuple[CacheResult | None, str]:
    """A hit in an imported cache: (result, "CACHED (from registry REF)") or (None, "").
    The row is recorded in the local cache (so later miss reasons and exports see it);
    its layer blob stays in the registry until something needs it."""
    row = _rows(ctx).get(key)
    if row is None:
        return None, ""
    ctx.cache.record(key, parent, inputs, row.result)
    return row.result, f"CACHED (from registry {row.origin})"


def source_of(ctx: BuildContext, digest: Any) -> Any:
    """The RemoteSource a layer blob can be fetched or mounted from, if any."""
    for row in _rows(ctx).values():
        if row.result.layer is not None and row.result.layer.digest == digest:
            return row.result.source
    return None


def with_inline(ctx: BuildContext, img: Any, final_key: str) -> Any:
    """With `--cache-to type=inline`, the final image's config carries the rows of its
    own steps (its layers are the image's), as BuildKit's inline cache does."""
    if not any(CacheSpec.parse(t, export=True).type == "inline" for t in ctx.opts.cache_to):
        return img
    rows = cache_export.collect(ctx.cache, ctx.used_keys, final_key, "min")
    return replace(img, extra={**img.extra, INLINE_KEY: {"version": 1, "rows": rows}})


def _push_targets(ctx: BuildContext) -> list[Any]:
    """Where `--push` sends the image, when that is the only output."""

    opts = ctx.opts
    if not opts.push or any(o.get("type") != "registry" for o in opts.outputs):
        return []
    names = list(opts.tags) + [o["name"] for o in opts.outputs if o.get("name")]
    return [Reference.parse(n) for n in dict.fromkeys(names)]


def finish_image(ctx: BuildContext, img: Any, lrs: Sequence[Any]) -> Descriptor | None:
    """Complete the final image's remote-cache layers. When the image is only pushed
    and every such layer can be cross-repo mounted into every push target, nothing is
    downloaded: the store gets the config and manifest (untagged: its layers live in
    the registry) and that descriptor is returned. Otherwise the layers are fetched
    and None is returned (the caller writes and tags the image as usual)."""
    _rows(ctx)  # imports still running finish (and warn) before the build does
    missing = [
        lr for lr in lrs if lr.source is not None and not ctx.store.blobs.exists(lr.desc.digest)
    ]
    if not missing:
        return None
    targets = _push_targets(ctx)
    if targets:
        insecure = tuple(ctx.opts.insecure_registries)
        left = [
            lr
            for lr in missing
            if not all(
                cache_export.mount(ctx.store, t, lr.desc, lr.source, insecure) for t in targets
            )
        ]
        if not left:
            ctx.progress.message(
                f"{len(missing)} cached layers mounted in the registry, "
                "not downloaded; the image is not tagged in the local store"
            )
            layers = [lr.desc for lr in lrs]
            return cache_export.write_manifest(ctx.store, img, layers, ctx.opts.annotations)
        missing = left

    size = sum(lr.desc.size for lr in missing)
    vid = ctx.progress.new_id()
    ctx.progress.step_started(
        vid, "", "", f"fetching {len(missing)} cached layers ({size / 1e6:.1f} MB) for the image"
    )
    try:
        fetch_layers(ctx.store, missing, TransferProgress(ctx, vid))
    except BuildError as e:
        ctx.progress.step_error(vid, str(e))
        raise
    ctx.progress.step_done(vid, 0.0)
    return None


def export_to(ctx: BuildContext, text: str, keys: list[str]) -> None:
    spec = CacheSpec.parse(text, export=True)
    if spec.type == "inline":
        if not ctx.opts.push:
            ctx.progress.message("WARNING: --cache-to type=inline is only useful with --push")
        return
    final = ctx.futures[ctx.plan.target].result()
    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "", "", f"exporting cache to {spec.ref} (mode={spec.mode})")
    try:
        note = cache_export.export(
            ctx, spec.ref, spec.mode, keys, final.key, lambda d: source_of(ctx, d)
        )
    except Exception as e:  # one line for the user
        ctx.progress.step_error(vid, str(e))
        raise CacheTransferError(f"--cache-to {spec.ref}: {e}") from None
    ctx.progress.step_done(vid, 0.0)
    ctx.progress.message(note)
