"""`--cache-from`: read a shared build cache from a registry, without its layers.

A cache is found by its reference. Three forms are read:

- pybuild's cache manifest (see `cache_export`): an OCI image manifest whose config is
  a `application/vnd.pybuild.cache.config.v1+json` blob holding the rows;
- an image index holding such a manifest (or a platform image, below);
- an image pushed with `--cache-to type=inline`: its config carries the rows under
  the top-level key `dev.pybuild.cache.v1`, as BuildKit's inline cache does.

Only the manifest and one small config blob are downloaded. Rows name their layers by
descriptor; a layer is fetched later only if a step must run on top of it
(`RemoteSource.fetch`). Anything wrong with a cache is a `CacheImportError`, which the
caller reports as a warning: the build goes on without that cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.cache import CacheResult
from builder.errors import BuildError
from registry_client import sources
from registry_client.client import RegistryClient
from registry_client.errors import RegistryError
from registry_client.manifest import parse_manifest, select_platform
from registry_client.pull import fetch_blobs
from store.errors import InvalidReference, StoreError
from store.oci.digest import Descriptor, Digest
from store.oci.platform import Platform
from store.oci.reference import Reference

if TYPE_CHECKING:
    from store.layout import Store

CONFIG_TYPE = "application/vnd.pybuild.cache.config.v1+json"
ARTIFACT_TYPE = "application/vnd.pybuild.cache.v1"
INLINE_KEY = "dev.pybuild.cache.v1"
MAX_CONFIG = 32 << 20
KINDS = ("layer", "empty", "meta")


class CacheImportError(BuildError):
    """A cache that cannot be used (missing, unreadable, corrupt)."""

    exit_code = 1


class CacheTransferError(BuildError):
    """Exporting a cache, or fetching a cached layer, failed."""

    exit_code = 1


@dataclass(frozen=True)
class RemoteSource:
    """A repository that holds cached layers; compared by value, so rows share it."""

    ref: str  # "host/repo[:tag]" as given
    insecure: tuple[str, ...] = ()

    def reference(self) -> Any:
        return Reference.parse(self.ref)

    def client(self) -> Any:
        return RegistryClient(insecure=self.insecure)

    def fetch(self, store: Store, descs: list[Descriptor], progress: Any = None) -> None:
        """Download `descs` into the store (verified) and remember where they came from,
        so a later push can mount them instead of uploading."""

        ref = self.reference()
        client = self.client()
        try:
            fetch_blobs(store, ref, descs, client=client, progress=progress)
        finally:
            client.close()
        sources.record(store, ref.domain, ref.repository, [d.digest for d in descs])


@dataclass(frozen=True)
class RemoteRow:
    """A cache row read from a --cache-from manifest."""

    key: str
    parent: str
    result: CacheResult  # with `source` set for layer rows
    origin: str  # the --cache-from reference, for "CACHED (from registry REF)"


def load(ref_text: str, insecure: tuple[str, ...], platform: str) -> dict[str, RemoteRow]:
    """The rows of the cache at `ref_text`, by key. Raises CacheImportError."""

    try:
        ref = Reference.parse(ref_text)
    except InvalidReference as e:
        raise CacheImportError(str(e)) from None
    source = RemoteSource(str(ref), insecure)
    client = source.client()
    try:
        doc = _cache_document(client, ref, platform)
    except RegistryError as e:
        raise CacheImportError(str(e)) from None
    finally:
        client.close()
    return parse_rows(doc, source, ref_text)


def _cache_document(client: Any, ref: Any, platform: str) -> Any:
    data, ctype, _ = client.get_manifest(ref)
    parsed = parse_manifest(data, ctype, str(ref))
    if parsed.is_index:
        ours = [
            d
            for d in parsed.manifests
            if d.media_type == CONFIG_TYPE or d.artifact_type == ARTIFACT_TYPE
        ]
        if ours and ours[0].media_type == CONFIG_TYPE:
            return _config_json(client, ref, ours[0])
        child = ours[0] if ours else select_platform(parsed, Platform.parse(platform), str(ref))
        data, ctype, _ = client.get_manifest(ref.with_digest(child.digest))
        parsed = parse_manifest(data, ctype, f"{ref.name}@{child.digest}")
        if parsed.is_index:
            raise CacheImportError(f"{ref}: nested index")
    if parsed.config is None:
        raise CacheImportError(f"{ref}: manifest has no config")
    doc = _config_json(client, ref, parsed.config)
    if parsed.config.media_type == CONFIG_TYPE:
        return doc
    inline = doc.get(INLINE_KEY) if isinstance(doc, dict) else None
    if inline is None:
        raise CacheImportError(f"{ref}: not a build cache (no cache config, no inline cache)")
    return inline


def _config_json(client: Any, ref: Any, desc: Descriptor) -> Any:
    if desc.size > MAX_CONFIG:
        raise CacheImportError(f"{ref}: cache config of {desc.size} bytes is too large")
    resp = client.open_blob(ref, desc.digest)
    try:
        with resp:
            data = resp.raw.read(MAX_CONFIG + 1, decode_content=True)
    except Exception as e:  # urllib3/requests errors on a broken body
        why = e.args[0] if e.args and isinstance(e.args[0], str) else type(e).__name__
        raise CacheImportError(f"{ref}: reading cache config {desc.digest} failed: {why}") from None
    got = Digest(desc.digest.algorithm, hashlib.new(desc.digest.algorithm, data).hexdigest())
    if got != desc.digest or len(data) != desc.size:
        raise CacheImportError(f"{ref}: cache config {desc.digest} is corrupt (got {got})")
    try:
        return json.loads(data)
    except ValueError as e:
        raise CacheImportError(f"{ref}: cache config is not JSON ({e})") from None


def parse_rows(unsafe_doc: Any, source: RemoteSource, origin: str) -> dict[str, RemoteRow]:
    """Validate a cache document ({"version": 1, "rows": [...]}); bad rows are corrupt."""
    if not isinstance(unsafe_doc, Mapping) or unsafe_doc.get("version") != 1:
        raise CacheImportError(f"{origin}: unknown cache format")
    rows = unsafe_doc.get("rows")
    if not isinstance(rows, list):
        raise CacheImportError(f"{origin}: cache has no rows")
    out: dict[str, RemoteRow] = {}
    for unsafe in rows:
        try:
            key, parent = unsafe["key"], unsafe["parent"]
            res = CacheResult.from_json(unsafe["result"])
            if not (isinstance(key, str) and isinstance(parent, str) and res.kind in KINDS):
                raise ValueError("bad key, parent or kind")
            Digest.parse(key)
            if res.kind == "layer" and (res.layer is None or res.diff_id is None):
                raise ValueError("layer row without layer")
        except (KeyError, TypeError, ValueError, AttributeError, StoreError) as e:
            raise CacheImportError(f"{origin}: corrupt cache row ({e})") from None
        if res.kind == "layer":
            res = CacheResult(
                res.kind, res.layer, res.diff_id, res.chain_id, res.created, source=source
            )
        out[key] = RemoteRow(key, parent, res, origin)
    return out


def fetch_layers(store: Store, lrs: Sequence[Any], progress: Any = None) -> None:
    """Download the remote-cache layers of `lrs` that the store lacks."""

    todo: dict[Any, list[Descriptor]] = {}
    for lr in lrs:
        if lr.source is not None and not store.blobs.exists(lr.desc.digest):
            todo.setdefault(lr.source, []).append(lr.desc)
    for src, descs in todo.items():
        try:
            src.fetch(store, descs, progress)
        except RegistryError as e:
            raise CacheTransferError(f"fetching cached layers from {src.ref}: {e}") from None
