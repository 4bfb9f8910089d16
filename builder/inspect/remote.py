"""Open a registry image for inspection by streaming: the manifest and config are
fetched, and each layer blob is read straight from the HTTP response (resuming with
Range on a dropped connection, via registry_client's ResumingReader). Nothing touches
the disk. Digests are verified as the blob streams, and a mismatch fails at EOF."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, cast

from builder.inspect.errors import SourceError
from builder.inspect.sources import ImageSource, LayerBlob

if TYPE_CHECKING:
    from store.oci.digest import Descriptor

MAX_CONFIG = 4 << 20


def open_remote(spec: str) -> ImageSource:
    from registry_client.client import RegistryClient
    from registry_client.manifest import parse_manifest, select_platform
    from registry_client.progress import ByteCounter
    from registry_client.pull import ResumingReader
    from registry_client.reference import Reference
    from store.oci.digest import Digest, VerifyingReader
    from store.oci.platform import host_platform

    ref = Reference.parse(spec)
    client = RegistryClient()
    try:
        data, ctype, _digest = client.get_manifest(ref)
        parsed = parse_manifest(data, ctype, str(ref))
        if parsed.is_index:
            child = select_platform(parsed, host_platform(), str(ref))
            data, ctype, _digest = client.get_manifest(ref.with_digest(child.digest))
            parsed = parse_manifest(data, ctype, str(ref))
        if parsed.config is None or parsed.is_index:
            raise SourceError(spec, "the registry returned no image manifest")
        cdesc = parsed.config
        if cdesc.size > MAX_CONFIG:
            raise SourceError(spec, f"config of {cdesc.size} bytes is too large")
        resp = client.open_blob(ref, cdesc.digest)
        parts: list[bytes] = []
        total = 0
        try:
            for c in resp.iter_content(1 << 16):
                parts.append(c)
                total += len(c)
                if total > MAX_CONFIG:
                    raise SourceError(spec, "config is larger than its descriptor says")
        finally:
            resp.close()
        unsafe_data = b"".join(parts)
        got = Digest.of_bytes(unsafe_data, cdesc.digest.algorithm)
        if got != cdesc.digest:
            raise SourceError(spec, f"config digest mismatch: got {got}")
        config = json.loads(unsafe_data)
    except BaseException:
        client.close()
        raise

    def opener(d: Descriptor) -> Callable[[], IO[bytes]]:
        def open_() -> IO[bytes]:
            r = ResumingReader(client, ref, d, ByteCounter(None, d.digest, d.size))
            # file-like, not an IO: the layer readers only call read() and close()
            return cast("IO[bytes]", VerifyingReader(cast("IO[bytes]", r), d.digest, d.size))

        return open_

    layers = [LayerBlob(str(d.digest), d.size, d.media_type, opener(d)) for d in parsed.layers]
    return ImageSource(spec, config, layers, str(_digest), str(cdesc.digest), [client.close])
