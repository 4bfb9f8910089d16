"""The image model's seams: the `Image` and `Layer` protocols every source implements
(the store's layout, the archives, the registry), `ManifestImage`, the part of an
`Image` they all share, and Docker schema2 <-> OCI conversion of a manifest (same blobs;
the manifest digest changes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import IO, Any, Generic, Protocol, TypeVar, runtime_checkable

from store.errors import InvalidImage
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import (
    DOCKER_LAYER_TAR,
    DOCKER_MANIFEST,
    DOCKER_TO_OCI,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_LAYER,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    OCI_TO_DOCKER,
)
from store.oci.platform import Platform

# --- conversion --------------------------------------------------------------


def to_oci(m: Manifest) -> Manifest:
    """Docker schema2 -> OCI media types (same blobs; the manifest digest changes)."""

    def conv(d: Descriptor) -> Descriptor:
        mt = DOCKER_TO_OCI.get(d.media_type, d.media_type)
        if d.media_type == DOCKER_LAYER_TAR:
            mt = OCI_LAYER
        return replace(d, media_type=mt)

    return replace(
        m, media_type=OCI_MANIFEST, config=conv(m.config), layers=tuple(conv(d) for d in m.layers)
    )


def to_docker(m: Manifest) -> Manifest:
    """OCI -> Docker schema2. zstd layers have no schema2 type, so they are refused."""

    def conv(d: Descriptor) -> Descriptor:
        if d.media_type == OCI_LAYER_ZSTD:
            raise InvalidImage(str(d.digest), "zstd layers cannot be expressed in Docker schema2")
        if d.media_type == OCI_LAYER:
            return replace(d, media_type=DOCKER_LAYER_TAR)
        return replace(d, media_type=OCI_TO_DOCKER.get(d.media_type, d.media_type))

    if m.subject is not None or m.artifact_type:
        raise InvalidImage("manifest", "OCI artifacts/subjects have no Docker schema2 form")
    return replace(
        m,
        media_type=DOCKER_MANIFEST,
        config=conv(m.config),
        layers=tuple(conv(d) for d in m.layers),
        annotations={},
    )


def convert_manifest(m: Manifest, fmt: str) -> Manifest:
    return to_oci(m) if fmt == "oci" else to_docker(m)


# --- protocols -----------------------------------------------------------------


@runtime_checkable
class Layer(Protocol):
    @property
    def descriptor(self) -> Descriptor: ...
    @property
    def diff_id(self) -> Digest: ...
    def compressed(self) -> IO[bytes]: ...
    def uncompressed(self) -> IO[bytes]: ...


@runtime_checkable
class Image(Protocol):
    @property
    def digest(self) -> Digest: ...
    def manifest(self) -> Manifest: ...
    def config(self) -> ImageConfig: ...
    def layers(self) -> Sequence[Layer]: ...


MAX_INDEX_DEPTH = 4  # an index of indexes of ... beyond this is refused


def manifest_for(
    desc: Descriptor, platform: Platform | None, read_json: Callable[[Descriptor], Any]
) -> Descriptor:
    """`desc` if it names a manifest; for an index, the manifest for `platform` (default:
    this host) as `Index.select` picks it, reading each index with the source's
    `read_json`."""
    for _ in range(MAX_INDEX_DEPTH + 1):
        if desc.media_type not in INDEX_TYPES:
            return desc
        desc = Index.from_json(read_json(desc)).select(platform)
    raise InvalidImage(str(desc.digest), "index nesting too deep")


L = TypeVar("L", bound=Layer)


class ManifestImage(Generic[L]):
    """What every `Image` source shares: its manifest and config, each read once through
    the source's `read_json` (bounded and verified there) and parsed strictly, and one
    layer per manifest layer and config diff_id, made by the source's `layer`."""

    def __init__(
        self,
        desc: Descriptor,
        read_json: Callable[[Descriptor], Any],
        layer: Callable[[Descriptor, Digest], L],
    ) -> None:
        if desc.media_type not in MANIFEST_TYPES:
            raise InvalidImage(str(desc.digest), f"not a manifest: {desc.media_type}")
        self.descriptor = desc
        self._read_json, self._layer = read_json, layer
        self._manifest: Manifest | None = None
        self._config: ImageConfig | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest.from_json(self._read_json(self.descriptor))
        return self._manifest

    def config(self) -> ImageConfig:
        if self._config is None:
            self._config = ImageConfig.from_json(self._read_json(self.manifest().config))
        return self._config

    def layers(self) -> list[L]:
        m, c = self.manifest(), self.config()
        if len(m.layers) != len(c.diff_ids):
            raise InvalidImage(
                str(self.digest), f"{len(m.layers)} layers but {len(c.diff_ids)} diff_ids"
            )
        return [self._layer(d, i) for d, i in zip(m.layers, c.diff_ids, strict=True)]
