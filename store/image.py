"""Images in the store: `StoredImage` and `StoredLayer` (the `store.oci.image`
protocols over the blob store), `open_image`/`resolve_image`, and `write_image` which
writes config + manifest blobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, cast

from store.errors import ImageNotFound, InvalidImage, StoreError
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.image import ManifestImage, manifest_for, to_docker, to_oci
from store.oci.manifest import Manifest
from store.oci.mediatype import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LAYER_TAR,
    OCI_CONFIG,
)
from store.oci.platform import Platform

if TYPE_CHECKING:
    from store.layout import Store


# --- store-backed implementation ------------------------------------------------


@dataclass(frozen=True)
class StoredLayer:
    """One layer of a stored image: its blob descriptor and diff_id."""

    store: Store
    descriptor: Descriptor
    diff_id: Digest

    def compressed(self) -> IO[bytes]:
        """The blob as stored (verified at EOF)."""
        # a VerifyingReader is file-like (read/readinto/close), not a full IO
        reader = self.store.blobs.open(self.descriptor.digest, self.descriptor.size)
        return cast("IO[bytes]", reader)

    def uncompressed(self) -> IO[bytes]:
        """The layer tar, decompressed as a stream (diff_id is not re-verified here)."""
        raw = self.compressed()
        mt = self.descriptor.media_type
        if mt.endswith("+zstd") or mt.endswith(".zstd"):
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        if mt.endswith("gzip") or _peek_gzip(self.store, self.descriptor):
            import gzip

            # typeshed's GzipFile is a BufferedIOBase, which is not nominally an IO[bytes]
            return cast("IO[bytes]", gzip.GzipFile(fileobj=raw, mode="rb"))
        return raw


def _peek_gzip(store: Store, d: Descriptor) -> bool:
    with open(store.blobs.path(d.digest), "rb") as f:
        return f.read(2) == b"\x1f\x8b"


class StoredImage(ManifestImage[StoredLayer]):
    """An image whose manifest, config and layers are blobs in a `Store`."""

    def __init__(self, store: Store, desc: Descriptor) -> None:
        super().__init__(
            desc, store.blobs.read_json, lambda d, diff_id: StoredLayer(store, d, diff_id)
        )
        self.store = store

    @property
    def id(self) -> Digest:
        """Docker's image ID: the config digest."""
        return self.manifest().config.digest

    def blobs(self) -> list[Descriptor]:
        """Every blob the image needs: manifest, config, layers."""
        m = self.manifest()
        return [self.descriptor, m.config, *m.layers]


def open_image(store: Store, desc: Descriptor, platform: Platform | None = None) -> StoredImage:
    """The image a descriptor names; an index is resolved to the manifest for
    `platform` (default: this host)."""
    return StoredImage(store, manifest_for(desc, platform, store.blobs.read_json))


def resolve_image(store: Store, ref: str, platform: Platform | None = None) -> StoredImage:
    """A tag, digest ref, manifest digest, or image ID (config digest, or a unique
    prefix of at least 4 hex digits) -> StoredImage."""
    try:
        return open_image(store, store.refs.get(ref), platform)
    except ImageNotFound:
        hex_ = ref.removeprefix("sha256:")
        if len(hex_) < 4 or not all(c in "0123456789abcdef" for c in hex_):
            raise
        hits = {}
        for d in store.refs.entries():
            try:
                img = open_image(store, d, platform)
                if img.id.hex.startswith(hex_):
                    hits[img.digest] = img
            except StoreError:
                continue  # broken entries are fsck's business
        if len(hits) != 1:
            raise
        return next(iter(hits.values()))


def write_image(
    store: Store,
    config: ImageConfig,
    layers: Sequence[Descriptor],
    *,
    fmt: str = "oci",
    annotations: Mapping[str, str] | None = None,
    tags: Sequence[str] = (),
) -> Descriptor:
    """Write the config and manifest blobs (layers must already be stored) and tag.
    Returns the manifest descriptor, with the platform of the config."""
    if len(layers) != len(config.diff_ids):
        raise InvalidImage("config", f"{len(layers)} layers but {len(config.diff_ids)} diff_ids")
    for d in layers:
        if not store.blobs.exists(d.digest):
            raise InvalidImage(str(d.digest), "layer blob is not in the store")
    cfg = store.blobs.put_bytes(config.to_bytes(), DOCKER_CONFIG if fmt == "docker" else OCI_CONFIG)
    m = Manifest(
        config=Descriptor(cfg.media_type, cfg.digest, cfg.size),
        layers=tuple(
            Descriptor(d.media_type, d.digest, d.size, d.annotations, None, d.urls) for d in layers
        ),
        annotations=dict(annotations or {}),
    )
    m = to_docker(m) if fmt == "docker" else to_oci(m)
    if fmt != "docker" and annotations:
        m = replace(m, annotations=dict(annotations))
    md = store.blobs.put_bytes(m.to_bytes(), m.media_type)
    plat = Platform(config.os or "linux", config.architecture or "amd64", config.variant or "")
    desc = Descriptor(md.media_type, md.digest, md.size, platform=plat)
    if tags:
        store.refs.set_many([(t, desc) for t in tags])
    return desc


DOCKER_LAYER_TYPES = frozenset({DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR})
