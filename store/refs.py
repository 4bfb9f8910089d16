"""Image names: docker-style normalisation, and the tags kept in the layout's
`index.json` (ARCHITECTURE §5: each tag is a manifest descriptor annotated with
`org.opencontainers.image.ref.name`, so `skopeo copy oci:$ROOT:app:1` finds it).

Updates are serialised by an flock on `root/locks/index.lock` and written atomically
(temp file in `root/tmp`, fsync, rename, fsync dir). Readers never lock: they see the
old or the new file, never a mix. Index entries without a ref.name are untagged roots
(kept alive for gc) and are preserved as they are.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store.atomic import atomic_write_bytes
from store.errors import CorruptStore, ImageNotFound, InvalidDigest, InvalidReference
from store.locks import file_lock
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import ANNOTATION_REF_NAME, OCI_INDEX

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])"
    r"(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


def split_name(unsafe_name: str) -> tuple[str, str, str, Digest | None]:
    """Parse a docker reference into (domain, path, tag, digest); tag may be ""."""
    name = unsafe_name.strip()
    if not name or len(name) > 4096:
        raise InvalidReference(unsafe_name, "empty or too long")
    digest = None
    if "@" in name:
        name, _, dtext = name.partition("@")
        try:
            digest = Digest.parse(dtext)
        except InvalidDigest as e:
            raise InvalidReference(unsafe_name, e.why) from None
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG_RE.match(tag):
            raise InvalidReference(unsafe_name, f"invalid tag {tag!r}")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        domain, path = first, rest
        if not _DOMAIN_RE.match(domain):
            raise InvalidReference(unsafe_name, f"invalid registry host {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if path != path.lower() and _PATH_RE.match(path.lower()):
        raise InvalidReference(unsafe_name, "repository name must be lowercase")
    if not _PATH_RE.match(path):
        raise InvalidReference(unsafe_name, "invalid repository name")
    if len(domain) + len(path) + 1 > 255:
        raise InvalidReference(unsafe_name, "repository name longer than 255 characters")
    return domain, path, tag, digest


def familiar_repo(domain: str, path: str) -> str:
    if domain == DEFAULT_DOMAIN:
        return path.removeprefix("library/") if path.count("/") == 1 else path
    return f"{domain}/{path}"


def normalize_name(name: str) -> str:
    """Familiar docker form with a tag: "app" -> "app:latest",
    "docker.io/library/busybox" -> "busybox:latest"; a digest ref keeps its digest
    ("app@sha256:..."; lookups only)."""
    domain, path, tag, digest = split_name(name)
    repo = familiar_repo(domain, path)
    if digest is not None:
        return f"{repo}:{tag}@{digest}" if tag else f"{repo}@{digest}"
    return f"{repo}:{tag or 'latest'}"


def repo_and_tag(normalized: str) -> tuple[str, str]:
    """Split a normalize_name() result for display ("<none>" when no tag)."""
    base = normalized.split("@", 1)[0]
    last = base.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = base.rpartition(":")
        return repo, tag
    return base, "<none>"


class Refs:
    """Tags of one store, kept in `root/index.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.index_path = self.root / "index.json"
        self.lock_path = self.root / "locks" / "index.lock"

    # --- reading ---------------------------------------------------------------

    def read_index(self) -> dict[str, Any]:
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
                raise ValueError("not an image index")
        except ValueError as e:
            raise CorruptStore(str(self.index_path), str(e)) from None
        doc.setdefault("manifests", [])
        return doc

    def entries(self) -> list[Descriptor]:
        """Every descriptor in index.json, tagged or not (gc roots)."""
        out = []
        for m in self.read_index()["manifests"]:
            try:
                out.append(Descriptor.from_json(m))
            except InvalidDigest:
                continue  # fsck reports these
        return out

    def list(self) -> list[tuple[str, Descriptor]]:
        out = []
        for d in self.entries():
            name = d.annotations.get(ANNOTATION_REF_NAME)
            if name:
                out.append((name, d))
        return out

    def get(self, name: str) -> Descriptor:
        """Resolve a tag, `name@digest`, or a manifest digest (or unique hex prefix)."""
        entries = self.entries()
        probe = name.strip()
        if probe.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{12,64}", probe):
            hex_ = probe.removeprefix("sha256:")
            hits = {d.digest: d for d in entries if d.digest.hex.startswith(hex_)}
            if len(hits) == 1:
                return _strip_ref(next(iter(hits.values())))
            if hits:
                raise InvalidReference(name, "ambiguous digest prefix")
            if probe.startswith("sha256:"):
                raise ImageNotFound(name)
        try:
            norm = normalize_name(probe)
        except InvalidReference:
            raise ImageNotFound(name) from None
        if "@" in norm:
            repo_tag, _, dtext = norm.partition("@")
            want = Digest.parse(dtext)
            for d in entries:
                if d.digest == want:
                    return _strip_ref(d)
            raise ImageNotFound(name)
        for d in entries:
            if d.annotations.get(ANNOTATION_REF_NAME) == norm:
                return d
        raise ImageNotFound(name)

    # --- writing ---------------------------------------------------------------

    def update(
        self, fn: Callable[[builtins.list[dict[str, Any]]], builtins.list[dict[str, Any]]]
    ) -> None:
        """Apply `fn` to the index's manifest list under the lock, atomically."""
        with file_lock(self.lock_path):
            doc = self.read_index()
            doc["manifests"] = fn(list(doc["manifests"]))
            doc.setdefault("schemaVersion", 2)
            doc.setdefault("mediaType", OCI_INDEX)
            atomic_write_bytes(
                self.index_path, json.dumps(doc, indent=2).encode() + b"\n", self.root / "tmp"
            )

    def set(self, name: str, desc: Descriptor) -> None:
        norm = normalize_name(name)
        if "@" in norm:
            raise InvalidReference(name, "cannot tag with a digest reference")
        entry = desc.with_annotations(**{ANNOTATION_REF_NAME: norm}).to_json()

        def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [m for m in ms if _ref_of(m) != norm]
            return kept + [entry]

        self.update(change)

    def set_many(self, pairs: builtins.list[tuple[str, Descriptor]]) -> None:
        """Several tags in one atomic index update (load, build with many -t)."""
        new = {}
        for name, desc in pairs:
            norm = normalize_name(name)
            if "@" in norm:
                raise InvalidReference(name, "cannot tag with a digest reference")
            new[norm] = desc.with_annotations(**{ANNOTATION_REF_NAME: norm}).to_json()
        self.update(lambda ms: [m for m in ms if _ref_of(m) not in new] + list(new.values()))

    def delete(self, name: str) -> None:
        norm = normalize_name(name)
        found = []

        def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [m for m in ms if _ref_of(m) != norm]
            found.append(len(kept) != len(ms))
            return kept

        self.update(change)
        if not found[0]:
            raise ImageNotFound(name)

    def add_root(self, desc: Descriptor) -> None:
        """Keep an untagged manifest alive (no ref.name), e.g. a build without -t."""
        entry = Descriptor(desc.media_type, desc.digest, desc.size, {}, desc.platform).to_json()

        def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if any(m.get("digest") == str(desc.digest) for m in ms):
                return ms
            return ms + [entry]

        self.update(change)


def _ref_of(m: Any) -> str | None:
    if isinstance(m, dict) and isinstance(m.get("annotations"), dict):
        return m["annotations"].get(ANNOTATION_REF_NAME)
    return None


def _strip_ref(d: Descriptor) -> Descriptor:
    ann = {k: v for k, v in d.annotations.items() if k != ANNOTATION_REF_NAME}
    return Descriptor(
        d.media_type, d.digest, d.size, ann, d.platform, d.urls, d.artifact_type, d.data
    )
