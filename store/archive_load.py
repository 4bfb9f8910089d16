"""Image archives, reading side: `load` (OCI archives, docker-archives from `docker
save` old and new, skopeo's oci-archive and docker-archive) in one streaming pass.

Every archive is hostile input (what member names mean is `store.readers.members`,
shared with the in-place readers of `store.readers`):
- member names are only used as lookup keys, never as paths to write;
- `blobs/<alg>/<hex>` members are verified against their name while streaming;
- other regular files are stored under the digest the store computes;
- small documents (manifest.json, index.json, repositories) are read with a bound, and
  so are the tar's own PAX and long-name records;
- links (docker save uses symlinks for repeated layers) resolve only inside the archive;
- every assembled image is checked: blobs present, layer count == diff_id count, and
  each layer's diff_id verified (uncompressed: digest == diff_id; compressed: decompressed
  and hashed).
Nothing is tagged until all blobs of that image are stored, so a crash leaves at most
unreferenced blobs that `prune` removes.
"""

from __future__ import annotations

import gzip
import lzma
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from store.errors import InvalidArchive, InvalidImage, InvalidReference
from store.image import StoredImage, StoredLayer
from store.meta import LayerRecord, record_layer
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest, HashingWriter
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
)
from store.readers.blobs import read_doc
from store.readers.members import (
    DOCS,
    BoundedTarInfo,
    blob_digest,
    clean_name,
    docker_entries,
    index_names,
    is_junk,
    layer_type,
    link_target,
    resolve,
)
from store.refs import tag_name

if TYPE_CHECKING:
    from store.layout import Lease, Store


@dataclass
class _Scan:
    """What one pass over an archive found: its blobs, hard links and JSON documents."""

    path: str
    blobs: dict[str, Descriptor] = field(default_factory=dict)  # member name -> blob
    links: dict[str, str] = field(default_factory=dict)  # member name -> target name
    docs: dict[str, Any] = field(default_factory=dict)

    def resolve(self, name: str) -> Descriptor:
        return self.blobs[resolve(name, self.blobs, self.links, self.path)]


def _scan(store: Store, stream: IO[bytes], path: str, lease: Lease) -> _Scan:
    scan = _Scan(path)
    try:
        tf = tarfile.open(fileobj=stream, mode="r|*", tarinfo=BoundedTarInfo)
    except tarfile.TarError as e:
        raise InvalidArchive(path, f"not a tar archive: {e}") from None
    try:
        for ti in tf:
            name = clean_name(ti.name, path)
            target = link_target(ti, name, path)
            if target is not None:
                scan.links[name] = target
                continue
            if not ti.isfile():
                continue
            f = tf.extractfile(ti)
            assert f is not None
            if name in DOCS:
                scan.docs[name] = read_doc(f, ti.size, name, path)
                continue
            if is_junk(name):
                continue
            want = blob_digest(name)
            desc = store.blobs.put(f, "application/octet-stream", expected=want, size=ti.size)
            lease.add("blob", str(desc.digest))
            scan.blobs[name] = desc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as e:
        raise InvalidArchive(path, f"broken tar: {e}") from None
    finally:
        tf.close()
    return scan


def _layer_type(store: Store, d: Digest) -> str:
    with open(store.blobs.path(d), "rb") as f:
        return layer_type(f.read(4))


def _check_layers(store: Store, img: StoredImage) -> None:
    for layer in img.layers():
        d = layer.descriptor
        if d.media_type in (OCI_LAYER, "application/vnd.docker.image.rootfs.diff.tar"):
            if d.digest != layer.diff_id:
                raise InvalidImage(
                    str(d.digest), f"uncompressed layer is not its diff_id {layer.diff_id}"
                )
            size = d.size
        else:
            size = _verify_diff_id(layer)
        record_layer(store.db(), LayerRecord(layer.diff_id, d.digest, d.media_type, d.size, size))


def _verify_diff_id(layer: StoredLayer) -> int:
    hw = HashingWriter(None)
    with layer.uncompressed() as r:
        while chunk := r.read(1 << 20):
            hw.write(chunk)
    if hw.digest != layer.diff_id:
        raise InvalidImage(
            str(layer.descriptor.digest),
            f"layer decompresses to {hw.digest}, config says {layer.diff_id}",
        )
    return hw.size


def _from_docker_manifest(store: Store, scan: _Scan) -> list[tuple[list[str], Descriptor]]:
    out = []
    for e in docker_entries(scan.docs["manifest.json"], scan.path):
        cfg = scan.resolve(e.config)
        ImageConfig.from_json(store.blobs.read_json(cfg.digest))  # validate
        layers = []
        for name in e.layers:
            d = scan.resolve(name)
            layers.append(Descriptor(_layer_type(store, d.digest), d.digest, d.size))
        m = Manifest(config=Descriptor(OCI_CONFIG, cfg.digest, cfg.size), layers=tuple(layers))
        mdesc = store.blobs.put_bytes(m.to_bytes(), OCI_MANIFEST)
        out.append((list(e.repo_tags), mdesc))
    return out


def _from_oci_index(store: Store, scan: _Scan) -> list[tuple[list[str], Descriptor]]:
    doc = scan.docs["index.json"]
    try:
        index = Index.from_json(doc)
    except InvalidImage as e:
        raise InvalidArchive(scan.path, f"index.json: {e}") from None
    out = []
    for d in index.manifests:
        if not store.blobs.exists(d.digest) or store.blobs.stat(d.digest) != d.size:
            raise InvalidArchive(scan.path, f"index.json names missing blob {d.digest}")
        names = index_names(d)
        out.append((names, Descriptor(d.media_type, d.digest, d.size, platform=d.platform)))
    return out


def _check_tree(store: Store, desc: Descriptor, depth: int = 0) -> None:
    """Every blob reachable from `desc` is present; layers match their diff_ids."""
    if depth > 4:
        raise InvalidImage(str(desc.digest), "index nesting too deep")
    if desc.media_type in INDEX_TYPES:
        # A multi-platform index may ship only some platforms (skopeo without --all,
        # docker save of one platform): absent children are fine, present ones are checked.
        present = 0
        for child in Index.from_json(store.blobs.read_json(desc)).manifests:
            if child.media_type in MANIFEST_TYPES | INDEX_TYPES and store.blobs.exists(
                child.digest
            ):
                _check_tree(store, child, depth + 1)
                present += 1
        if not present:
            raise InvalidImage(str(desc.digest), "the index names no manifest in the archive")
        return
    img = StoredImage(store, desc)
    for d in img.blobs():
        if store.blobs.stat(d.digest) != d.size:
            raise InvalidImage(str(d.digest), "size differs from its descriptor")
    _check_layers(store, img)


def load(store: Store, src: Path | str | IO[bytes]) -> list[tuple[str | None, Descriptor]]:
    """Load every image in the archive; returns (name or None, manifest descriptor)."""
    path = str(src) if isinstance(src, (str, Path)) else getattr(src, "name", "<stream>")
    with store.lease(labels=f"load {path}") as lease:
        if isinstance(src, (str, Path)):
            try:
                with open(src, "rb") as f:
                    scan = _scan(store, f, path, lease)
            except OSError as e:
                raise InvalidArchive(path, e.strerror or str(e)) from None
        else:
            scan = _scan(store, src, path, lease)
        if "index.json" in scan.docs and (scan.docs["index.json"] or {}).get("manifests"):
            images = _from_oci_index(store, scan)
            if "manifest.json" in scan.docs:
                images = _names_from_docker(store, scan, images)
        elif "manifest.json" in scan.docs:
            images = _from_docker_manifest(store, scan)
        else:
            raise InvalidArchive(path, "neither index.json nor manifest.json found")
        result: list[tuple[str | None, Descriptor]] = []
        tags: list[tuple[str, Descriptor]] = []
        for names, desc in images:
            lease.add("blob", str(desc.digest))
            _check_tree(store, desc)
            valid = []
            for n in names:
                try:
                    valid.append(tag_name(n))
                except InvalidReference:
                    continue
            if not valid:
                store.refs.add_root(desc)
                result.append((None, desc))
            for n in valid:
                tags.append((n, desc))
                result.append((n, desc))
        if tags:
            store.refs.set_many(tags)
        return result


def _names_from_docker(
    store: Store, scan: _Scan, images: list[tuple[list[str], Descriptor]]
) -> list[tuple[list[str], Descriptor]]:
    """docker 25+ archives: prefer manifest.json RepoTags, matched by config digest."""
    by_cfg: dict[Digest, list[str]] = {}
    for e in scan.docs["manifest.json"] or []:
        if isinstance(e, dict) and isinstance(e.get("Config"), str):
            by_cfg.setdefault(scan.resolve(e["Config"]).digest, []).extend(
                str(t) for t in e.get("RepoTags") or []
            )
    out = []
    for names, desc in images:
        if desc.media_type in MANIFEST_TYPES:
            cfg = Manifest.from_json(store.blobs.read_json(desc)).config.digest
            names = by_cfg.get(cfg) or names
        out.append((names, desc))
    return out
