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

from store.oci.digest import Descriptor, Digest
from store.oci.image import ManifestImage, manifest_for
from store.oci.platform import Platform
from store.readers.blobs import BlobSource, read_json, verified
from store.readers.members import layer_type


def select_manifest(
    blobs: BlobSource, desc: Descriptor, platform: Platform | None = None
) -> Descriptor:
    """`desc` if it names a manifest; for an index, the manifest for `platform`
    (default: this host)."""
    return manifest_for(desc, platform, lambda d: read_json(blobs, d))


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


class BlobImage(ManifestImage[BlobLayer]):
    """An image whose manifest, config and layers are blobs of a `BlobSource`."""

    def __init__(self, blobs: BlobSource, desc: Descriptor) -> None:
        super().__init__(
            desc, lambda d: read_json(blobs, d), lambda d, diff_id: BlobLayer(blobs, d, diff_id)
        )
        self.blobs = blobs


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
