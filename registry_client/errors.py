"""The registry client's exception tree. `RegistryError` carries the HTTP status, the
error codes from the body, the method and the URL, so the CLI can say it in one line:
`push 127.0.0.1:5000/app:1: 401 UNAUTHORIZED (authentication required)` (ARCHITECTURE §2).
A reference that does not parse is the image model's `store.errors.InvalidReference`."""

from __future__ import annotations

import json
from typing import Any

# distribution-spec error codes -> their spec descriptions (error-codes.txt).
SPEC_CODES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
}
# When a response has no JSON body (HEAD, proxies), the status still names the code.
STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOOMANYREQUESTS"}
MAX_ERROR_BODY = 64 << 10


class RegistryError(Exception):
    """Root of every error raised by `registry_client/`."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: tuple[str, ...] = (),
        method: str = "",
        url: str = "",
        detail: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.codes = tuple(codes)
        self.method = method
        self.url = url
        self.detail = detail
        super().__init__(self._render())

    def _render(self) -> str:
        head = self.message
        if self.status is not None:
            code = " ".join(self.codes)
            head += f": {self.status}{' ' + code if code else ''}"
        elif self.codes:
            head += ": " + " ".join(self.codes)
        if self.detail:
            head += (
                f" ({self.detail})" if self.status is not None or self.codes else f": {self.detail}"
            )
        return head

    def in_context(self, message: str) -> RegistryError:
        """The same error, told from the caller's point of view (`pull REF`)."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.message = message
        Exception.__init__(new, new._render())
        return new


class InvalidPlatform(RegistryError):
    exit_code = 2

    def __init__(self, text: str, why: str) -> None:
        super().__init__(f"invalid platform {text!r}", detail=why)


class TransportError(RegistryError):
    """The registry could not be reached, even after the retries."""


class ManifestError(RegistryError):
    """A manifest we refuse: schema1, too big, unknown media type, no such platform."""


class BlobVerificationError(RegistryError):
    """Content from the registry did not match its digest or size; nothing was stored."""

    def __init__(self, message: str, *, digest: str, url: str = "", detail: str = "") -> None:
        super().__init__(message, url=url, method="GET", detail=detail)
        self.digest = digest


class CredentialsError(RegistryError):
    """config.json or a docker-credential-* helper failed."""


def error_from_response(resp: Any, message: str = "", *, default_code: str = "") -> RegistryError:
    """Build a `RegistryError` from a failed `requests` response (body read bounded)."""
    method = resp.request.method if resp.request is not None else ""
    codes: list[str] = []
    detail = ""
    try:
        if getattr(resp, "_content_consumed", False):
            raw = (resp.content or b"")[:MAX_ERROR_BODY]
        else:
            raw = resp.raw.read(MAX_ERROR_BODY, decode_content=True) if resp.raw else b""
    except Exception:  # the body is a bonus; the status is the error
        raw = b""
    try:
        body = json.loads(raw) if raw else {}
        for err in (body.get("errors") or []) if isinstance(body, dict) else []:
            if isinstance(err, dict) and isinstance(err.get("code"), str):
                codes.append(err["code"])
                if not detail and isinstance(err.get("message"), str):
                    detail = err["message"]
    except (ValueError, UnicodeDecodeError):
        pass
    if not codes:
        code = STATUS_CODES.get(resp.status_code, default_code)
        if code:
            codes.append(code)
    if not detail and codes:
        detail = SPEC_CODES.get(codes[0], "")
    return RegistryError(
        message or f"{method} {resp.url}",
        status=resp.status_code,
        codes=tuple(codes),
        method=method,
        url=resp.url,
        detail=detail,
    )
