"""`--cache-to type=registry,ref=REF[,mode=min|max]`: write the build cache to a registry.

The cache is an OCI artifact: an image manifest with `artifactType`
`application/vnd.pybuild.cache.v1`, whose config blob
(`application/vnd.pybuild.cache.config.v1+json`) holds the rows
`{"version": 1, "mode": ..., "rows": [{"key", "parent", "instruction", "result"}]}` and
whose layers are the cached layer blobs, so the registry keeps them and can mount them
elsewhere. A row's result is a layer (descriptor, diff_id, chain id, history time), an
empty step, or a metadata step; `instruction` is the step's canonical text, which for a
metadata step is its config and history change (the engine re-applies it: pure and
cheap, and the same on every machine). `mode=min` exports the steps of the final
image (the parent chain of its last key, through the stages it is built FROM);
`mode=max` every step of every stage. Blobs the registry has are not sent again
(HEAD first); layers this store has only remotely are mounted, or fetched and sent
when the cache lives on another registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from builder.engine.cache_import import (
    ARTIFACT_TYPE,
    CONFIG_TYPE,
    RemoteSource,
    fetch_layers,
)
from builder.engine.state import LayerRef
from registry_client import sources
from registry_client.client import RegistryClient
from registry_client.errors import RegistryError
from registry_client.push import push_blobs
from store.oci.digest import Descriptor, Digest
from store.oci.image import to_oci
from store.oci.manifest import Manifest
from store.oci.mediatype import OCI_CONFIG, OCI_MANIFEST
from store.oci.platform import Platform
from store.oci.reference import Reference

if TYPE_CHECKING:
    from builder.engine.state import BuildContext
    from store.layout import Store


def collect(cache: Any, keys: list[str], final_key: str, mode: str) -> list[dict[str, Any]]:
    """The rows to export, sorted by key (the same build exports the same bytes)."""
    rows = {r["key"]: r for r in cache.export_rows(keys)}
    if mode == "min":
        chain: dict[str, dict[str, Any]] = {}
        k = final_key
        while k in rows and k not in chain:
            chain[k] = rows[k]
            k = rows[k]["parent"]
        rows = chain
    out = [
        {
            "key": r["key"],
            "parent": r["parent"],
            "result": r["result"],
            "instruction": r.get("instruction", ""),
        }
        for r in rows.values()
    ]
    return sorted(out, key=lambda r: r["key"])


def _layers(rows: list[dict[str, Any]]) -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}
    for r in rows:
        res = r["result"]
        if res.get("kind") == "layer" and res.get("layer"):
            d = Descriptor.from_json(res["layer"])
            seen.setdefault(str(d.digest), d)
    return [seen[k] for k in sorted(seen)]


def mount(
    store: Store, target: Any, desc: Descriptor, source: Any, insecure: tuple[str, ...]
) -> bool:
    """Make `desc` present in `target`'s repository without downloading it: it is
    there already, or a cross-repo mount from `source` (same registry) succeeds."""

    src = source.reference() if source is not None else None
    client = RegistryClient(insecure=insecure)
    try:
        if client.head_blob(target, desc.digest, push=True) is not None:
            return True
        if src is None or src.domain != target.domain:
            return False
        up = client.start_upload(target, mount=desc.digest, mount_from=src.repository)
        if up.mounted:
            sources.record(store, target.domain, target.repository, [desc.digest])
        return up.mounted
    except RegistryError:
        return False
    finally:
        client.close()


def write_manifest(
    store: Store,
    img: Any,
    layers: Sequence[Descriptor],
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """store.image.write_image's config and manifest, for layers that are not in the
    store (they are in the push target already); nothing is tagged."""

    cfg = store.blobs.put_bytes(img.to_bytes(), OCI_CONFIG)
    m = Manifest(
        config=Descriptor(cfg.media_type, cfg.digest, cfg.size),
        layers=tuple(
            Descriptor(d.media_type, d.digest, d.size, d.annotations, None, d.urls) for d in layers
        ),
        annotations=dict(annotations or {}),
    )
    m = to_oci(m)
    md = store.blobs.put_bytes(m.to_bytes(), m.media_type)
    plat = Platform(img.os or "linux", img.architecture or "amd64", img.variant or "")
    return Descriptor(md.media_type, md.digest, md.size, platform=plat)


def export(
    ctx: BuildContext,
    ref_text: str,
    mode: str,
    keys: list[str],
    final_key: str,
    source_of: Callable[[Digest], RemoteSource | None],
) -> str:
    """Push the cache; returns a one-line summary. `source_of` names the --cache-from
    repository a layer the store lacks can be mounted or fetched from."""

    ref = Reference.parse(ref_text)
    store = ctx.store
    insecure = tuple(ctx.opts.insecure_registries)
    rows = collect(ctx.cache, keys, final_key, mode)
    layers = _layers(rows)
    remote_only = [d for d in layers if not store.blobs.exists(d.digest)]
    mounted = 0
    unreachable = []
    for d in remote_only:
        if mount(store, ref, d, source_of(d.digest), insecure):
            mounted += 1
        else:
            unreachable.append(LayerRef(d, Digest.parse(_diff_id(rows, d)), source_of(d.digest)))
    fetch_layers(store, unreachable)  # another registry: fetch, then upload below
    gone = [lr.desc for lr in unreachable if not store.blobs.exists(lr.desc.digest)]
    if gone:
        raise RuntimeError(f"layer {gone[0].digest} is neither in the store nor in a cache")
    doc = {"version": 1, "mode": mode, "rows": rows}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    cfg = store.blobs.put_bytes(data, CONFIG_TYPE)
    local = [d for d in layers if store.blobs.exists(d.digest)] + [cfg]
    client = RegistryClient(insecure=insecure)
    try:
        res = push_blobs(store, ref, local, client=client)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": cfg.to_json(),
            "layers": [d.to_json() for d in layers],
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        client.put_manifest(ref, body, OCI_MANIFEST)
    finally:
        client.close()
    return (
        f"exported {len(rows)} cache entries to {ref_text} (mode={mode}): {len(layers)} "
        f"layers, {len(res.uploaded)} blobs uploaded, {len(res.existed)} already there, "
        f"{mounted + len(res.mounted)} mounted"
    )


def _diff_id(rows: list[dict[str, Any]], d: Descriptor) -> str:
    for r in rows:
        lay = r["result"].get("layer")
        if lay and lay.get("digest") == str(d.digest):
            return r["result"]["diff_id"]
    raise KeyError(str(d.digest))
