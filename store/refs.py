"""The tags kept in the layout's `index.json` (ARCHITECTURE §5: each tag is a manifest
descriptor annotated with `org.opencontainers.image.ref.name`, so
`skopeo copy oci:$ROOT:app:1` finds it). A tag is the familiar form of a
`store.oci.reference.Reference` (`app:latest`, `127.0.0.1:5000/a/b:1`), so every
spelling Docker reads as one name (`app`, `docker.io/library/app:latest`) is one tag.

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
from store.oci.digest import Descriptor
from store.oci.mediatype import ANNOTATION_REF_NAME, OCI_INDEX
from store.oci.reference import Reference


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
            ref = Reference.parse(probe)
        except InvalidReference:
            raise ImageNotFound(name) from None
        if ref.digest is not None:
            for d in entries:
                if d.digest == ref.digest:
                    return _strip_ref(d)
            raise ImageNotFound(name)
        tag = ref.familiar()
        for d in entries:
            if d.annotations.get(ANNOTATION_REF_NAME) == tag:
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
        norm = tag_name(name)
        entry = desc.with_annotations(**{ANNOTATION_REF_NAME: norm}).to_json()

        def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [m for m in ms if _ref_of(m) != norm]
            return kept + [entry]

        self.update(change)

    def set_many(self, pairs: builtins.list[tuple[str, Descriptor]]) -> None:
        """Several tags in one atomic index update (load, build with many -t)."""
        new = {}
        for name, desc in pairs:
            norm = tag_name(name)
            new[norm] = desc.with_annotations(**{ANNOTATION_REF_NAME: norm}).to_json()
        self.update(lambda ms: [m for m in ms if _ref_of(m) not in new] + list(new.values()))

    def delete(self, name: str) -> None:
        norm = Reference.parse(name).familiar()
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


def tag_name(name: str) -> str:
    """The tag `name` is stored under (`app` -> `app:latest`); a digest is no tag."""
    ref = Reference.parse(name)
    if ref.digest is not None:
        raise InvalidReference(name, "cannot tag with a digest reference")
    return ref.familiar()


def _ref_of(m: Any) -> str | None:
    if isinstance(m, dict) and isinstance(m.get("annotations"), dict):
        return m["annotations"].get(ANNOTATION_REF_NAME)
    return None


def _strip_ref(d: Descriptor) -> Descriptor:
    ann = {k: v for k, v in d.annotations.items() if k != ANNOTATION_REF_NAME}
    return Descriptor(
        d.media_type, d.digest, d.size, ann, d.platform, d.urls, d.artifact_type, d.data
    )
