"""Manifests and indexes as the registry client needs them: the Accept list, parsing
(with schema1 refused and a size bound), the blobs a manifest names, and platform
selection from an index (os/arch/variant, as containerd matches them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry_client.errors import ManifestError
from store.errors import StoreError
from store.oci.digest import Descriptor
from store.oci.manifest import MAX_MANIFEST_SIZE, pick_platform
from store.oci.mediatype import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from store.oci.platform import Platform

ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, "application/json"})


@dataclass(frozen=True)
class ParsedManifest:
    """One manifest or index: its media type, its children, and the raw JSON."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    raw: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def blobs(self) -> tuple[Descriptor, ...]:
        """Config then layers (what must be in the registry before the manifest)."""
        return ((self.config,) if self.config else ()) + self.layers


def parse_manifest(
    unsafe_data: bytes, content_type: str = "", what: str = "manifest"
) -> ParsedManifest:
    """Parse registry bytes; only `ManifestError` escapes (schema1, too big, malformed)."""
    if len(unsafe_data) > MAX_MANIFEST_SIZE:
        raise ManifestError(
            what,
            detail=f"manifest of {len(unsafe_data)} bytes exceeds the "
            f"{MAX_MANIFEST_SIZE}-byte limit",
        )
    try:
        obj = json.loads(unsafe_data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ManifestError(what, codes=("MANIFEST_INVALID",), detail=f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ManifestError(what, codes=("MANIFEST_INVALID",), detail="not a JSON object")
    mt = obj.get("mediaType") or ""
    if not isinstance(mt, str):
        raise ManifestError(what, codes=("MANIFEST_INVALID",), detail="mediaType is not a string")
    ctype = content_type.split(";")[0].strip()
    if (
        obj.get("schemaVersion") == 1
        or mt in SCHEMA1_TYPES - {"application/json"}
        or ctype in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
    ):
        raise ManifestError(
            what,
            detail="Docker schema1 manifests are deprecated and not "
            "supported; push the image again with a current client",
        )
    # An HTML page or other non-manifest answer is refused by its type, as docker does;
    # the body's own (digest-verified) mediaType decides between the manifest types.
    known = MANIFEST_TYPES | INDEX_TYPES
    if ctype and ctype not in known | {
        "application/json",
        "application/octet-stream",
        "text/plain",
    }:
        raise ManifestError(what, detail=f"the registry sent a manifest as Content-Type {ctype!r}")
    if not mt:
        # OCI allows mediaType to be absent; guess from the shape as containerd does.
        mt = (
            ctype
            if ctype in MANIFEST_TYPES | INDEX_TYPES
            else (OCI_INDEX if "manifests" in obj else OCI_MANIFEST)
        )
    if mt not in MANIFEST_TYPES | INDEX_TYPES:
        raise ManifestError(what, detail=f"unsupported manifest media type {mt!r}")
    try:
        if mt in INDEX_TYPES:
            children = tuple(Descriptor.from_json(d) for d in _list(obj, "manifests"))
            return ParsedManifest(mt, None, (), children, obj)
        config = Descriptor.from_json(obj["config"])
        layers = tuple(Descriptor.from_json(d) for d in _list(obj, "layers"))
    except (KeyError, TypeError, ValueError, StoreError) as e:
        raise ManifestError(what, codes=("MANIFEST_INVALID",), detail=str(e)) from None
    return ParsedManifest(mt, config, layers, (), obj)


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key) or []
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def select_platform(index: ParsedManifest, want: Platform, what: str = "index") -> Descriptor:
    """The best entry for `want` (store.oci.manifest.pick_platform: exact variant first, then
    any compatible one)."""
    best = pick_platform(index.manifests, want, MANIFEST_TYPES | INDEX_TYPES)
    if best is None:
        have = ", ".join(sorted({str(d.platform) for d in index.manifests if d.platform})) or "none"
        raise ManifestError(what, detail=f"no image for platform {want} (available: {have})")
    return best


def is_manifest_type(media_type: str) -> bool:
    return media_type in MANIFEST_TYPES | INDEX_TYPES


__all__ = [
    "ACCEPT",
    "MAX_MANIFEST_SIZE",
    "ParsedManifest",
    "parse_manifest",
    "select_platform",
    "is_manifest_type",
    "DOCKER_MANIFEST_LIST",
]
