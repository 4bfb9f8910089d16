"""What the members of an image archive mean, for reading one in place
(`store.readers.archive`, `store.readers.docker_archive`) and for loading one into the
store (`store.archive_load`): the tar headers read with a bound (`BoundedTarInfo`),
member names cleaned (lookup keys, never paths to write), `blobs/<alg>/<hex>` names
as digests, links resolved inside the archive, docker's `manifest.json` entries, the
names index.json gives an image, and a layer's media type from its first bytes."""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from store.errors import InvalidArchive, InvalidDigest
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import (
    ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
)

DOCS = frozenset({"manifest.json", "index.json", "repositories", "oci-layout"})
JUNK_BASENAMES = frozenset({"VERSION", "json"})  # legacy docker save per-layer metadata
MAX_LINK_HOPS = 16
MAX_META = 1 << 20  # PAX and GNU long-name records: store.oci.tar's bound
_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header, refusing a PAX or GNU long-name record over `MAX_META`
    bytes, which tarfile would read whole into memory (pass as `tarinfo=`)."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _META_TYPES and self.size > MAX_META:
            # ReadError, as tarfile's own: it ends the iteration loudly, not silently
            raise tarfile.ReadError(f"tar metadata record of {self.size} bytes")
        # typeshed leaves out tarfile's private dispatch, unchanged since Python 3.2
        return super()._proc_member(tarfile_)  # type: ignore[misc]


def clean_name(unsafe_name: str, path: str) -> str:
    """A member name as a lookup key; one that would leave the archive is refused."""
    name = posixpath.normpath(unsafe_name)
    if name.startswith("/") or name == ".." or name.startswith("../"):
        raise InvalidArchive(path, f"member name escapes the archive: {unsafe_name!r}")
    return name


def link_target(ti: tarfile.TarInfo, name: str, path: str) -> str | None:
    """The clean name a symlink or hard link member points at (None for other members):
    symlinks are relative to their directory, hard links to the archive's root."""
    if not (ti.issym() or ti.islnk()):
        return None
    base = posixpath.dirname(name) if ti.issym() else ""
    return clean_name(posixpath.join(base, ti.linkname), path)


def is_junk(name: str) -> bool:
    return posixpath.basename(name) in JUNK_BASENAMES


def blob_digest(name: str) -> Digest | None:
    """The digest a `blobs/<alg>/<hex>` member name gives (None for other names)."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        try:
            return Digest(parts[1], parts[2])
        except InvalidDigest:
            return None
    return None


def resolve(unsafe_name: str, present: Container[str], links: Mapping[str, str], path: str) -> str:
    """The clean name of the regular member `unsafe_name` is, or links to."""
    name = clean_name(unsafe_name, path)
    for _ in range(MAX_LINK_HOPS):
        if name in present:
            return name
        if name not in links:
            break
        name = links[name]
    raise InvalidArchive(path, f"missing member {name!r}")


@dataclass(frozen=True)
class DockerEntry:
    """One image of a docker-archive's manifest.json: member names and tags."""

    config: str
    layers: tuple[str, ...]
    repo_tags: tuple[str, ...]


def docker_entries(unsafe_doc: Any, path: str) -> list[DockerEntry]:
    if not isinstance(unsafe_doc, list):
        raise InvalidArchive(path, "manifest.json is not a list")
    out = []
    for e in unsafe_doc:
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str):
            raise InvalidArchive(path, "manifest.json entry lacks Config")
        layers, tags = e.get("Layers") or [], e.get("RepoTags") or []
        if not isinstance(layers, list) or not isinstance(tags, list):
            raise InvalidArchive(path, "manifest.json entry: Layers and RepoTags must be lists")
        out.append(
            DockerEntry(e["Config"], tuple(str(n) for n in layers), tuple(str(t) for t in tags))
        )
    return out


def index_names(d: Descriptor) -> list[str]:
    """The name an index.json entry gives its image: containerd's full name, else the
    OCI ref name (a tag, or a familiar name with a tag)."""
    ann = d.annotations
    for key in (ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME):
        if ann.get(key):
            return [ann[key]]
    return []


def layer_type(magic: bytes) -> str:
    """A layer's OCI media type from its first four bytes."""
    if magic[:2] == b"\x1f\x8b":
        return OCI_LAYER_GZIP
    if magic == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER_ZSTD
    return OCI_LAYER
