"""`BlobImage` and `BlobLayer`: the `store.oci.image` protocols over any `BlobSource`
(the layout, archive and registry readers all give one), and `select_manifest`, which
walks an index to the manifest for a platform as the store does (`Index.select`:
`pick_platform`'s exact variant first, then the highest compatible one).

The manifest and config are read once each, bounded and verified, and parsed
strictly (`Manifest.from_json`, `ImageConfig.from_json`); a layer is a verified stream
each time it is opened."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import IO, cast

import zstandard

from store.errors import InvalidImage
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import INDEX_TYPES, MANIFEST_TYPES
from store.oci.platform import Platform
from store.readers.blobs import BlobSource, read_json, verified
from store.readers.members import layer_type

MAX_INDEX_DEPTH = 4


def select_manifest(
    blobs: BlobSource, desc: Descriptor, platform: Platform | None = None
) -> Descriptor:
    """`desc` if it names a manifest; for an index, the manifest for `platform`
    (default: this host)."""
    for _ in range(MAX_INDEX_DEPTH + 1):
        if desc.media_type not in INDEX_TYPES:
            return desc
        desc = Index.from_json(read_json(blobs, desc)).select(platform)
    raise InvalidImage(str(desc.digest), "index nesting too deep")


@dataclass(frozen=True)
class BlobLayer:
    """One layer: its blob descriptor and the diff_id the config gives it."""

    blobs: BlobSource = field(repr=False, compare=False)
    descriptor: Descriptor
    diff_id: Digest

    def compressed(self) -> IO[bytes]:
        """The blob as the source holds it, verified as it is read."""
        return verified(self.blobs, self.descriptor)

    def uncompressed(self) -> IO[bytes]:
        """The layer tar, decompressed as it streams (the format is sniffed, as a media
        type may say less than the bytes do)."""
        raw = self.compressed()
        head = raw.read(4)
        stream = cast("IO[bytes]", _Prefixed(head, raw))
        kind = layer_type(head)
        if kind.endswith("+zstd"):
            return zstandard.ZstdDecompressor().stream_reader(stream, closefd=True)
        if kind.endswith("+gzip"):
            # typeshed's GzipFile is a BufferedIOBase, which is not nominally an IO[bytes]
            return cast("IO[bytes]", gzip.GzipFile(fileobj=stream, mode="rb"))
        return stream


class BlobImage:
    """An image whose manifest, config and layers are blobs of a `BlobSource`."""

    def __init__(self, blobs: BlobSource, desc: Descriptor) -> None:
        if desc.media_type not in MANIFEST_TYPES:
            raise InvalidImage(str(desc.digest), f"not a manifest: {desc.media_type}")
        self.blobs = blobs
        self.descriptor = desc
        self._manifest: Manifest | None = None
        self._config: ImageConfig | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest.from_json(read_json(self.blobs, self.descriptor))
        return self._manifest

    def config(self) -> ImageConfig:
        if self._config is None:
            self._config = ImageConfig.from_json(read_json(self.blobs, self.manifest().config))
        return self._config

    def layers(self) -> list[BlobLayer]:
        m, c = self.manifest(), self.config()
        if len(m.layers) != len(c.diff_ids):
            raise InvalidImage(
                str(self.digest), f"{len(m.layers)} layers but {len(c.diff_ids)} diff_ids"
            )
        return [BlobLayer(self.blobs, d, i) for d, i in zip(m.layers, c.diff_ids, strict=True)]


class _Prefixed:
    """`head` (already read from `raw`) and then the rest of `raw`."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head, self._raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._raw.read(n)
        if n is not None and 0 <= n <= len(self._head):
            out, self._head = self._head[:n], self._head[n:]
            return out
        out, self._head = self._head, b""
        return out + self._raw.read(-1 if n is None or n < 0 else n - len(out))

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Prefixed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
