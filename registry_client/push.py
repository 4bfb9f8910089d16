"""Push: upload an image (a manifest, or an index and its manifests) from the store.

For each blob, in parallel: HEAD and skip what the registry has; try a cross-repo
mount from a repository on the same registry that `sources` knows holds it; else
upload, monolithic (POST + PUT) for small blobs and chunked PATCHes for big ones
(honouring `OCI-Chunk-Min-Length`). Then PUT the manifest under each tag, with its
own media type. `push_image` is what `pybuild push`, `build --push` and
`--output type=registry` call."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry_client import sources
from registry_client.client import RegistryClient, Upload
from registry_client.errors import RegistryError, TransportError
from registry_client.manifest import MAX_MANIFEST_SIZE, ParsedManifest, parse_manifest
from registry_client.progress import ByteCounter, Progress, emit
from registry_client.retry import UPLOAD_ATTEMPTS, restarts_upload
from registry_client.transport import FileBody
from store.oci.digest import Descriptor, Digest
from store.oci.reference import Reference

if TYPE_CHECKING:
    from store.layout import Store

DEFAULT_WORKERS = 3
CHUNKED_THRESHOLD = 512 << 20  # above this, PATCH in chunks
CHUNK_SIZE = 64 << 20


@dataclass(frozen=True)
class PushOptions:
    """Upload knobs: parallel blobs, when to switch to chunked PATCH, chunk size, mounts."""

    max_workers: int = DEFAULT_WORKERS
    chunked_threshold: int = CHUNKED_THRESHOLD
    chunk_size: int = CHUNK_SIZE
    mount: bool = True


@dataclass(frozen=True)
class PushResult:
    """What a push did, blob by blob: uploaded, already there, or mounted."""

    reference: Reference
    digest: Digest | None  # of the top manifest or index (None from push_blobs)
    uploaded: tuple[Digest, ...]
    existed: tuple[Digest, ...]
    mounted: tuple[Digest, ...]


def push_image(
    store: Store,
    manifest_desc: Descriptor,
    ref: Reference | str,
    *,
    tags: Sequence[str] = (),
    client: RegistryClient | None = None,
    progress: Progress | None = None,
    options: PushOptions | None = None,
) -> PushResult:
    """Push the image `manifest_desc` (in `store`) to `ref`, and also tag it `tags`."""
    ref = ref if isinstance(ref, Reference) else Reference.parse(ref)
    own = client is None
    client = client or RegistryClient()
    pusher = _Pusher(store, client, ref, progress, options or PushOptions())
    try:
        digest = pusher.push_tree(manifest_desc, ref)
        for t in tags:
            if t != ref.tag:
                pusher.put_manifest(manifest_desc, ref.with_tag(t))
    except RegistryError as e:
        raise e.in_context(f"push {ref}") from None
    finally:
        if own:
            client.close()
    return PushResult(
        ref, digest, tuple(pusher.uploaded), tuple(pusher.existed), tuple(pusher.mounted)
    )


def push_blobs(
    store: Store,
    ref: Reference | str,
    descs: Sequence[Descriptor],
    *,
    client: RegistryClient,
    progress: Progress | None = None,
    options: PushOptions | None = None,
) -> PushResult:
    """Upload blobs alone (HEAD, mount, upload), e.g. for `--cache-to`; then
    `client.put_manifest(ref, data, media_type)` names them. `digest` is None."""
    ref = ref if isinstance(ref, Reference) else Reference.parse(ref)
    pusher = _Pusher(store, client, ref, progress, options or PushOptions())
    try:
        pusher.push_blobs(descs)
    except RegistryError as e:
        raise e.in_context(f"push {ref}") from None
    return PushResult(
        ref, None, tuple(pusher.uploaded), tuple(pusher.existed), tuple(pusher.mounted)
    )


class _Pusher:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        ref: Reference,
        progress: Progress | None,
        options: PushOptions,
    ) -> None:
        self.store, self.client, self.ref = store, client, ref
        self.progress, self.options = progress, options
        self.uploaded: list[Digest] = []
        self.existed: list[Digest] = []
        self.mounted: list[Digest] = []

    def read_manifest(self, desc: Descriptor) -> tuple[bytes, ParsedManifest]:
        size = self.store.blobs.stat(desc.digest)
        if size > MAX_MANIFEST_SIZE:
            raise RegistryError(str(desc.digest), detail="manifest too large to push")
        with self.store.blobs.open(desc.digest, size) as r:
            data = r.read(size + 1)
            r.read()  # EOF: the reader verifies the digest here
        return data, parse_manifest(data, desc.media_type, str(desc.digest))

    def push_tree(self, desc: Descriptor, target: Reference) -> Digest:
        data, parsed = self.read_manifest(desc)
        if parsed.is_index:
            for child in parsed.manifests:
                if not self.store.blobs.exists(child.digest):
                    raise RegistryError(
                        str(child.digest),
                        detail=(
                            f"index entry for {child.platform or 'an unknown platform'} is not in "
                            "the store (was only one platform pulled?)"
                        ),
                    )
                self.push_tree(child, target.with_digest(child.digest))
        else:
            self.push_blobs(parsed.blobs())
        return self.put_manifest(desc, target, data, parsed.media_type)

    def put_manifest(
        self,
        desc: Descriptor,
        target: Reference,
        data: bytes | None = None,
        media_type: str | None = None,
    ) -> Digest:
        if data is None or media_type is None:
            data, parsed = self.read_manifest(desc)
            media_type = parsed.media_type
        got = self.client.put_manifest(target, data, media_type)
        emit(self.progress, "manifest", got, len(data), len(data), message=f"-> {target}")
        return got

    def push_blobs(self, blobs: Sequence[Descriptor]) -> None:
        unique = list({d.digest: d for d in blobs}.values())
        mount_from = {}
        if self.options.mount:
            for d in unique:
                repos = [
                    r
                    for r in sources.repositories_with(self.store, self.ref.domain, d.digest)
                    if r != self.ref.repository
                ]
                if repos:
                    mount_from[d.digest] = repos[0]
        workers = max(1, min(self.options.max_workers, len(unique)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
            futures = [pool.submit(self.push_blob, d, mount_from.get(d.digest, "")) for d in unique]
            first: BaseException | None = None
            for f in futures:
                try:
                    f.result()
                except BaseException as e:  # report the first failure
                    first = first or e
                    for g in futures:
                        g.cancel()
            if first is not None:
                raise first
        sources.record(self.store, self.ref.domain, self.ref.repository, [d.digest for d in unique])

    def push_blob(self, desc: Descriptor, mount_from: str) -> None:
        if self.client.head_blob(self.ref, desc.digest, push=True) is not None:
            self.existed.append(desc.digest)
            emit(self.progress, "exists", desc.digest, desc.size, desc.size)
            return
        path = self.store.blobs.path(desc.digest)
        size = self.store.blobs.stat(desc.digest)
        if size != desc.size:
            raise RegistryError(
                str(desc.digest), detail=f"stored blob is {size} bytes, manifest says {desc.size}"
            )
        source = mount_from
        for attempt in range(UPLOAD_ATTEMPTS):
            upload = self._start(desc, source)
            if upload.mounted:
                self.mounted.append(desc.digest)
                emit(self.progress, "mount", desc.digest, size, size, message=f"from {source}")
                return
            source = ""  # the mount was tried; a retry just uploads
            emit(self.progress, "start", desc.digest, 0, size)
            try:
                self._send(desc, path, size, upload.location, upload.min_chunk)
            except (TransportError, RegistryError) as e:
                if attempt + 1 >= UPLOAD_ATTEMPTS or not restarts_upload(e.status):
                    raise
                emit(self.progress, "retry", desc.digest, 0, size, f"upload restarts: {e}")
                continue
            self.uploaded.append(desc.digest)
            emit(self.progress, "done", desc.digest, size, size)
            return

    def _start(self, desc: Descriptor, mount_from: str) -> Upload:
        if mount_from:
            try:
                return self.client.start_upload(self.ref, mount=desc.digest, mount_from=mount_from)
            except RegistryError as e:
                # No read access to the source (or it is gone): upload instead.
                if e.status not in (401, 403, 404):
                    raise
        return self.client.start_upload(self.ref)

    def _send(self, desc: Descriptor, path: Any, size: int, location: str, min_chunk: int) -> None:
        counter = ByteCounter(self.progress, desc.digest, size)
        if size <= self.options.chunked_threshold:

            def body() -> FileBody:
                counter.reset(0)
                return FileBody(path, 0, size, counter.add)

            self.client.finish_upload(self.ref, location, desc.digest, body, size)
            return
        chunk = max(self.options.chunk_size, min_chunk)
        offset = 0
        while offset < size:
            n = min(chunk, size - offset)

            def part(start: int = offset, length: int = n) -> FileBody:
                counter.reset(start)
                return FileBody(path, start, length, counter.add)

            location = self.client.patch_upload(self.ref, location, part, offset, n)
            offset += n
        self.client.finish_upload(self.ref, location, desc.digest)
