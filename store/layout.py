"""The store facade: one root directory that is a valid OCI image layout (ARCHITECTURE §5).

```
ROOT/oci-layout  index.json  blobs/sha256/<hex>     the OCI layout (contract)
ROOT/meta.db[-wal,-shm]                             sqlite metadata (store.meta)
ROOT/snapshots/                                     overlay snapshots (store.snapshots)
ROOT/tmp/                                           ingests and atomic-write temps
ROOT/locks/                                         flock files (index, gc, leases)
```

`open_store()` creates what is missing; `Store` hands out the blob store, the refs,
a per-thread database connection, the snapshotter (lazily) and leases that protect
fresh content from a concurrent gc.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import store
from store import meta
from store.atomic import PRIVATE_DIR, atomic_write_bytes
from store.blobs import BlobStore
from store.errors import CorruptStore, StoreError
from store.locks import file_lock, try_lock
from store.oci.mediatype import OCI_INDEX
from store.refs import Refs

if TYPE_CHECKING:
    from store.snapshots import Snapshotter

LAYOUT_VERSION = "1.0.0"


def default_root() -> Path:
    """PYBUILD_ROOT, else /var/lib/pybuild for root, else $XDG_DATA_HOME/pybuild."""
    env = os.environ.get("PYBUILD_ROOT")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/pybuild")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "pybuild"


@dataclass
class Lease:
    """A running build/pull/load. While it lives, gc keeps every blob or snapshot it
    named with `add()`, and every blob written since it started (by mtime)."""

    id: str
    created: float
    _store: Store
    _labels: str = ""
    _row: bool = False  # the `leases` row exists (written on the first add())

    def add(self, kind: str, key: str) -> None:
        """kind: "blob" (key = digest string) or "snapshot" (key = snapshot key)."""
        with self._store.db() as conn:
            if not self._row:
                conn.execute(
                    "INSERT OR IGNORE INTO leases VALUES (?, ?, ?, ?, ?)",
                    (self.id, self.created, self.created + 24 * 3600, os.getpid(), self._labels),
                )
            conn.execute(
                "INSERT OR IGNORE INTO lease_resources VALUES (?, ?, ?)", (self.id, kind, str(key))
            )
        self._row = True


class Store:
    """Facade over one store root. Cheap to create; safe across processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = BlobStore(self.root)
        self.refs = Refs(self.root)
        self._local = threading.local()
        self._snapshots: Snapshotter | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- pieces ------------------------------------------------------------------

    def db(self) -> sqlite3.Connection:
        """This thread's connection to `meta.db` (see store.meta for the rules)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = meta.connect(self.root)
            except sqlite3.DatabaseError as e:
                raise CorruptStore(str(self.root / meta.DB_NAME), str(e)) from None
            self._local.conn = conn
        return conn

    def file_hashes(self) -> meta.FileHashTable:
        return meta.FileHashTable(self.db())

    @property
    def snapshots(self) -> Snapshotter:
        """The store's `Snapshotter`, created on first use (opening it runs the
        recovery of what a killed pybuild left, so verbs without snapshots skip it)."""
        if self._snapshots is None:
            self._snapshots = store.Snapshotter(self)
        return self._snapshots

    def tmpdir(self) -> Path:
        """The store's scratch dir (same filesystem as blobs, so renames are atomic)."""
        d = self.root / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- leases ------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, *, labels: str = "", expires_in: float = 24 * 3600) -> Iterator[Lease]:
        """Protect content from gc while a build/pull/load runs. Liveness is an flock
        held on `locks/lease-<id>`, so a SIGKILLed holder stops protecting at once.

        The lock file itself records the lease (its start time is written into it,
        unsynced: a lease dies with its process, so it needs no crash durability); a
        `leases` row is written only if resources are named with add(). So a build
        that names none (a no-op rebuild) does no meta.db write, hence no fsync."""
        for _ in range(50):  # a fresh file is busy only while gc peeks at it
            lid = os.urandom(16).hex()  # not uuid: its import (and platform's) costs ~2 ms
            lock_path = self.locks_dir / f"lease-{lid}"
            fd = try_lock(lock_path)
            if fd is not None:
                break
            lock_path.unlink(missing_ok=True)
        else:  # pragma: no cover
            raise StoreError(f"could not take a lease lock in {self.locks_dir}")
        now = time.time()
        lease = Lease(lid, now, self, _labels=labels)
        try:
            os.write(fd, f"{now!r} {os.getpid()} {labels}".encode())
            yield lease
        finally:
            if lease._row:
                with contextlib.suppress(sqlite3.Error), self.db() as conn:
                    conn.execute("DELETE FROM leases WHERE id=?", (lid,))
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
            os.close(fd)

    def active_leases(self) -> list[tuple[str, float]]:
        """(id, created) of leases whose holder is alive; stale rows are removed."""
        rows = self.db().execute("SELECT id, created, expires FROM leases").fetchall()
        live, dead = [], []
        for lid, created, _expires in rows:
            fd = try_lock(self.locks_dir / f"lease-{lid}")
            if fd is None:
                live.append((lid, created))
            else:
                os.close(fd)
                dead.append(lid)
                with contextlib.suppress(FileNotFoundError):
                    (self.locks_dir / f"lease-{lid}").unlink()
        if dead:
            with self.db() as conn:
                conn.executemany("DELETE FROM leases WHERE id=?", [(d,) for d in dead])
        return live + self._file_leases({row[0] for row in rows})

    def _file_leases(self, known: set[str]) -> list[tuple[str, float]]:
        """Live leases that have no row, found by their held lock files. Unlocked
        files are left for fsck (is_abandoned): one may be a holder that has created
        but not yet locked its file."""
        live = []
        for p in self.locks_dir.glob("lease-*"):
            lid = p.name.removeprefix("lease-")
            if lid in known:
                continue
            try:
                fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: a live lease
                try:
                    created = float(os.read(fd, 64).split(b" ", 1)[0])
                except ValueError:
                    created = 0.0  # start not written yet: protect everything
                live.append((lid, created))
            finally:
                os.close(fd)
        return live

    def leased_resources(self, lease_ids: list[str]) -> set[tuple[str, str]]:
        if not lease_ids:
            return set()
        marks = ",".join("?" * len(lease_ids))
        rows = (
            self.db()
            .execute(
                f"SELECT kind, key FROM lease_resources WHERE lease_id IN ({marks})", lease_ids
            )
            .fetchall()
        )
        return {(k, v) for k, v in rows}


def check_layout_header(unsafe: Any) -> str:
    """Validate an `oci-layout` document; return its version."""
    v = unsafe.get("imageLayoutVersion") if isinstance(unsafe, dict) else None
    if not isinstance(v, str) or not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v):
        raise CorruptStore("oci-layout", f"bad imageLayoutVersion {v!r}")
    return v


def _make_private_root(root: Path) -> None:
    """A new store's root is its owner's alone (0700). A directory that exists and holds
    anything is left as it is: it may be shared (`PYBUILD_ROOT=/srv`), and an existing
    store's modes are fsck's to report and repair."""
    if root.is_dir():
        with os.scandir(root) as entries:
            if any(entries):
                return
    root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(root, PRIVATE_DIR)


def open_store(root: Path | None = None) -> Store:
    """Open (creating if missing) the store at `root` or `default_root()`."""
    root = Path(root) if root is not None else default_root()
    _make_private_root(root)
    for d in (root / "blobs" / "sha256", root / "tmp", root / "locks"):
        d.mkdir(parents=True, exist_ok=True)
    layout = root / "oci-layout"
    if not layout.exists():
        body = json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()
        atomic_write_bytes(layout, body, root / "tmp")
    index = root / "index.json"
    if not index.exists():
        # Under the index lock, so we never clobber a concurrent first tag.
        with file_lock(root / "locks" / "index.lock"):
            if not index.exists():
                doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
                atomic_write_bytes(index, json.dumps(doc, indent=2).encode() + b"\n", root / "tmp")
    return Store(root)
