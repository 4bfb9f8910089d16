"""Per-layer change analysis over streamed layer tars.

Owns the merged view of an image as its layers are applied in order: which paths each
layer adds, modifies and deletes (OCI whiteouts, opaque dirs), and every version of
every non-directory path (for waste). Layers are streamed one at a time through
`tarscan.TarScan` (store.oci.tar's reader in its metadata-only mode); only per-file
metadata is kept: for 100k files that is a few tens of MB. Facts the pitfall checks
need (same-content re-adds, key files) are noted while streaming, so no layer is read
twice.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import IO

from builder.inspect.dive import DiveTally
from builder.inspect.tarscan import TarScan
from store.oci.tar import DIR, FILE_TYPES, REG
from store.whiteout import WH_OPAQUE, WH_PREFIX

# Private keys and credential files, by name (any layer, even when deleted later).
SECRET_FILE_GLOBS = (
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "*.keystore",
    ".env",
)
SECRET_DIR_FILES = (".docker/config.json", ".aws/credentials", ".kube/config")
KEY_MARKERS = (b"PRIVATE KEY-----", b"BEGIN OPENSSH PRIVATE KEY")


@dataclass(slots=True)
class LayerStats:
    """What one layer did to the merged tree. Counts are of entries (files, links and
    new directories); directories re-emitted as parents are not counted as modified."""

    index: int
    digest: str
    size: int = 0  # compressed blob size
    uncompressed_size: int = 0  # tar stream length
    files_size: int = 0  # sum of regular-file sizes in the tar (dive's layer size)
    added: int = 0
    modified: int = 0
    deleted: int = 0
    added_bytes: int = 0
    modified_bytes: int = 0
    deleted_bytes: int = 0  # bytes of the visible versions this layer removed
    # files re-added with the same content as the version below (chmod/chown copies)
    same_content: int = 0
    same_content_bytes: int = 0
    same_content_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SecretFile:
    """A file that looks like a secret, and why (its name or its content)."""

    layer: int
    path: str
    size: int
    why: str  # "name" or "content"


_SECRET_NAME = re.compile("|".join(fnmatch.translate(g) for g in SECRET_FILE_GLOBS))


def _secret_reason(path: str, typ: bytes, head: bytes) -> str:
    if typ != REG:
        return ""
    if _SECRET_NAME.match(path.rpartition("/")[2]) or path.endswith(SECRET_DIR_FILES):
        return "name"
    if b"-----" in head and any(m in head for m in KEY_MARKERS):
        return "content"
    return ""


def layer_path(unsafe_name: str) -> str:
    """The path inspect reports for an archive name: no leading "./" or "/", no
    trailing "/" (it is only ever a dictionary key, never opened)."""
    while unsafe_name.startswith("./"):
        unsafe_name = unsafe_name[2:]
    return unsafe_name.strip("/")


def _ancestors(path: str):
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


class ImageTree:
    """Apply layers in order with `add_layer`; then read `visible`, `versions`,
    `layers` and `secrets`.

    visible:  path -> (type, size, mode, uid, gid, adler32, layer) of the top version;
              type is a tar typeflag (regular files all as REG), size 0 unless a file
    versions: path -> [(layer, size), ...] for non-directories; size -1 is a deletion
    """

    def __init__(self) -> None:
        self.visible: dict[str, tuple] = {}
        self.versions: dict[str, list[tuple[int, int]]] = {}
        self.layers: list[LayerStats] = []
        self.secrets: list[SecretFile] = []
        self.dive = DiveTally()  # dive's own trees, for its figures

    def add_layer(self, stream: IO[bytes], digest: str = "", size: int | None = None) -> LayerStats:
        idx = len(self.layers)
        st = LayerStats(idx, digest)
        scan = TarScan(stream)
        wh_files: list[str] = []
        wh_dirs: set[str] = set()
        opaque: set[str] = set()
        vis, vers = self.visible, self.versions
        dive = self.dive
        for e in scan:
            dive.entry(e.unsafe_name, e.type == DIR, e.size)
            path = layer_path(e.unsafe_name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base.startswith(WH_PREFIX):
                if base == WH_OPAQUE:
                    opaque.add(parent)
                else:
                    target = f"{parent}/{base[4:]}" if parent else base[4:]
                    prev = vis.get(target)
                    if prev is not None and prev[0] == DIR:
                        wh_dirs.add(target)
                    elif prev is not None:
                        wh_files.append(target)
                continue
            if e.type in FILE_TYPES:
                typ, nbytes = REG, e.size
            else:
                typ, nbytes = e.type, 0
            st.files_size += nbytes
            why = _secret_reason(path, typ, e.data_head)
            if why:
                self.secrets.append(SecretFile(idx, path, nbytes, why))
            prev = vis.get(path)
            adler = e.data_adler32
            rec = (typ, nbytes, e.mode & 0o7777, e.uid, e.gid, adler, idx)
            vis[path] = rec
            if prev is None:
                st.added += 1
                st.added_bytes += nbytes
            elif prev[6] == idx:  # the same path twice in one tar: the later one wins
                if typ != DIR:
                    vers[path][-1] = (idx, nbytes)
                continue
            elif typ != DIR:
                st.modified += 1
                st.modified_bytes += nbytes
                if typ == REG and prev[0] == REG and prev[1] == nbytes and prev[5] == adler:
                    st.same_content += 1
                    st.same_content_bytes += nbytes
                    if len(st.same_content_paths) < 20:
                        st.same_content_paths.append(path)
            if typ != DIR:
                vers.setdefault(path, []).append((idx, nbytes))
        for target in wh_files:
            self._delete(target, idx, st)
        if wh_dirs or opaque:
            doomed = []
            for p, rec in vis.items():
                if rec[6] == idx and p not in wh_dirs:
                    continue  # this layer's own entries sit above its whiteouts
                if p in wh_dirs or any(
                    a in wh_dirs or (a in opaque and rec[6] < idx) for a in _ancestors(p)
                ):
                    doomed.append(p)
            for p in doomed:
                self._delete(p, idx, st)
        dive.end_layer()
        st.uncompressed_size = scan.uncompressed_size
        st.size = scan.compressed_size if size is None else size
        self.layers.append(st)
        return st

    def _delete(self, path: str, idx: int, st: LayerStats) -> None:
        rec = self.visible.pop(path, None)
        if rec is None or rec[0] == DIR:
            return
        st.deleted += 1
        st.deleted_bytes += rec[1]
        self.versions[path].append((idx, -1))
