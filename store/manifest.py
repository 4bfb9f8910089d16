"""Manifest and index value types: `Manifest` (OCI or Docker schema2) and `Index`
(OCI index or Docker manifest list), parsed from untrusted JSON and written back with
unknown fields kept. Re-exported by `store.image`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store.digest import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    host_platform,
)
from store.errors import InvalidDigest, InvalidImage
from store.imageconfig import go_json


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

    _KNOWN = ("schemaVersion", "mediaType", "config", "layers", "annotations", "subject",
              "artifactType")

    @classmethod
    def from_json(cls, unsafe: Any, *, strict: bool = False) -> Manifest:
        """Parse a manifest. `strict` adds the schema's rules that real images break
        (at least one layer), for validating what we are given to publish."""
        if not isinstance(unsafe, Mapping):
            raise InvalidImage("manifest", "not a JSON object")
        if strict and not unsafe.get("layers"):
            raise InvalidImage("manifest", "layers must have at least one entry")
        if unsafe.get("schemaVersion") != 2:
            raise InvalidImage("manifest", f"schemaVersion {unsafe.get('schemaVersion')!r}, want 2")
        mt = unsafe.get("mediaType", OCI_MANIFEST)
        if not isinstance(mt, str) or mt not in MANIFEST_TYPES:
            raise InvalidImage("manifest", f"unsupported mediaType {mt!r}")
        subject = unsafe.get("subject")
        return cls(
            config=_desc(unsafe.get("config"), "manifest.config"),
            layers=_descs(unsafe.get("layers", []), "manifest.layers"),
            media_type=mt,
            annotations=_annotations(unsafe.get("annotations"), "manifest"),
            subject=_desc(subject, "manifest.subject") if subject is not None else None,
            artifact_type=str(unsafe.get("artifactType", "")),
            extra={k: v for k, v in unsafe.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": self.schema_version, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_json()
        out["layers"] = [d.to_json() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return go_json(self.to_json())


def _annotations(unsafe: Any, where: str) -> dict[str, str]:
    """A string-to-string map (hostile manifests carry lists, booleans, numbers)."""
    if unsafe is None:
        return {}
    if not isinstance(unsafe, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in unsafe.items()):
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
        if not isinstance(unsafe, Mapping):
            raise InvalidImage("index", "not a JSON object")
        if unsafe.get("schemaVersion") != 2:
            raise InvalidImage("index", f"schemaVersion {unsafe.get('schemaVersion')!r}, want 2")
        mt = unsafe.get("mediaType", OCI_INDEX)
        if not isinstance(mt, str) or mt not in INDEX_TYPES:
            raise InvalidImage("index", f"unsupported mediaType {mt!r}")
        subject = unsafe.get("subject")
        return cls(
            manifests=_descs(unsafe.get("manifests"), "index.manifests"), media_type=mt,
            annotations=_annotations(unsafe.get("annotations"), "index"),
            subject=_desc(subject, "index.subject") if subject is not None else None,
            extra={k: v for k, v in unsafe.items() if k not in cls._KNOWN})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": self.schema_version, "mediaType": self.media_type,
                               "manifests": [d.to_json() for d in self.manifests]}
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out.update(self.extra)
        return out

    def select(self, want: Platform | None = None) -> Descriptor:
        """The manifest for `want` (default: this host)."""
        want = want or host_platform()
        for d in self.manifests:
            if d.media_type in MANIFEST_TYPES and d.platform is not None and want.matches(d.platform):
                return d
        plain = [d for d in self.manifests if d.media_type in MANIFEST_TYPES and d.platform is None]
        if len(plain) == 1:
            return plain[0]
        raise InvalidImage("index", f"no manifest for platform {want}")
