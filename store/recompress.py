"""An image's layers rewritten in another compression, as BuildKit's image exporter does
for `compression=zstd,force-compression=true`: each layer's tar streams out of its
blob, decompressed, and into a new blob, compressed again. The tars (so the diff_ids
and the config) do not change; the manifest is written anew (in OCI media types, which
alone name zstd layers) and stored beside the old one, which stays valid."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from store.compress import compressor
from store.image import open_image
from store.layerdiff import MEDIA_TYPES
from store.oci.digest import Descriptor
from store.oci.image import to_oci

if TYPE_CHECKING:
    from store.image import StoredLayer
    from store.layout import Store

CHUNK = 1 << 20


def recompress_image(store: Store, desc: Descriptor, kind: str | None) -> Descriptor:
    """The image at `desc` with every layer in `kind` ("gzip", "zstd" or None); `desc`
    itself when each one already is."""
    want = MEDIA_TYPES[kind]
    img = open_image(store, desc)
    layers = img.layers()
    if all(lay.descriptor.media_type == want for lay in layers):
        return desc
    new = tuple(
        lay.descriptor if lay.descriptor.media_type == want else _rewrite(store, lay, kind, want)
        for lay in layers
    )
    m = to_oci(replace(img.manifest(), layers=new))
    md = store.blobs.put_bytes(m.to_bytes(), m.media_type)
    return Descriptor(md.media_type, md.digest, md.size, platform=desc.platform)


def _rewrite(store: Store, layer: StoredLayer, kind: str | None, media_type: str) -> Descriptor:
    with layer.uncompressed() as src, store.blobs.writer(media_type) as w:
        out = compressor(kind, w)
        while chunk := src.read(CHUNK):
            out.write(chunk)
        out.close()
        d = w.commit()
    return Descriptor(media_type, d.digest, d.size, layer.descriptor.annotations)
