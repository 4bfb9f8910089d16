"""Content identity: `Digest`, `Descriptor`, and the verifying reader that hashes a
stream as it flows and fails at EOF (with the hashing writer its mirror). Media types
live in `store.oci.mediatype`, `Platform` in `store.oci.platform`.

Everything that names content by hash (the blob store, the registry client, the
builder's cache) speaks these types. They are frozen, and `parse(str(x)) == x`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from store.errors import DigestMismatch, InvalidDigest, SizeMismatch
from store.oci.platform import Platform

# --- Digest ------------------------------------------------------------------

_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# Patterns only rare input needs stay text: `re` compiles (and caches) them on first use.
_ALG = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*"
_ENC = r"[a-zA-Z0-9=_-]+"
_MEDIA_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
_URI = r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]*"


@dataclass(frozen=True, order=True)
class Digest:
    """`algorithm:encoded`. Known algorithms (sha256/384/512) are validated as go-digest
    does (exact length, lowercase hex); others only by the OCI grammar, so descriptors
    naming them parse (as the image-spec validator accepts them) but cannot be verified:
    `hasher()` raises `InvalidDigest` and the blob store refuses them."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        want = _HEX_LEN.get(self.algorithm)
        if want is None:
            if not re.fullmatch(_ALG, self.algorithm) or not re.fullmatch(_ENC, self.hex):
                raise InvalidDigest(
                    f"{self.algorithm}:{self.hex}", "not of the form algorithm:encoded"
                )
            return
        if len(self.hex) != want or not re.fullmatch(r"[0-9a-f]+", self.hex):
            raise InvalidDigest(
                f"{self.algorithm}:{self.hex}", f"want {want} lowercase hex characters"
            )

    @property
    def verifiable(self) -> bool:
        """True for the algorithms we can compute (sha256, sha384, sha512)."""
        return self.algorithm in _HEX_LEN

    @classmethod
    def parse(cls, unsafe_text: str) -> Digest:
        if not isinstance(unsafe_text, str) or not _DIGEST_RE.match(unsafe_text):
            raise InvalidDigest(str(unsafe_text), "not of the form algorithm:encoded")
        alg, _, enc = unsafe_text.partition(":")
        return cls(alg, enc)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> Any:
        if not self.verifiable:
            raise InvalidDigest(str(self), "unsupported algorithm")
        return hashlib.new(self.algorithm)

    @property
    def short(self) -> str:
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


EMPTY_SHA256 = Digest("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# --- Descriptor --------------------------------------------------------------


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a blob is, how big, and its digest."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str = ""
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"negative size {self.size} for {self.digest}")
        # Freeze the annotations so the dataclass stays hashable by value.
        object.__setattr__(self, "annotations", dict(self.annotations))

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    @classmethod
    def from_json(cls, unsafe_obj: Mapping[str, Any]) -> Descriptor:
        """Parse and validate as the image-spec validator does (schema + digest,
        `urls` as absolute URIs, `data` as padded base64); raises InvalidDigest."""
        if not isinstance(unsafe_obj, Mapping):
            raise InvalidDigest(str(unsafe_obj)[:80], "descriptor is not an object")
        try:
            media_type = unsafe_obj["mediaType"]
            digest = Digest.parse(unsafe_obj["digest"])
            size = unsafe_obj["size"]
        except (KeyError, TypeError) as e:
            raise InvalidDigest(str(unsafe_obj)[:80], f"descriptor lacks {e}") from None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 63:
            raise InvalidDigest(str(digest), f"bad size {size!r}")
        for key in ("mediaType", "artifactType"):
            v = unsafe_obj.get(key)
            if v is not None and (not isinstance(v, str) or not _MEDIA_TYPE_RE.match(v)):
                raise InvalidDigest(str(digest), f"bad {key} {v!r}")
        urls = unsafe_obj.get("urls") or []
        if not isinstance(urls, list) or not all(
            isinstance(u, str) and re.fullmatch(_URI, u) for u in urls
        ):
            raise InvalidDigest(str(digest), f"urls must be absolute URIs: {urls!r}")
        ann = unsafe_obj.get("annotations") or {}
        if not isinstance(ann, Mapping) or not all(isinstance(v, str) for v in ann.values()):
            raise InvalidDigest(str(digest), "annotations must map strings to strings")
        plat = unsafe_obj.get("platform")
        if plat is not None and (
            not isinstance(plat, Mapping)
            or not all(isinstance(plat.get(k), str) for k in ("os", "architecture"))
        ):
            raise InvalidDigest(str(digest), "platform needs string os and architecture")
        data = unsafe_obj.get("data")
        if data is not None:
            try:
                data = base64.b64decode(data, validate=True) if isinstance(data, str) else None
            except ValueError:
                data = None
            if data is None:
                raise InvalidDigest(str(digest), "data is not padded standard base64")
        return cls(
            media_type=str(media_type),
            digest=digest,
            size=size,
            annotations=dict(ann),
            platform=Platform.from_json(plat) if isinstance(plat, Mapping) else None,
            urls=tuple(urls),
            artifact_type=str(unsafe_obj.get("artifactType", "")),
            data=data,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode()
        return out

    def with_annotations(self, **extra: str) -> Descriptor:
        merged = {**self.annotations, **extra}
        return Descriptor(
            self.media_type,
            self.digest,
            self.size,
            merged,
            self.platform,
            self.urls,
            self.artifact_type,
            self.data,
        )


# --- readers -------------------------------------------------------------------


class Reader(Protocol):
    """The one thing every byte source here offers (files, HTTP bodies, decompressors,
    verifying readers): `read(n)` returning at most n bytes, b"" at the end."""

    def read(self, n: int = -1, /) -> bytes: ...


class VerifyingReader:
    """Wraps a stream; hashes and counts every byte read, and at EOF raises
    `DigestMismatch` or `SizeMismatch` instead of returning the final b"".

    Reading past the expected size also fails at once, so an endless body is
    bounded by the size it claimed.
    """

    def __init__(self, stream: IO[bytes], digest: Digest, size: int | None = None) -> None:
        self._stream = stream
        self._expected = digest
        self._size = size
        self._hash = digest.hasher()
        self._count = 0
        self._verified = False

    @property
    def bytes_read(self) -> int:
        return self._count

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        if self._size is not None:
            n = min(n, self._size - self._count + 1) or 1
        chunk = self._stream.read(n)
        if chunk:
            self._count += len(chunk)
            if self._size is not None and self._count > self._size:
                raise SizeMismatch(str(self._expected), self._size, self._count)
            self._hash.update(chunk)
            return chunk
        self.verify()
        return b""

    def readinto(self, buf: bytearray | memoryview) -> int:
        chunk = self.read(len(buf))
        buf[: len(chunk)] = chunk
        return len(chunk)

    def verify(self) -> None:
        if self._verified:
            return
        if self._size is not None and self._count != self._size:
            raise SizeMismatch(str(self._expected), self._size, self._count)
        got = Digest(self._expected.algorithm, self._hash.hexdigest())
        if got != self._expected:
            raise DigestMismatch(str(self._expected), str(got))
        self._verified = True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HashingWriter:
    """Wraps a writable stream; hashes and counts what passes through it."""

    def __init__(self, stream: IO[bytes] | None, algorithm: str = "sha256") -> None:
        self._stream = stream
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self._stream is not None:
            self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()

    @property
    def digest(self) -> Digest:
        return Digest(self._algorithm, self._hash.hexdigest())


def chain_ids(diff_ids: list[Digest]) -> list[Digest]:
    """OCI ChainID for each prefix of a layer stack (image-spec config.md)."""
    out: list[Digest] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append(Digest.of_bytes(f"{out[-1]} {d}".encode()))
    return out
