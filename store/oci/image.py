"""The image model's seams: the `Image` and `Layer` protocols every source implements
(the store's layout, the archives, the registry), and Docker schema2 <-> OCI
conversion of a manifest (same blobs; the manifest digest changes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import IO, Protocol, runtime_checkable

from store.errors import InvalidImage
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.manifest import Manifest
from store.oci.mediatype import (
    DOCKER_LAYER_TAR,
    DOCKER_MANIFEST,
    DOCKER_TO_OCI,
    OCI_LAYER,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    OCI_TO_DOCKER,
)

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
