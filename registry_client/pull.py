"""Pull: resolve a reference to one platform's manifest, download its blobs in
parallel (bounded), streaming each into the store's verified ingest, resuming with
`Range` after a dropped connection, skipping blobs the store already has; then store
the manifest and tag it. Corrupt content never reaches the store: `BlobStore.put`
verifies digest and size as it streams and keeps nothing on a mismatch."""

from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import urllib3.exceptions

from registry_client import sources
from registry_client.client import RegistryClient
from registry_client.errors import (
    BlobVerificationError,
    InvalidPlatform,
    RegistryError,
    TransportError,
)
from registry_client.manifest import parse_manifest, select_platform
from registry_client.progress import ByteCounter, Progress, emit
from store.errors import DigestMismatch, SizeMismatch
from store.image import StoredImage
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import DOCKER_CONFIG, OCI_CONFIG
from store.oci.platform import Platform, host_platform
from store.oci.reference import Reference

if TYPE_CHECKING:
    from store.layout import Store

READ_SIZE = 1 << 20
RESUME_ATTEMPTS = 5
DEFAULT_WORKERS = 3  # docker's max-concurrent-downloads
_STREAM_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class PullResult:
    """What `pull_image` did: the stored manifest, and which blobs moved."""

    reference: Reference
    manifest: Descriptor  # the platform manifest that was stored (and tagged)
    index_digest: Digest | None  # the index it was chosen from, if any
    fetched: tuple[Digest, ...]  # blobs downloaded
    skipped: tuple[Digest, ...]  # blobs the store already had


class ResumingReader:
    """A blob body as a file-like `read(n)`; a dropped connection is resumed with
    `Range: bytes=N-` (or by skipping N bytes if the registry ignores Range)."""

    def __init__(
        self,
        client: RegistryClient,
        ref: Reference,
        desc: Descriptor,
        counter: ByteCounter,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.client, self.ref, self.desc, self.counter = client, ref, desc, counter
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.offset = 0
        self.failures = 0
        self._resp: requests.Response | None = None
        self._raw: Any = None
        self._body: Any = None

    def _open(self) -> None:
        resp = self.client.open_blob(self.ref, self.desc.digest, self.offset)
        self._resp, self._raw = resp, resp.raw
        # urllib3 copies on readinto; its http.client response fills the buffer in place.
        # Without Content-Encoding (blobs have none) both give the same raw bytes.
        fp = getattr(resp.raw, "_fp", None)
        plain = not resp.headers.get("Content-Encoding") and fp is not None
        self._body = fp if plain and hasattr(fp, "readinto") else resp.raw
        if self.offset and resp.status_code == 200:
            skip = self.offset  # no Range support: throw away what we already have
            while skip:
                got = self._body.read(min(skip, READ_SIZE))
                if not got:
                    raise OSError("body ended while skipping to the resume offset")
                skip -= len(got)
        elif self.offset and resp.status_code == 206:
            start = resp.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
            if start.strip() != str(self.offset):
                raise OSError(f"registry resumed at {start!r}, wanted {self.offset}")

    def read(self, n: int = -1) -> bytes:
        buf = bytearray(READ_SIZE if n is None or n < 0 else n)
        got = self.readinto(buf)
        return bytes(buf[:got])

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Fill `buf` straight from the socket (no per-chunk allocation): the blob
        store ingests with readinto, which keeps a 200 MB pull cheap in CPU and RSS."""
        while True:
            if self.cancel.is_set():
                raise RegistryError(f"blob {self.desc.digest}", detail="cancelled")
            try:
                if self._raw is None:
                    self._open()
                n = self._body.readinto(buf)
                if not n and len(buf) and self.offset < self.desc.size:
                    raise OSError(f"connection closed at byte {self.offset} of {self.desc.size}")
                self.offset += n
                self.counter.add(n)
                return n
            except RegistryError:
                raise
            except requests.TooManyRedirects as e:  # a loop: retrying walks it again
                self.close()
                raise TransportError(
                    f"GET blob {self.desc.digest}", detail=f"redirect loop: {e}"
                ) from None
            except _STREAM_ERRORS as e:
                self.close()
                self.failures += 1
                if self.failures > RESUME_ATTEMPTS:
                    raise TransportError(
                        f"GET blob {self.desc.digest}",
                        detail=f"gave up after {self.failures} interruptions: {e}",
                    ) from None
                emit(
                    self.progress,
                    "retry",
                    self.desc.digest,
                    self.offset,
                    self.desc.size,
                    f"resuming at byte {self.offset}",
                )
                time.sleep(min(2.0, 0.1 * 2**self.failures * random.uniform(0.5, 1.5)))

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
        self._resp = self._raw = self._body = None


def pull_image(
    store: Store,
    ref: Reference | str,
    *,
    platform: Platform | str | None = None,
    client: RegistryClient | None = None,
    progress: Progress | None = None,
    max_workers: int = DEFAULT_WORKERS,
    tag: bool = True,
) -> PullResult:
    """Pull `ref` into `store` (a store.layout.Store) and tag it with its familiar name."""
    ref = ref if isinstance(ref, Reference) else Reference.parse(ref)
    try:
        want = (
            Platform.parse(platform) if isinstance(platform, str) else platform or host_platform()
        )
    except ValueError as e:
        raise InvalidPlatform(str(platform), str(e)) from None
    own = client is None
    client = client or RegistryClient()
    try:
        with _lease(store):
            return _pull(store, ref, want, client, progress, max_workers, tag)
    except RegistryError as e:
        raise e.in_context(f"pull {ref}") from None
    finally:
        if own:
            client.close()


def _pull(
    store: Store,
    ref: Reference,
    want: Platform,
    client: RegistryClient,
    progress: Progress | None,
    max_workers: int,
    tag: bool,
) -> PullResult:
    data, ctype, digest = client.get_manifest(ref)
    parsed = parse_manifest(data, ctype, str(ref))
    index_digest = None
    platform = None
    if parsed.is_index:
        index_digest = digest
        child = select_platform(parsed, want, str(ref))
        platform = child.platform
        emit(progress, "resolve", child.digest, message=f"for {want}")
        data, ctype, digest = client.get_manifest(ref.with_digest(child.digest))
        parsed = parse_manifest(data, ctype, f"{ref.name}@{child.digest}")
        if parsed.is_index:
            raise RegistryError(str(ref), detail="nested index: platform entry is an index")
    emit(progress, "manifest", digest, len(data), len(data))
    fetched, skipped = fetch_blobs(
        store, ref, parsed.blobs(), client=client, progress=progress, max_workers=max_workers
    )
    media_type = parsed.media_type
    mdesc = store.blobs.put(io.BytesIO(data), media_type, expected=digest, size=len(data))
    mdesc = Descriptor(media_type, mdesc.digest, mdesc.size, platform=platform)
    sources.record(store, ref.domain, ref.repository, [d.digest for d in parsed.blobs()])
    _check_config(store, mdesc)  # a hostile config must not become a tag fsck calls broken
    if tag:
        if ref.tag:
            store.refs.set(ref.with_tag(ref.tag).familiar(), mdesc)
        else:
            store.refs.add_root(mdesc)
        emit(progress, "tag", digest, message=ref.familiar())
    return PullResult(ref, mdesc, index_digest, fetched, skipped)


def _check_config(store: Store, mdesc: Descriptor) -> None:
    """Parse an image config as every later use will (raises a one-line StoreError)."""
    img = StoredImage(store, mdesc)
    if img.manifest().config.media_type in (OCI_CONFIG, DOCKER_CONFIG):
        img.config()


def fetch_blobs(
    store: Store,
    ref: Reference,
    descs: Sequence[Descriptor],
    *,
    client: RegistryClient,
    progress: Progress | None = None,
    max_workers: int = DEFAULT_WORKERS,
) -> tuple[tuple[Digest, ...], tuple[Digest, ...]]:
    """Download `descs` from `ref`'s repository into the store, in parallel, verified,
    skipping those already stored; returns (fetched, skipped). Also for cache import."""
    fetched: list[Digest] = []
    skipped: list[Digest] = []
    todo: list[Descriptor] = []
    for desc in descs:
        if store.blobs.exists(desc.digest) and store.blobs.stat(desc.digest) == desc.size:
            skipped.append(desc.digest)
            emit(progress, "exists", desc.digest, desc.size, desc.size)
        elif desc not in todo:
            todo.append(desc)
    if not todo:
        return (), tuple(skipped)
    cancel = threading.Event()
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(todo))), thread_name_prefix="pull"
    ) as pool:
        futures = [pool.submit(_fetch_blob, store, client, ref, d, progress, cancel) for d in todo]
        errors = []
        for f in futures:
            try:
                fetched.append(f.result())
            except BaseException as e:  # report the first, cancel the rest
                errors.append(e)
                cancel.set()
                for g in futures:
                    g.cancel()
    if errors:
        raise errors[0]
    return tuple(fetched), tuple(skipped)


def _fetch_blob(
    store: Store,
    client: RegistryClient,
    ref: Reference,
    desc: Descriptor,
    progress: Progress | None,
    cancel: threading.Event,
) -> Digest:
    emit(progress, "start", desc.digest, 0, desc.size)
    counter = ByteCounter(progress, desc.digest, desc.size)
    reader = ResumingReader(client, ref, desc, counter, progress, cancel)
    try:
        store.blobs.put(reader, desc.media_type, expected=desc.digest, size=desc.size)
    except (DigestMismatch, SizeMismatch) as e:
        raise BlobVerificationError(
            f"blob {desc.digest}",
            digest=str(desc.digest),
            url=client.url(ref, f"blobs/{desc.digest}"),
            detail=f"content rejected, nothing stored: {e}",
        ) from None
    finally:
        reader.close()
    emit(progress, "done", desc.digest, desc.size, desc.size)
    return desc.digest


def _lease(store: Store) -> Any:
    lease = getattr(store, "lease", None)
    return lease(labels="pull") if lease is not None else contextlib.nullcontext()
