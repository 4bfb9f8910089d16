"""pybuild's image store (ARCHITECTURE §5): an OCI image layout with sqlite metadata,
blobs, refs and overlay snapshots; `store.layout.Store` is the facade.

The package is a seam (PEP 562): `Snapshotter` (`store.snapshots`, with the unpacker,
the layer differ and the compressors) and `recompress_image` (`store.recompress`) load
on first use, so what only reads the store (a build whose every step is cached,
`pybuild images`) never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.recompress import recompress_image as recompress_image
    from store.snapshots import Snapshotter as Snapshotter


def __getattr__(name: str) -> Any:
    if name == "Snapshotter":
        return importlib.import_module("store.snapshots").Snapshotter
    if name == "recompress_image":
        return importlib.import_module("store.recompress").recompress_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
