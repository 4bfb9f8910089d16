"""An OCI image layout directory read in place (`LayoutDir`, a `BlobSource` over its
`blobs/<alg>/<hex>` files), and what every layout shares, a directory's or an
oci-archive's: picking the image index.json names by a reference (`find_image`) and
opening it for a platform (`layout_image`).

Files are opened without blocking and must be regular: a FIFO or a device planted
as a blob is refused, not waited on."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from store.errors import (
    AmbiguousImage,
    BlobNotFound,
    ImageNotFound,
    InvalidImage,
    InvalidLayout,
    InvalidReference,
    SizeMismatch,
)
from store.oci.digest import Descriptor
from store.oci.manifest import Index
from store.oci.mediatype import ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME
from store.oci.platform import Platform
from store.oci.reference import Reference
from store.readers.blobs import BlobSource, read_doc
from store.readers.image import BlobImage, select_manifest

MIN_DIGEST_PREFIX = 12  # hex digits of a manifest digest that name an image


class Layout(BlobSource, Protocol):
    """A layout's files, wherever they are: its index.json, and its blobs."""

    def index(self) -> Index: ...


@dataclass(frozen=True)
class LayoutDir:
    """An OCI image layout directory."""

    root: Path

    def index(self) -> Index:
        try:
            f, size = self._open_regular(self.root / "index.json", "index.json")
        except OSError as e:
            raise InvalidLayout(str(self.root), f"cannot read index.json: {e.strerror}") from None
        with f:
            doc = read_doc(f, size, "index.json", str(self.root), InvalidLayout)
        try:
            return Index.from_json(doc)
        except InvalidImage as e:
            raise InvalidLayout(str(self.root), f"index.json: {e.why}") from None

    def open_blob(self, desc: Descriptor) -> IO[bytes]:
        d = desc.digest  # validated: neither part can hold a "/" or be ".."
        try:
            f, size = self._open_regular(self.root / "blobs" / d.algorithm / d.hex, str(d))
        except FileNotFoundError:
            raise BlobNotFound(str(d)) from None
        except OSError as e:
            raise InvalidLayout(str(self.root), f"cannot read {d}: {e.strerror}") from None
        if size != desc.size:
            f.close()
            raise SizeMismatch(str(d), desc.size, size)
        return f

    def _open_regular(self, path: Path, name: str) -> tuple[IO[bytes], int]:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        f = os.fdopen(fd, "rb")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            f.close()
            raise InvalidLayout(str(self.root), f"{name} is not a regular file")
        return f, st.st_size


def ref_candidates(ref: str) -> list[str]:
    """The ref.name annotations that may spell `ref` in an index.json: as given, and as
    the familiar and the full form of the reference it parses as."""
    try:
        parsed = Reference.parse(ref)
    except InvalidReference:
        return [ref]
    return list(dict.fromkeys([ref, parsed.familiar(), str(parsed)]))


def find_image(entries: Sequence[Descriptor], ref: str | None, where: str) -> Descriptor:
    """The entry `ref` names (by name, or by a manifest digest or a prefix of at least
    12 hex digits of one); without a ref, the only entry."""
    if ref is None:
        if len(entries) != 1:
            if not entries:
                raise ImageNotFound(where)
            raise AmbiguousImage(where, len(entries))
        return entries[0]
    names = ref_candidates(ref)
    for d in entries:
        ann = d.annotations
        if any(ann.get(k) in names for k in (ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME)):
            return d
    wanted = ref.removeprefix("sha256:")
    if len(wanted) >= MIN_DIGEST_PREFIX:
        hits = [d for d in entries if d.digest.hex.startswith(wanted)]
        if len({d.digest for d in hits}) == 1:
            return hits[0]
    raise ImageNotFound(ref)


def layout_image(
    layout: Layout, ref: str | None, where: str, platform: Platform | None = None
) -> BlobImage:
    """The image `ref` names in `layout`, for `platform` (default: this host)."""
    desc = find_image(layout.index().manifests, ref, where)
    return BlobImage(layout, select_manifest(layout, desc, platform))
