"""`pybuild fsck`: verify the whole store and repair what is safe to repair.

Checks: that the store is its owner's alone (modes), the layout files (oci-layout,
index.json), every blob's digest and name, every
image reachable from index.json (manifest, config, layer blobs and sizes, diff_id count),
the database (`PRAGMA integrity_check`, rows pointing at missing blobs), leftover
ingests in `tmp/`, and the snapshots (`Snapshotter.fsck()`).

Repair policy (decided here, documented in `pybuild fsck --help`):
- always, because nothing valid can be lost: remove abandoned ingests (temp files no
  live process holds), stale lease rows, `layers` rows for missing blobs, a missing or
  broken `oci-layout` file;
- only with `--repair`, because it changes what the user sees: take back modes that
  let other users read the store (root 0700, files 0600), delete blobs whose
  content does not match their name, stray files in `blobs/`, and drop index.json
  entries whose image is missing or broken (the tag disappears).
Anything repaired is reported as "fixed"; anything left is an "error" (exit 1).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from store.atomic import PRIVATE_DIR, PRIVATE_FILE, atomic_write_bytes, is_abandoned
from store.errors import InvalidDigest, StoreError
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import INDEX_TYPES, MANIFEST_TYPES

if TYPE_CHECKING:
    from store.layout import Store

CHUNK = 1 << 20


@dataclass
class FsckReport:
    """What fsck found and what it fixed."""

    errors: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blobs_checked: int = 0

    @property
    def clean(self) -> bool:
        return not self.errors


def _hash_file(path: os.PathLike[str], algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsck(store: Store, *, repair: bool = False) -> FsckReport:
    r = FsckReport()
    _check_modes(store, r, repair)
    _check_layout(store, r)
    _check_tmp(store, r)
    bad = _check_blobs(store, r, repair)
    _check_images(store, r, repair, bad)
    _check_db(store, r)
    _check_snapshots(store, r, repair)
    return r


def _check_modes(store: Store, r: FsckReport, repair: bool) -> None:
    """Other users may traverse the root at most (0710, as /var/lib/docker) and read
    the store's files at most by group (0640); wider is reported, and `--repair` sets
    the root to 0700 and the files to 0600."""
    root_mode = stat.S_IMODE(store.root.stat().st_mode)
    if root_mode & 0o067:
        what = f"store root {store.root} is {root_mode:04o}"
        _widened(r, repair, what, store.root, mode=PRIVATE_DIR)
    files = [store.root / n for n in _PRIVATE_FILES]
    base = store.blobs.blobs_dir
    files += [p for d in sorted(base.iterdir()) if d.is_dir() for p in sorted(d.iterdir())]
    wide = [p for p in files if _mode(p) & 0o037]
    if wide:
        shown = ", ".join(str(p.relative_to(store.root)) for p in wide[:3])
        more = f" and {len(wide) - 3} more" if len(wide) > 3 else ""
        what = f"{len(wide)} store files are readable by other users ({shown}{more})"
        _widened(r, repair, what, *wide, mode=PRIVATE_FILE)


_PRIVATE_FILES = ("meta.db", "meta.db-wal", "meta.db-shm", "index.json", "oci-layout")


def _mode(path: Path) -> int:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return 0
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0


def _widened(r: FsckReport, repair: bool, what: str, *paths: Path, mode: int) -> None:
    if not repair:
        r.errors.append(f"{what}: pybuild fsck --repair makes the store private")
        return
    for p in paths:  # opened, not chmod()ed by name: a symlink swapped in is not followed
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    r.fixed.append(f"{what}: now {mode:04o}")


def _check_layout(store: Store, r: FsckReport) -> None:
    path = store.root / "oci-layout"
    try:
        ok = json.loads(path.read_bytes()).get("imageLayoutVersion") == "1.0.0"
    except (OSError, ValueError, AttributeError):
        ok = False
    if not ok:
        atomic_write_bytes(path, b'{"imageLayoutVersion":"1.0.0"}', store.tmpdir())
        r.fixed.append("rewrote missing or broken oci-layout")


def _check_tmp(store: Store, r: FsckReport) -> None:
    for p in sorted(store.tmpdir().iterdir()):
        if p.is_file() and is_abandoned(p):
            p.unlink(missing_ok=True)
            r.fixed.append(f"removed abandoned ingest tmp/{p.name}")
        elif p.is_file():
            r.notes.append(f"tmp/{p.name} is being written by a live process")
        else:
            r.notes.append(f"tmp/{p.name}: scratch left by another component (not removed)")


def _check_blobs(store: Store, r: FsckReport, repair: bool) -> set[Digest]:
    bad: set[Digest] = set()
    base = store.blobs.blobs_dir
    for alg_dir in sorted(base.iterdir()) if base.is_dir() else []:
        for p in sorted(alg_dir.iterdir()) if alg_dir.is_dir() else [alg_dir]:
            try:
                dg = Digest(alg_dir.name, p.name)
            except InvalidDigest:
                dg = None
            if dg is None or not dg.verifiable or not p.is_file():
                _problem(
                    r,
                    repair,
                    f"stray entry blobs/{p.relative_to(base)}",
                    lambda p=p: p.unlink() if p.is_file() or p.is_symlink() else None,
                )
                continue
            r.blobs_checked += 1
            got = _hash_file(p, dg.algorithm)
            if got != dg.hex:
                bad.add(dg)
                _problem(
                    r,
                    repair,
                    f"blob {dg} is corrupt (content hashes to {dg.algorithm}:{got})",
                    lambda dg=dg: store.blobs.delete(dg),
                )
    return bad


def _problem(r: FsckReport, repair: bool, what: str, fix: Callable[..., object]) -> None:
    if repair:
        fix()
        r.fixed.append(f"{what}: removed")
    else:
        r.errors.append(what)


def _image_problems(store: Store, d: Descriptor, bad: set[Digest], depth: int = 0) -> list[str]:
    def blob_ok(x: Descriptor, what: str) -> str | None:
        if x.digest in bad:
            return f"{what} {x.digest} is corrupt"
        if not store.blobs.exists(x.digest):
            return f"{what} {x.digest} is missing"
        if store.blobs.stat(x.digest) != x.size:
            return (
                f"{what} {x.digest} has size {store.blobs.stat(x.digest)}, descriptor says {x.size}"
            )
        return None

    if (p := blob_ok(d, "manifest")) is not None:
        return [p]
    try:
        if d.media_type in INDEX_TYPES:
            if depth > 4:
                return ["index nesting too deep"]
            out, present = [], 0
            for child in Index.from_json(store.blobs.read_json(d)).manifests:
                if child.media_type in MANIFEST_TYPES | INDEX_TYPES:
                    # Platforms that were never fetched are fine; broken ones are not.
                    if store.blobs.exists(child.digest) or child.digest in bad:
                        present += 1
                        out += _image_problems(store, child, bad, depth + 1)
                elif (p := blob_ok(child, "blob")) is not None:
                    out.append(p)
            return out if present else out + ["the index names no stored manifest"]
        if d.media_type not in MANIFEST_TYPES:
            return []
        m = Manifest.from_json(store.blobs.read_json(d))
        if (p := blob_ok(m.config, "config")) is not None:
            return [p]
        cfg = ImageConfig.from_json(store.blobs.read_json(m.config))
    except StoreError as e:
        return [str(e)]
    out = [p for x in m.layers if (p := blob_ok(x, "layer")) is not None]
    if len(cfg.diff_ids) != len(m.layers):
        out.append(f"{len(m.layers)} layers but {len(cfg.diff_ids)} diff_ids")
    return out


def _check_images(store: Store, r: FsckReport, repair: bool, bad: set[Digest]) -> None:
    try:
        raw = store.refs.read_index()
    except StoreError as e:
        r.errors.append(str(e))
        return
    broken: set[int] = set()
    problems: list[str] = []
    for i, m in enumerate(raw["manifests"]):
        try:
            d = Descriptor.from_json(m)
        except (StoreError, TypeError, ValueError, AttributeError) as e:
            problems.append(f"index.json entry {i}: {e}")
            broken.add(i)
            continue
        name = d.annotations.get("org.opencontainers.image.ref.name") or str(d.digest)
        for p in _image_problems(store, d, bad):
            broken.add(i)
            problems.append(f"image {name}: {p}")
    if not (repair and broken):
        r.errors.extend(problems)
        return
    # Re-read under the lock and drop exactly the broken entries (matched by content).
    gone = {json.dumps(raw["manifests"][i], sort_keys=True) for i in broken}
    store.refs.update(lambda ms: [x for x in ms if json.dumps(x, sort_keys=True) not in gone])
    r.fixed.extend(f"{p}: index entry dropped" for p in problems)


def _check_db(store: Store, r: FsckReport) -> None:
    try:
        conn = store.db()
        res = conn.execute("PRAGMA integrity_check").fetchall()
    except (sqlite3.Error, StoreError) as e:
        r.errors.append(f"meta.db: {e}")
        return
    if res != [("ok",)]:
        r.errors.append(f"meta.db integrity: {'; '.join(str(x[0]) for x in res[:5])}")
        return
    before = conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0]
    live = store.active_leases()
    if before > len(live):
        r.fixed.append(f"removed {before - len(live)} stale leases")
    live_ids = {lid for lid, _ in live}
    for p in sorted(store.locks_dir.glob("lease-*")):
        if p.name.removeprefix("lease-") not in live_ids and is_abandoned(p):
            p.unlink(missing_ok=True)  # a holder killed before its row was written
            r.fixed.append(f"removed stale lock locks/{p.name}")
    stale = [
        row[0]
        for row in conn.execute("SELECT DISTINCT digest FROM layers")
        if not _exists(store, row[0])
    ]
    if stale:
        with conn:
            conn.executemany("DELETE FROM layers WHERE digest=?", [(s,) for s in stale])
        r.fixed.append(f"removed {len(stale)} layer records for missing blobs")


def _exists(store: Store, text: str) -> bool:
    try:
        return store.blobs.exists(Digest.parse(text))
    except InvalidDigest:
        return False


def _check_snapshots(store: Store, r: FsckReport, repair: bool) -> None:
    if not (store.root / "snapshots").exists():
        return
    try:
        snap = store.snapshots
    except StoreError as e:
        r.notes.append(f"snapshots not checked: {e}")
        return
    r.errors.extend(f"snapshots: {p}" for p in snap.verify())
