"""Reading blobs whose only guarantee is their descriptor: `BlobSource` (where the
bytes stored under a digest come from: a layout directory, a tar's members, a
registry), `verified` (the stream checked as it flows: its digest at EOF, its size one
byte past it) and the two bounded JSON reads, `read_json` for a content-addressed
document (manifest, index, config) and `read_doc` for a named one (a layout's
index.json, an archive's manifest.json), which nothing but its size bounds."""

from __future__ import annotations

import json
from typing import IO, Any, Protocol, cast

from store.errors import BlobTooLarge, InvalidArchive, InvalidImage
from store.oci.digest import Descriptor, VerifyingReader
from store.oci.manifest import MAX_MANIFEST_SIZE

CHUNK = 1 << 20
DOC_LIMIT = 8 << 20  # index.json / manifest.json name every image of a layout or archive


class BlobSource(Protocol):
    """Where the bytes of a blob come from. `open_blob` returns them unverified (the
    callers wrap them with `verified`) and raises `BlobNotFound` for an absent blob;
    a source that knows the stored size raises `SizeMismatch` before a byte is read."""

    def open_blob(self, desc: Descriptor) -> IO[bytes]: ...


def verified(blobs: BlobSource, desc: Descriptor) -> IO[bytes]:
    """The blob `desc` names, hashed and counted as it is read."""
    reader = VerifyingReader(blobs.open_blob(desc), desc.digest, desc.size)
    # a VerifyingReader is file-like (read, readinto, close), not a full IO
    return cast("IO[bytes]", reader)


def read_json(blobs: BlobSource, desc: Descriptor, limit: int = MAX_MANIFEST_SIZE) -> Any:
    """A small JSON blob, refused by its descriptor's size before it is opened, and
    verified (digest and size) before it is parsed."""
    if desc.size > limit:
        raise BlobTooLarge(str(desc.digest), desc.size, limit)
    with verified(blobs, desc) as r:
        unsafe_data = _read_all(r)
    try:
        return json.loads(unsafe_data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidImage(str(desc.digest), f"not JSON: {e}") from None


def read_doc(
    f: IO[bytes], size: int, name: str, where: str, error: type[InvalidArchive] = InvalidArchive
) -> Any:
    """A named JSON document of `size` bytes (as its file or tar header says), refused
    above `DOC_LIMIT` before it is read, and never read past the limit either; a bad
    one raises `error(where, why)`."""
    if size > DOC_LIMIT:
        raise error(where, f"{name} is too large ({size} bytes)")
    unsafe_data = f.read(DOC_LIMIT + 1)
    if len(unsafe_data) > DOC_LIMIT:
        raise error(where, f"{name} is larger than {DOC_LIMIT} bytes")
    try:
        return json.loads(unsafe_data)
    except (ValueError, UnicodeDecodeError) as e:
        raise error(where, f"{name}: not JSON: {e}") from None


def _read_all(r: IO[bytes]) -> bytes:
    parts = []
    while chunk := r.read(CHUNK):
        parts.append(chunk)
    return b"".join(parts)
