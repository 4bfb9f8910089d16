"""A docker-archive read in place (`docker save` before and since 25, skopeo's and
podman's docker-archive): the image one manifest.json entry names, as a `BlobImage`.
It is the image `pybuild load` would store: since docker 25 the archive is also an
OCI layout, and the entry's manifest is the one of index.json with the entry's config;
an older archive has none, so one is made as load makes it (an OCI manifest of the
config and the layers, each layer's media type from its first bytes), over a
`DockerArchive`.

Every member is verified against a digest something vouches for: its
`blobs/<alg>/<hex>` name, a config's `<hex>.json` name, or, for a layer named neither
way (`<id>/layer.tar`), the diff_id the verified config gives it, since such a layer
is an uncompressed tar. A compressed layer whose name gives no digest is refused."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Mapping, Sequence
from typing import IO

from store.errors import (
    AmbiguousImage,
    BlobNotFound,
    ImageNotFound,
    InvalidArchive,
    InvalidImage,
    SizeMismatch,
)
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.manifest import Manifest
from store.oci.mediatype import INDEX_TYPES, MANIFEST_TYPES, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from store.oci.platform import Platform
from store.readers.archive import OciArchive, TarMembers
from store.readers.blobs import read_json
from store.readers.image import BlobImage, select_manifest
from store.readers.layout import ref_candidates
from store.readers.members import DockerEntry, blob_digest, clean_name, docker_entries, layer_type

_CONFIG_NAME = re.compile(r"([0-9a-f]{64})\.json")  # docker save before 25, skopeo, podman


class DockerArchive:
    """The blobs of one image of a docker-archive: members by the digest each is
    verified against, and the manifest made for them."""

    def __init__(
        self,
        members: TarMembers,
        by_digest: Mapping[Digest, tarfile.TarInfo],
        manifest: bytes = b"",
    ) -> None:
        self.members = members
        self._by_digest = dict(by_digest)
        self._manifest = manifest
        self._manifest_digest = Digest.of_bytes(manifest) if manifest else None

    def open_blob(self, desc: Descriptor) -> IO[bytes]:
        if desc.digest == self._manifest_digest:
            return io.BytesIO(self._manifest)
        ti = self._by_digest.get(desc.digest)
        if ti is None:
            raise BlobNotFound(str(desc.digest))
        if ti.size != desc.size:
            raise SizeMismatch(str(desc.digest), desc.size, ti.size)
        return self.members.open(ti)


def docker_archive_image(
    members: TarMembers, ref: str | None, platform: Platform | None = None
) -> BlobImage:
    """The image `ref` names (a RepoTag, or `@N` for the Nth entry; without a ref,
    the only one)."""
    path = members.path
    entry = _find_entry(docker_entries(members.doc("manifest.json"), path), ref, path)
    cfg_ti = members.get(entry.config)
    cfg = Descriptor(OCI_CONFIG, _config_digest(cfg_ti, path), cfg_ti.size)
    if members.find("index.json") is not None:
        indexed = _indexed_image(OciArchive(members), cfg.digest, platform)
        if indexed is not None:
            return indexed
    config = ImageConfig.from_json(read_json(DockerArchive(members, {cfg.digest: cfg_ti}), cfg))
    if len(entry.layers) != len(config.diff_ids):
        raise InvalidImage(path, f"{len(entry.layers)} layers but {len(config.diff_ids)} diff_ids")
    by_digest = {cfg.digest: cfg_ti}
    layers = []
    for name, diff_id in zip(entry.layers, config.diff_ids, strict=True):
        ti = members.get(name)
        with members.open(ti) as f:
            media_type = layer_type(f.read(4))
        digest = blob_digest(clean_name(ti.name, path))
        if digest is None:
            if media_type != OCI_LAYER:
                raise InvalidArchive(
                    path, f"layer {name!r} is compressed, and its name gives no digest"
                )
            digest = diff_id
        by_digest[digest] = ti
        layers.append(Descriptor(media_type, digest, ti.size))
    data = Manifest(config=cfg, layers=tuple(layers)).to_bytes()
    desc = Descriptor(OCI_MANIFEST, Digest.of_bytes(data), len(data))
    return BlobImage(DockerArchive(members, by_digest, data), desc)


def _indexed_image(
    layout: OciArchive, config: Digest, platform: Platform | None
) -> BlobImage | None:
    """The manifest of the archive's index.json whose config is `config`, if any (an
    index's manifest for `platform`; platforms the archive lacks are passed over)."""
    for d in layout.index().manifests:
        if d.media_type not in MANIFEST_TYPES | INDEX_TYPES:
            continue
        try:
            img = BlobImage(layout, select_manifest(layout, d, platform))
            if img.manifest().config.digest == config:
                return img
        except (BlobNotFound, InvalidImage):
            continue
    return None


def _config_digest(ti: tarfile.TarInfo, path: str) -> Digest:
    name = clean_name(ti.name, path)
    digest = blob_digest(name)
    if digest is not None:
        return digest
    m = _CONFIG_NAME.fullmatch(name)
    if m is None:
        raise InvalidArchive(path, f"config {name!r} is not named by its digest")
    return Digest("sha256", m.group(1))


def _find_entry(entries: Sequence[DockerEntry], ref: str | None, path: str) -> DockerEntry:
    if ref is None:
        if len(entries) == 1:
            return entries[0]
        if not entries:
            raise ImageNotFound(path)
        raise AmbiguousImage(path, len(entries))
    if ref.startswith("@") and ref[1:].isdigit():
        n = int(ref[1:])
        if n < len(entries):
            return entries[n]
        raise ImageNotFound(ref)
    names = ref_candidates(ref)
    for e in entries:
        if any(t in names for t in e.repo_tags):
            return e
    raise ImageNotFound(ref)
