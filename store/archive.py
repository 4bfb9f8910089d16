"""Image archives, writing side: `save` as an OCI archive or a docker-archive.

- `oci`: a tar of an OCI image layout (oci-layout, index.json, blobs/sha256/*), the
  blobs exactly as stored. index.json names the image twice, as BuildKit does:
  `io.containerd.image.name` (full name) and `org.opencontainers.image.ref.name`
  (familiar name with tag, as in the store, so `skopeo copy oci-archive:F:app:1` works).
- `docker`: what `docker save` (25+) writes: `manifest.json` [{Config, RepoTags,
  Layers}] whose paths point into an OCI layout in the same tar. Layers are
  uncompressed (their digest is their diff_id), which every `docker load` and
  `skopeo copy docker-archive:` accepts.

Tar output is deterministic (sorted, PAX, uid/gid 0, fixed mtime) and streamed: no
blob is read into memory. Writing to a path goes through a temp file and a rename.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from store.errors import InvalidArchive, InvalidReference, StoreError
from store.image import StoredImage, StoredLayer, resolve_image
from store.meta import layers_by_diff_id
from store.oci.config import go_json
from store.oci.digest import Descriptor, Digest, HashingWriter, VerifyingReader
from store.oci.image import to_oci
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import (
    ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_LAYER,
)
from store.oci.reference import Reference

if TYPE_CHECKING:
    from store.layout import Store

CHUNK = 1 << 20


def _mtime() -> int:
    sde = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(sde) if sde.isdigit() else 0


class TarOut:
    """A deterministic tar writer that streams members from files or bytes."""

    def __init__(self, out: IO[bytes]) -> None:
        self._tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self._mtime = _mtime()
        self._dirs: set[str] = set()

    def _info(
        self, name: str, size: int, typ: bytes = tarfile.REGTYPE, mode: int = 0o644
    ) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size, ti.type, ti.mode, ti.mtime = size, typ, mode, self._mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    def dir(self, name: str) -> None:
        if name not in self._dirs:
            self._dirs.add(name)
            self._tf.addfile(self._info(name, 0, tarfile.DIRTYPE, 0o755))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tf.addfile(self._info(name, len(data)), io.BytesIO(data))

    def add_stream(self, name: str, stream: IO[bytes], size: int) -> None:
        self._tf.addfile(self._info(name, size), stream)

    def close(self) -> None:
        self._tf.close()

    def discard(self) -> None:
        """After a failure: write nothing more (tarfile's stream would otherwise write
        its end blocks from `__del__`, into an output that is already closed)."""
        setattr(self._tf.fileobj, "closed", True)  # noqa: B010 - the stream's own flag


@contextlib.contextmanager
def _output(dest: Path | str | IO[bytes]) -> Iterator[IO[bytes]]:
    """A file that appears at `dest` only when complete (or a given stream)."""
    if not isinstance(dest, (str, Path)):
        yield dest
        return
    dest = Path(dest)
    if str(dest) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _blob_name(d: Digest) -> str:
    return f"blobs/{d.algorithm}/{d.hex}"


def _layout_header(tar: TarOut, algs: set[str]) -> None:
    tar.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    tar.dir("blobs")
    for alg in sorted(algs):
        tar.dir(f"blobs/{alg}")


def save(
    store: Store, names: Sequence[str], dest: Path | str | IO[bytes], fmt: str = "oci"
) -> list[Descriptor]:
    """Write images `names` to `dest` as an `oci` or `docker` archive.
    Returns the manifest descriptors written to the archive's index."""
    if fmt not in ("oci", "docker"):
        raise InvalidArchive(str(dest), f"unknown format {fmt!r} (want oci or docker)")
    images: list[tuple[str | None, StoredImage]] = []
    tops: list[Descriptor] = []
    tags = {name for name, _ in store.refs.list()}
    for n in names:
        img = resolve_image(store, n)
        try:
            tag: str | None = Reference.parse(n).familiar()
        except InvalidReference:
            tag = None
        images.append((tag if tag in tags else None, img))
        tops.append(_top(store, n, img))
    with _output(dest) as out:
        tar = TarOut(out)
        try:
            if fmt == "oci":
                written = _save_oci(
                    store, [(t, d) for (t, _), d in zip(images, tops, strict=True)], tar
                )
            else:
                written = _save_docker(store, images, tar)
        except BaseException:
            tar.discard()
            raise
        tar.close()
    return written


def _top(store: Store, name: str, img: StoredImage) -> Descriptor:
    """What the name points at: a multi-platform index is saved whole in OCI form."""
    try:
        d = store.refs.get(name)
    except StoreError:
        return img.descriptor
    return (
        Descriptor(d.media_type, d.digest, d.size)
        if d.media_type in INDEX_TYPES
        else img.descriptor
    )


def _present_tree(store: Store, top: Descriptor) -> dict[Digest, Descriptor]:
    """Blobs reachable from `top` that are in the store (an index may lack platforms)."""
    blobs: dict[Digest, Descriptor] = {}
    todo = [top]
    while todo:
        d = todo.pop()
        if d.digest in blobs or not store.blobs.exists(d.digest):
            continue
        blobs[d.digest] = d
        if d.media_type in INDEX_TYPES:
            todo.extend(Index.from_json(store.blobs.read_json(d)).manifests)
        elif d.media_type in MANIFEST_TYPES:
            m = Manifest.from_json(store.blobs.read_json(d))
            todo.extend([m.config, *m.layers])
    return blobs


def _index_entry(desc: Descriptor, tag: str | None) -> dict:
    d = Descriptor(desc.media_type, desc.digest, desc.size)
    if tag:
        d = d.with_annotations(
            **{ANNOTATION_CONTAINERD_NAME: str(Reference.parse(tag)), ANNOTATION_REF_NAME: tag}
        )
    return d.to_json()


def _save_oci(
    store: Store, images: list[tuple[str | None, Descriptor]], tar: TarOut
) -> list[Descriptor]:
    blobs: dict[Digest, Descriptor] = {}
    for _, top in images:
        for dg, d in _present_tree(store, top).items():
            blobs.setdefault(dg, d)
    _layout_header(tar, {d.algorithm for d in blobs})
    for dg in sorted(blobs):
        with store.blobs.open(dg, blobs[dg].size) as r:
            tar.add_stream(_blob_name(dg), r, blobs[dg].size)  # type: ignore[arg-type]
            r.verify()
    entries = [_index_entry(top, tag) for tag, top in images]
    tar.add_bytes(
        "index.json", go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    )
    return [top for _, top in images]


def _uncompressed_size(store: Store, layer: object) -> int:
    assert isinstance(layer, StoredLayer)
    if layer.descriptor.media_type.endswith(".tar") and layer.descriptor.digest == layer.diff_id:
        return layer.descriptor.size
    for rec in layers_by_diff_id(store.db(), layer.diff_id):
        if rec.uncompressed_size is not None:
            return rec.uncompressed_size
    counter = HashingWriter(None)
    with layer.uncompressed() as r:
        while chunk := r.read(CHUNK):
            counter.write(chunk)
    if counter.digest != layer.diff_id:
        raise InvalidArchive(
            str(layer.descriptor.digest),
            f"layer decompresses to {counter.digest}, config says {layer.diff_id}",
        )
    return counter.size


def _save_docker(
    store: Store, images: list[tuple[str | None, StoredImage]], tar: TarOut
) -> list[Descriptor]:
    _layout_header(tar, {"sha256"})
    seen: set[Digest] = set()
    manifest_json, index_entries, written = [], [], []
    for tag, img in images:
        cfg_desc = img.manifest().config
        if cfg_desc.digest not in seen:
            seen.add(cfg_desc.digest)
            with store.blobs.open(cfg_desc.digest, cfg_desc.size) as r:
                tar.add_stream(_blob_name(cfg_desc.digest), r, cfg_desc.size)  # type: ignore[arg-type]
                r.verify()
        layer_descs = []
        for layer in img.layers():
            size = _uncompressed_size(store, layer)
            layer_descs.append(Descriptor(OCI_LAYER, layer.diff_id, size))
            if layer.diff_id in seen:
                continue
            seen.add(layer.diff_id)
            with layer.uncompressed() as r:
                # the uncompressed stream must hash to the diff_id the config promises
                vr = VerifyingReader(r, layer.diff_id, size)
                tar.add_stream(_blob_name(layer.diff_id), cast("IO[bytes]", vr), size)
                vr.verify()
        m = to_oci(img.manifest())
        m = type(m)(
            config=Descriptor(m.config.media_type, cfg_desc.digest, cfg_desc.size),
            layers=tuple(layer_descs),
            annotations=m.annotations,
        )
        mbytes = m.to_bytes()
        mdesc = Descriptor(m.media_type, Digest.of_bytes(mbytes), len(mbytes))
        if mdesc.digest not in seen:
            seen.add(mdesc.digest)
            tar.add_bytes(_blob_name(mdesc.digest), mbytes)
        index_entries.append(_index_entry(mdesc, tag))
        written.append(mdesc)
        manifest_json.append(
            {
                "Config": _blob_name(cfg_desc.digest),
                "RepoTags": [tag] if tag else None,
                "Layers": [_blob_name(d.digest) for d in layer_descs],
            }
        )
    tar.add_bytes(
        "index.json",
        go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries}),
    )
    tar.add_bytes("manifest.json", json.dumps(manifest_json).encode())
    return written
