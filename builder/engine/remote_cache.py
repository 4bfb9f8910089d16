"""`--cache-to REF` / `--cache-from REF`: the build cache shared through a registry.

The cache travels as an ordinary image, so any registry stores it and the registry
client moves it: its layers are the layer blobs of the cached steps, and its config
carries the cache rows (key, parent key, position, result) in the label
`dev.pybuild.cache.v1`. Keys do not depend on where the context lives, so a row made
on one CI machine is a hit on another. Importing pulls the image (its blobs land in
the store) and adds the rows that are not there yet.
"""

from __future__ import annotations

import json
from typing import Any

from builder.errors import BuildError
from store.imageconfig import ContainerConfig, ImageConfig

LABEL = "dev.pybuild.cache.v1"


class CacheTransferError(BuildError):
    exit_code = 1


def parse_ref(text: str) -> str:
    """`REF` or `type=registry,ref=REF`."""
    if "=" not in text:
        return text
    kv = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    if kv.get("type", "registry") != "registry" or not kv.get("ref"):
        raise CacheTransferError(f"cache {text!r}: only type=registry,ref=REF is supported")
    return kv["ref"]


def _client(ctx: Any) -> dict[str, Any]:
    if not ctx.opts.insecure_registries:
        return {}
    from registry_client.client import RegistryClient

    return {"client": RegistryClient(insecure=tuple(ctx.opts.insecure_registries))}


def import_from(ctx: Any, text: str) -> int:
    """Pull the cache image `text` and add its rows; a missing image is not an error
    (the first CI run has no cache yet), as with docker's --cache-from."""
    from registry_client.errors import RegistryError
    from registry_client.pull import pull_image
    from store.image import StoredImage

    ref = parse_ref(text)
    try:
        res = pull_image(ctx.store, ref, tag=False, **_client(ctx))
    except RegistryError as e:
        ctx.progress.message(f"importing cache from {ref}: {e} (ignored)")
        return 0
    cfg = StoredImage(ctx.store, res.manifest).config()
    try:
        rows = json.loads((cfg.config.labels or {}).get(LABEL, "[]"))
    except ValueError:
        rows = []
    n = ctx.cache.import_rows(rows if isinstance(rows, list) else [])
    ctx.progress.message(f"imported {n} cache entries from {ref}")
    return n


def export_to(ctx: Any, text: str, keys: list[str]) -> None:
    from builder.engine.state import host_platform
    from registry_client.push import push_image
    from store.digest import Digest
    from store.image import write_image

    ref = parse_ref(text)
    rows = ctx.cache.export_rows(keys)
    layers, diff_ids, seen = [], [], set()
    for r in rows:
        res = r["result"]
        if res.get("kind") == "layer" and res.get("layer") and res["layer"]["digest"] not in seen:
            from store.digest import Descriptor

            seen.add(res["layer"]["digest"])
            layers.append(Descriptor.from_json(res["layer"]))
            diff_ids.append(Digest.parse(res["diff_id"]))
    plat = host_platform()
    cfg = ImageConfig(architecture=plat.architecture, os=plat.os, diff_ids=tuple(diff_ids),
                      config=ContainerConfig(labels={LABEL: json.dumps(rows, sort_keys=True)}),
                      created=ctx.epoch_created)
    desc = write_image(ctx.store, cfg, layers)
    ctx.store.refs.add_root(desc)
    try:
        push_image(ctx.store, desc, ref, **_client(ctx))
    except Exception as e:  # noqa: BLE001 - one line
        raise CacheTransferError(f"--cache-to {ref}: {e}") from None
    ctx.progress.message(f"exported {len(rows)} cache entries to {ref}")
