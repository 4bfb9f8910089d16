"""Open a registry image for inspection by streaming it, as the shared image model:
`RemoteBlobs` is the registry as a `store.readers.blobs.BlobSource` (manifests and
indexes from the manifests endpoint, which the client bounds and verifies; blobs read
straight from the HTTP response, resuming with Range on a dropped connection, via
registry_client's ResumingReader), so the image is a `store.readers.image.BlobImage`
as an archive's is: the config is bounded and verified, an index resolved as the
store resolves one, and each layer verified as it streams, a mismatch failing at EOF.
Nothing touches the disk."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, cast

from registry_client.client import RegistryClient
from registry_client.manifest import parse_manifest
from registry_client.progress import ByteCounter
from registry_client.pull import ResumingReader
from store.oci.digest import Descriptor
from store.oci.mediatype import INDEX_TYPES, MANIFEST_TYPES
from store.oci.reference import Reference
from store.readers.image import BlobImage, select_manifest

if TYPE_CHECKING:
    from store.oci.digest import Digest
    from store.oci.image import Image
    from store.oci.platform import Platform


class RemoteBlobs:
    """One repository of a registry as a blob source."""

    def __init__(self, client: RegistryClient, ref: Reference) -> None:
        self.client, self.ref = client, ref
        self._manifests: dict[Digest, bytes] = {}

    def top(self) -> Descriptor:
        """The descriptor of the manifest or index the reference names."""
        data, ctype, digest = self.client.get_manifest(self.ref)
        parsed = parse_manifest(data, ctype, str(self.ref))  # refuses schema1, sniffs the type
        self._manifests[digest] = data
        return Descriptor(parsed.media_type, digest, len(data))

    def open_blob(self, desc: Descriptor) -> IO[bytes]:
        if desc.media_type in MANIFEST_TYPES | INDEX_TYPES:
            data = self._manifests.get(desc.digest)
            if data is None:
                data, _, _ = self.client.get_manifest(self.ref.with_digest(desc.digest))
            return io.BytesIO(data)
        reader = ResumingReader(
            self.client, self.ref, desc, ByteCounter(None, desc.digest, desc.size)
        )
        # file-like (read, close), not an IO: the verifying reader only calls those
        return cast("IO[bytes]", reader)


def open_remote(spec: str, platform: Platform | None = None) -> tuple[Image, Callable[[], None]]:
    """The image `spec` names, for `platform` (default: this host), and the closer of
    its connections."""
    ref = Reference.parse(spec)
    client = RegistryClient()
    try:
        blobs = RemoteBlobs(client, ref)
        return BlobImage(blobs, select_manifest(blobs, blobs.top(), platform)), client.close
    except BaseException:
        client.close()
        raise
