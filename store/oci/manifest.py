"""Manifest and index value types: `Manifest` (OCI or Docker schema2) and `Index`
(OCI index or Docker manifest list), parsed from untrusted JSON and written back with
unknown fields kept. Re-exported by `store.image`."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.errors import InvalidDigest, InvalidImage
from store.oci.config import go_json
from store.oci.digest import Descriptor
from store.oci.mediatype import INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST
from store.oci.platform import Platform, host_platform

MAX_MANIFEST_SIZE = 4 << 20  # containerd's and distribution's limit for a manifest


def _descs(unsafe: Any, what: str) -> tuple[Descriptor, ...]:
    if not isinstance(unsafe, list):
        raise InvalidImage(what, "must be a list of descriptors")
    try:
        return tuple(Descriptor.from_json(d) for d in unsafe)
    except (InvalidDigest, TypeError, ValueError, AttributeError) as e:
        raise InvalidImage(what, str(e)) from None


def _desc(unsafe: Any, what: str) -> Descriptor:
    if not isinstance(unsafe, Mapping):
        raise InvalidImage(what, "must be a descriptor object")
    return _descs([unsafe], what)[0]


def _media_type(
    unsafe: Any, what: str, default: str, types: frozenset[str], *, require: str = ""
) -> str:
    """The envelope manifests and indexes share: a JSON object, schemaVersion 2 and a
    known mediaType (returned). `require` names a list that must not be empty."""
    if not isinstance(unsafe, Mapping):
        raise InvalidImage(what, "not a JSON object")
    if require and not unsafe.get(require):
        raise InvalidImage(what, f"{require} must have at least one entry")
    if unsafe.get("schemaVersion") != 2:
        raise InvalidImage(what, f"schemaVersion {unsafe.get('schemaVersion')!r}, want 2")
    mt = unsafe.get("mediaType", default)
    if not isinstance(mt, str) or mt not in types:
        raise InvalidImage(what, f"unsupported mediaType {mt!r}")
    return mt


def _subject(unsafe: Mapping[str, Any], what: str) -> Descriptor | None:
    subject = unsafe.get("subject")
    return _desc(subject, f"{what}.subject") if subject is not None else None


def _with_trailer(out: dict[str, Any], doc: Manifest | Index) -> dict[str, Any]:
    """`out` + the fields manifests and indexes share at their end, in a fixed order
    (the bytes, so the digest, depend on it)."""
    if doc.subject is not None:
        out["subject"] = doc.subject.to_json()
    if doc.annotations:
        out["annotations"] = dict(doc.annotations)
    out.update(doc.extra)
    return out


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI or Docker schema2; same shape)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = OCI_MANIFEST
    schema_version: int = 2
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "annotations",
        "subject",
        "artifactType",
    )

    @classmethod
    def from_json(cls, unsafe: Any, *, strict: bool = False) -> Manifest:
        """Parse a manifest. `strict` adds the schema's rules that real images break
        (at least one layer), for validating what we are given to publish."""
        mt = _media_type(
            unsafe, "manifest", OCI_MANIFEST, MANIFEST_TYPES, require="layers" if strict else ""
        )
        return cls(
            config=_desc(unsafe.get("config"), "manifest.config"),
            layers=_descs(unsafe.get("layers", []), "manifest.layers"),
            media_type=mt,
            annotations=_annotations(unsafe.get("annotations"), "manifest"),
            subject=_subject(unsafe, "manifest"),
            artifact_type=str(unsafe.get("artifactType", "")),
            extra={k: v for k, v in unsafe.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": self.schema_version, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_json()
        out["layers"] = [d.to_json() for d in self.layers]
        return _with_trailer(out, self)

    def to_bytes(self) -> bytes:
        return go_json(self.to_json())


def _annotations(unsafe: Any, where: str) -> dict[str, str]:
    """A string-to-string map (hostile manifests carry lists, booleans, numbers)."""
    if unsafe is None:
        return {}
    if not isinstance(unsafe, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in unsafe.items()
    ):
        raise InvalidImage(where, "annotations must map strings to strings")
    return dict(unsafe)


@dataclass(frozen=True)
class Index:
    """An image index (OCI) or Docker manifest list."""

    manifests: tuple[Descriptor, ...]
    media_type: str = OCI_INDEX
    schema_version: int = 2
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = ("schemaVersion", "mediaType", "manifests", "annotations", "subject")

    @classmethod
    def from_json(cls, unsafe: Any) -> Index:
        mt = _media_type(unsafe, "index", OCI_INDEX, INDEX_TYPES)
        return cls(
            manifests=_descs(unsafe.get("manifests"), "index.manifests"),
            media_type=mt,
            annotations=_annotations(unsafe.get("annotations"), "index"),
            subject=_subject(unsafe, "index"),
            extra={k: v for k, v in unsafe.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": self.schema_version,
            "mediaType": self.media_type,
            "manifests": [d.to_json() for d in self.manifests],
        }
        return _with_trailer(out, self)

    def select(self, want: Platform | None = None) -> Descriptor:
        """The manifest for `want` (default: this host)."""
        want = want or host_platform()
        best = pick_platform(self.manifests, want, MANIFEST_TYPES)
        if best is not None:
            return best
        plain = [d for d in self.manifests if d.media_type in MANIFEST_TYPES and d.platform is None]
        if len(plain) == 1:
            return plain[0]
        raise InvalidImage("index", f"no manifest for platform {want}")


def pick_platform(
    descs: Sequence[Descriptor], want: Platform, media_types: Collection[str]
) -> Descriptor | None:
    """The entry of an index that best runs `want`, as containerd orders them: the same
    variant first, then the highest compatible one, then index order; None if none."""
    candidates = [
        (d, d.platform)
        for d in descs
        if d.media_type in media_types and d.platform is not None and want.matches(d.platform)
    ]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda dp: (
            dp[1].variant != want.variant,
            -_variant_number(dp[1].variant),
        ),
    )[0]


def _variant_number(variant: str) -> int:
    v = variant.lstrip("v")
    return int(v) if v.isdigit() else 0
