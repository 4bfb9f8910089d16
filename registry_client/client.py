"""The distribution-spec endpoints (conformance/distribution-spec/endpoints.txt) over an
authenticated transport: manifests (GET/HEAD/PUT), blobs (HEAD/GET with Range),
uploads (POST, mount, PATCH, PUT, with relative or absolute `Location`) and tags.

`RegistryClient` is shared by pull and push; it is thread-safe because the transport's
pool and the token cache are."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urljoin

import requests

from registry_client.auth import Authenticator
from registry_client.credentials import Credentials, get_credentials
from registry_client.endpoint import api_host, manifest_reference, scope
from registry_client.errors import ManifestError, RegistryError, error_from_response
from registry_client.manifest import ACCEPT, MAX_MANIFEST_SIZE
from registry_client.transport import Body, Transport, TransportOptions
from store.oci.digest import Digest
from store.oci.reference import Reference

OCTET = "application/octet-stream"


@dataclass(frozen=True)
class Upload:
    """A started blob upload: where to send the bytes, and the registry's chunk floor."""

    location: str
    min_chunk: int = 0
    mounted: bool = False


class RegistryClient:
    """One client per pull/push (or per build): pooled connections, cached tokens.
    `insecure` hosts are spoken to over plain HTTP (ARCHITECTURE §2)."""

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        insecure: tuple[str, ...] = (),
        credentials: Callable[[str], Credentials] = get_credentials,
        options: TransportOptions | None = None,
    ) -> None:
        if transport is None:
            opts = options or TransportOptions()
            if insecure:
                opts = replace(opts, insecure=tuple(opts.insecure) + tuple(insecure))
            transport = Transport(opts)
        self.transport = transport
        self.auth = Authenticator(transport, credentials)
        self.on_retry: Callable[[str], None] | None = None

    def close(self) -> None:
        self.transport.close()

    # --- plumbing ------------------------------------------------------------------

    def url(self, ref: Reference, path: str) -> str:
        return f"{self.transport.base_url(api_host(ref.domain))}/v2/{ref.repository}/{path}"

    def request(
        self,
        method: str,
        ref: Reference,
        url: str,
        *,
        push: bool = False,
        extra_scopes: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        data: Body = None,
        stream: bool = False,
    ) -> requests.Response:
        scopes = (scope(ref, "pull,push" if push else "pull"),) + extra_scopes
        return self.auth.request(
            method,
            url,
            api_host(ref.domain),
            scopes,
            headers=headers,
            data=data,
            stream=stream,
            on_retry=self.on_retry,
        )

    def _fail(self, resp: requests.Response, default_code: str = "") -> RegistryError:
        err = error_from_response(
            resp, f"{resp.request.method} {resp.url}", default_code=default_code
        )
        resp.close()
        return err

    # --- manifests -------------------------------------------------------------------

    def get_manifest(self, ref: Reference, accept: str = ACCEPT) -> tuple[bytes, str, Digest]:
        """Fetch a manifest (bounded), verify it against the pinned or advertised digest."""
        resp = self.request(
            "GET",
            ref,
            self.url(ref, f"manifests/{manifest_reference(ref)}"),
            headers={"Accept": accept},
            stream=True,
        )
        with resp:
            if resp.status_code != 200:
                raise self._fail(resp, "MANIFEST_UNKNOWN" if resp.status_code == 404 else "")
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
                raise ManifestError(
                    str(ref),
                    detail=f"manifest of {length} bytes exceeds the {MAX_MANIFEST_SIZE}-byte limit",
                )
            data = resp.raw.read(MAX_MANIFEST_SIZE + 1, decode_content=True)
            if len(data) > MAX_MANIFEST_SIZE:
                raise ManifestError(
                    str(ref), detail=f"manifest exceeds the {MAX_MANIFEST_SIZE}-byte limit"
                )
            ctype = resp.headers.get("Content-Type", "")
            advertised = resp.headers.get("Docker-Content-Digest", "")
        want = ref.digest
        if want is None and advertised:
            try:
                want = Digest.parse(advertised)
            except Exception:  # a junk header is not worth failing over
                want = None
        alg = want.algorithm if want is not None else "sha256"
        got = Digest(alg, hashlib.new(alg, data).hexdigest())
        if want is not None and got != want:
            raise ManifestError(
                str(ref), detail=f"manifest digest mismatch: expected {want}, got {got}"
            )
        return data, ctype, got

    def head_manifest(self, ref: Reference) -> Digest | None:
        """The digest a tag points at (None if unknown), without fetching it."""
        resp = self.request(
            "HEAD",
            ref,
            self.url(ref, f"manifests/{manifest_reference(ref)}"),
            headers={"Accept": ACCEPT},
        )
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._fail(resp)
            d = resp.headers.get("Docker-Content-Digest")
            return Digest.parse(d) if d else None

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """PUT manifest bytes under `ref`'s tag or digest; returns their digest."""
        resp = self.request(
            "PUT",
            ref,
            self.url(ref, f"manifests/{manifest_reference(ref)}"),
            push=True,
            headers={"Content-Type": media_type},
            data=data,
        )
        with resp:
            if resp.status_code not in (200, 201, 202):
                raise self._fail(resp)
            got = Digest.of_bytes(data)
            echoed = resp.headers.get("Docker-Content-Digest")
            if echoed and echoed != str(got):
                raise ManifestError(str(ref), detail=f"registry stored {echoed}, we sent {got}")
            return got

    def list_tags(self, ref: Reference) -> list[str]:
        resp = self.request("GET", ref, self.url(ref, "tags/list"))
        with resp:
            if resp.status_code != 200:
                raise self._fail(resp, "NAME_UNKNOWN" if resp.status_code == 404 else "")
            return list(resp.json().get("tags") or [])

    # --- blobs -----------------------------------------------------------------------

    def head_blob(self, ref: Reference, digest: Digest, *, push: bool = False) -> int | None:
        """The blob's size if the repository has it, else None."""
        resp = self.request("HEAD", ref, self.url(ref, f"blobs/{digest}"), push=push)
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._fail(resp, "BLOB_UNKNOWN")
            n = resp.headers.get("Content-Length", "")
            return int(n) if n.isdigit() else -1

    def open_blob(
        self, ref: Reference, digest: Digest, offset: int = 0, retry: bool = True
    ) -> requests.Response:
        """A streamed GET of a blob (from `offset` with Range); the caller closes it."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request(
            "GET", ref, self.url(ref, f"blobs/{digest}"), headers=headers, stream=True
        )
        if resp.status_code not in (200, 206):
            raise self._fail(resp, "BLOB_UNKNOWN" if resp.status_code == 404 else "")
        return resp

    # --- uploads ---------------------------------------------------------------------

    def start_upload(
        self, ref: Reference, *, mount: Digest | None = None, mount_from: str = ""
    ) -> Upload:
        """POST an upload; with `mount`, ask to mount it from `mount_from` (201 = done)."""
        url = self.url(ref, "blobs/uploads/")
        extra: tuple[str, ...] = ()
        if mount is not None and mount_from:
            url += f"?mount={quote(str(mount))}&from={quote(mount_from)}"
            extra = (f"repository:{mount_from}:pull",)
        resp = self.request(
            "POST", ref, url, push=True, extra_scopes=extra, headers={"Content-Length": "0"}
        )
        with resp:
            if resp.status_code == 201 and mount is not None:
                return Upload(self._location(resp), mounted=True)
            if resp.status_code != 202:
                raise self._fail(resp)
            floor = resp.headers.get("OCI-Chunk-Min-Length", "")
            return Upload(self._location(resp), int(floor) if floor.isdigit() else 0)

    def patch_upload(
        self, ref: Reference, location: str, body: Callable[[], Any], start: int, length: int
    ) -> str:
        """PATCH one chunk (Content-Range start-end); returns the next Location."""
        headers = {
            "Content-Type": OCTET,
            "Content-Length": str(length),
            "Content-Range": f"{start}-{start + length - 1}",
        }
        resp = self.request("PATCH", ref, location, push=True, headers=headers, data=body)
        with resp:
            if resp.status_code != 202:
                raise self._fail(resp)
            return self._location(resp)

    def finish_upload(
        self,
        ref: Reference,
        location: str,
        digest: Digest,
        body: Callable[[], Any] | None = None,
        length: int = 0,
    ) -> None:
        """PUT ?digest= to close an upload, with the whole body (monolithic) or none."""
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={quote(str(digest))}"
        headers = {"Content-Type": OCTET, "Content-Length": str(length)}
        resp = self.request(
            "PUT", ref, url, push=True, headers=headers, data=body if body is not None else b""
        )
        with resp:
            if resp.status_code not in (201, 204):
                raise self._fail(resp)

    def _location(self, resp: requests.Response) -> str:
        loc = resp.headers.get("Location", "")
        if not loc:
            raise RegistryError(
                f"{resp.request.method} {resp.url}",
                status=resp.status_code,
                detail="upload response has no Location header",
            )
        return urljoin(resp.url, loc)  # relative Locations are allowed by the spec

    def login(self, registry: str, creds: Credentials) -> None:
        self.auth.check_login(api_host(registry), creds)
