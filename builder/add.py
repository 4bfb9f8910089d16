"""ADD's extras over COPY: local archives are extracted (`builder.local_archive`),
remote URLs are fetched.

Owns: HTTP(S) fetches with
`--checksum` verification, the Last-Modified mtime, mode 0600 and the file name from
the URL path, as BuildKit's http source does. Remote files are never extracted.

Flow for the engine: `prepare_add()` (fetches URLs once into a staging dir), then
`plan.source_hash(cache)` for the cache key, then `plan.apply(dest, target_root)` on a
miss.
"""

from __future__ import annotations

import email.utils
import os
import posixpath
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from builder import local_archive
from builder.context import CopyError, DestinationError, SourceTree
from builder.copy import (
    MULTI_SOURCE,
    CopyOptions,
    CopyStats,
    _selected,
    copy_into,
    is_dir_dest,
    source_hash,
)
from builder.filehash import FileHashCache, SourceHash
from store.oci.digest import Digest, HashingWriter

if TYPE_CHECKING:
    import requests


class HttpClient(Protocol):
    """What `fetch_url` needs of its `session`: the `requests` module or a Session."""

    def get(self, url: str, *, stream: bool, timeout: float) -> requests.Response: ...


FETCH_TIMEOUT = 60


# --- remote sources ----------------------------------------------------------------


def is_url(unsafe_src: str) -> bool:
    return unsafe_src.startswith(("http://", "https://"))


def url_filename(unsafe_url: str) -> str:
    """dockerfile2llb: path.Base of the URL path, or __unnamed__."""
    base = posixpath.basename(urllib.parse.urlparse(unsafe_url).path)
    return base if base not in ("", ".", "/", "..") else "__unnamed__"


@dataclass(frozen=True)
class Fetched:
    """A remote ADD source downloaded into the build's scratch space."""

    url: str
    path: Path
    digest: Digest
    size: int
    mtime_ns: int | None


def fetch_url(
    unsafe_url: str,
    staging_dir: Path,
    checksum: str | None = None,
    session: HttpClient | None = None,
) -> Fetched:
    """Download to `staging_dir/<url name>` (a fresh dir per URL), verifying
    `--checksum` while streaming. Mode 0600; mtime from Last-Modified when sent."""
    import requests

    want = Digest.parse(checksum) if checksum else None
    name = url_filename(unsafe_url)
    staging_dir.mkdir(parents=True, exist_ok=True)
    out = staging_dir / name
    http: HttpClient = session or requests
    try:
        resp = http.get(unsafe_url, stream=True, timeout=FETCH_TIMEOUT)
    except requests.RequestException as e:
        raise CopyError(f"failed to fetch {unsafe_url}: {e}", "ADD") from None
    with resp:
        if resp.status_code >= 400:
            raise CopyError(f"invalid response status {resp.status_code} from {unsafe_url}", "ADD")
        fd = os.open(
            out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        with os.fdopen(fd, "wb") as f:
            w = HashingWriter(f, want.algorithm if want else "sha256")
            for chunk in resp.iter_content(1 << 16):
                w.write(chunk)
            size = f.tell()
        got = w.digest
        if want is not None and got != want:
            out.unlink()
            raise CopyError(f"digest mismatch for {unsafe_url}: expected {want}, got {got}", "ADD")
        mtime = _last_modified(resp.headers.get("Last-Modified"))
    os.chmod(out, 0o600)
    if mtime is not None:
        os.utime(out, ns=(mtime, mtime))
    return Fetched(unsafe_url, out, got, size, mtime)


def _last_modified(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp()) * 10**9
    except (TypeError, ValueError):
        return None


# --- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One ADD source: its tree, the spec it came from, and whether it was a URL."""

    tree: SourceTree
    spec: str
    remote: bool


class AddPlan:
    """Sources of one ADD in order, URLs already fetched."""

    def __init__(self, items: list[_Item], opts: CopyOptions) -> None:
        self.items = items
        self.opts = opts

    def source_hash(self, cache: FileHashCache) -> SourceHash:
        parts: list[tuple[str, str]] = []
        for it in self.items:
            sh = source_hash(it.tree, [it.spec], self.opts, cache)
            key = it.spec if it.remote else ""
            parts.extend((f"{key}{p}" if key else p, h) for p, h in sh.manifest.items())
        return SourceHash.of(parts, extra="ADD")

    def apply(self, unsafe_dest: str, target_root: str) -> CopyStats:
        total = sum(
            1 if it.remote else len(_selected(it.tree, [it.spec], self.opts)) for it in self.items
        )
        if total > 1 and not is_dir_dest(unsafe_dest):
            raise DestinationError(MULTI_SOURCE.format("ADD"), "ADD")
        stats = CopyStats()
        for it in self.items:
            s = copy_into(
                it.tree,
                [it.spec],
                unsafe_dest,
                target_root,
                self.opts,
                archives=None if it.remote else local_archive,
            )
            stats.files += s.files
            stats.dirs += s.dirs
            stats.links += s.links
            stats.bytes += s.bytes
            stats.paths.extend(s.paths)
        return stats


def prepare_add(
    tree: SourceTree,
    unsafe_srcs: list[str],
    staging_dir: Path,
    opts: CopyOptions,
    checksum: str | None = None,
    session: HttpClient | None = None,
) -> AddPlan:
    """Fetch the URL sources into `staging_dir` (one subdir each) and plan the rest."""
    if not unsafe_srcs:
        raise CopyError("no source files were specified", "ADD")
    if checksum and not all(is_url(s) for s in unsafe_srcs):
        raise CopyError("checksum can't be specified for non-HTTP(S) sources", "ADD")
    opts = CopyOptions(**{**opts.__dict__, "instruction": "ADD"})
    items = []
    for i, src in enumerate(unsafe_srcs):
        if is_url(src):
            f = fetch_url(src, Path(staging_dir) / str(i), checksum, session)
            items.append(_Item(SourceTree(f.path.parent, is_context=True), f.path.name, True))
        else:
            items.append(_Item(tree, src, False))
    return AddPlan(items, opts)


def hash_sources(
    tree: SourceTree,
    unsafe_srcs: list[str],
    opts: CopyOptions,
    cache: FileHashCache,
    checksum: str | None = None,
) -> tuple[SourceHash, tuple[AddPlan, str] | None]:
    """The ADD's cache-key hash. URLs are fetched for it, into a staging dir that is
    returned with the plan, so that a miss adds the very bytes the key was made from;
    an ADD of local files only keeps nothing."""
    staging = tempfile.mkdtemp(prefix="pybuild-add-")
    try:
        plan = prepare_add(tree, unsafe_srcs, Path(staging), opts, checksum=checksum)
        sh = plan.source_hash(cache)
    except BaseException:
        discard(staging)
        raise
    if any(it.remote for it in plan.items):
        return sh, (plan, staging)
    discard(staging)
    return sh, None


def discard(staging: str) -> None:
    """Remove a staging dir `hash_sources` kept (the step hit the cache, or ran)."""
    shutil.rmtree(staging, ignore_errors=True)
