"""The snapshotter: layers unpacked once, keyed by chain id, stacked as overlay lowers.

```
ROOT/snapshots/<chain-hex>/diff      a committed snapshot (overlay form)
ROOT/snapshots/l/<LINK> -> ../<chain-hex>/diff     12-character links for mount data
ROOT/snapshots/a<10>/{diff,work,merged}            an active (mounted) snapshot
ROOT/snapshots/empty                  the lowerdir of a snapshot with no parent
```
Rows live in meta.db (`snapshots`, `active_snapshots`).

Reference counting: a committed snapshot's `refs` counts its children, the active
snapshots prepared on it, and the holds callers took. `ensure_layers`, `commit` and
`acquire` each return ONE hold; `remove(chain_id)` drops one, and a snapshot whose
count reaches 0 is deleted and drops its hold on its parent in turn.

Concurrency: row changes and the renames that publish a snapshot happen inside one
IMMEDIATE sqlite transaction; unpacking happens before it in a private temp dir, so
two processes that race on one layer both succeed and one copy is discarded.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from store import meta, overlay
from store.background import Background
from store.compress import open_decompressed
from store.errors import DigestMismatch, SnapshotInUse, SnapshotNotFound, StoreError
from store.fsplace import spread_children
from store.layerdiff import DiffOptions, diff_to_store
from store.oci.digest import Descriptor, Digest, chain_ids
from store.recover import TRASH_PREFIX, active_name, has_active_dirs, recover_stale
from store.snapshot_format import store_format
from store.unpack import UnpackOptions, remove_beneath, unpack_tar
from store.whiteout import OverlayFormat, default_format

if TYPE_CHECKING:
    from store.layout import Store

DDL = """
CREATE TABLE IF NOT EXISTS snapshots (
    chain_id TEXT PRIMARY KEY,
    parent TEXT,
    diff_id TEXT NOT NULL,
    link TEXT NOT NULL UNIQUE,
    refs INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS active_snapshots (
    key TEXT PRIMARY KEY,
    dir TEXT NOT NULL UNIQUE,
    parent TEXT,
    pid INTEGER NOT NULL,
    created REAL NOT NULL
);
"""


MAX_LAYERS = 500  # the kernel's OVL_MAX_STACK


def layer_cap() -> int | None:
    """`PYBUILD_MAX_LAYER_BYTES`: the most file data one layer may unpack to (the
    decompression-bomb cap); unset means unpack's default."""
    text = os.environ.get("PYBUILD_MAX_LAYER_BYTES", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise StoreError(f"PYBUILD_MAX_LAYER_BYTES={text!r}: want a positive number of bytes")
    return int(text)


def link_name(chain_id: Digest) -> str:
    return base64.b32encode(hashlib.sha256(str(chain_id).encode()).digest()).decode()[:12]


@dataclass(frozen=True)
class SnapshotInfo:
    """One unpacked layer: its chain, parent, diff ID and references."""

    chain_id: Digest
    parent: Digest | None
    diff_id: Digest
    link: str
    refs: int
    path: Path


@dataclass(frozen=True)
class CommitResult:
    """A committed layer: its blob descriptor, diff ID and chain ID."""

    descriptor: Descriptor  # the layer blob (in the store's BlobStore)
    diff_id: Digest
    chain_id: Digest


class ActiveSnapshot:
    """A mounted, writable snapshot. Use `.merged` as the rootfs; `release()` (or
    leaving the `with` block) unmounts and deletes it unless it was committed."""

    def __init__(
        self,
        sn: Snapshotter,
        key: str,
        dir_: Path,
        parent: Digest | None,
        spec: overlay.OverlaySpec,
    ) -> None:
        self._sn = sn
        self.key = key
        self.dir = dir_
        self.parent = parent
        self.spec = spec  # to recreate the mount elsewhere (e.g. in a new mount ns)
        self.done = False

    merged = property(lambda self: self.dir / "merged")
    upper = property(lambda self: self.dir / "diff")
    work = property(lambda self: self.dir / "work")

    def release(self) -> None:
        if not self.done:
            self._sn._release(self)

    def __enter__(self) -> ActiveSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Snapshotter:
    """See the module docstring. One instance per `Store` (`store.snapshots`)."""

    def __init__(self, store: Store, *, fmt: OverlayFormat | None = None) -> None:
        self.store = store
        self.root = Path(store.root) / "snapshots"
        self.fmt = fmt or default_format()
        (self.root / "l").mkdir(parents=True, exist_ok=True)
        (self.root / "empty").mkdir(exist_ok=True)
        spread_children(self.root)  # each snapshot in a block group of its own: see fsplace
        meta.ensure_schema(store.db(), "store.snapshots", DDL)
        if fmt is None:  # the store's recorded form (refused rootless if root made it)
            self.fmt = store_format(store.db(), str(store.root))
        if has_active_dirs(Path(store.root)):  # a killed pybuild left mounts: clean, say so
            for note in recover_stale(self):
                print(f"pybuild: {note}", file=sys.stderr)

    def _db(self) -> Any:
        return self.store.db()

    def _txn(self) -> Any:
        """A write transaction taken at once: sqlite3's `with conn:` only begins one
        at the first write, which is too late for read-check-rename sequences."""
        return meta.write_transaction(self._db())

    # --- queries -----------------------------------------------------------------

    def get(self, chain_id: Digest) -> SnapshotInfo | None:
        r = (
            self._db()
            .execute(
                "SELECT chain_id, parent, diff_id, link, refs FROM snapshots WHERE chain_id=?",
                (str(chain_id),),
            )
            .fetchone()
        )
        return self._info(r) if r else None

    def _info(self, r: Sequence[Any]) -> SnapshotInfo:
        cid = Digest.parse(r[0])
        return SnapshotInfo(
            cid,
            Digest.parse(r[1]) if r[1] else None,
            Digest.parse(r[2]),
            r[3],
            r[4],
            self.root / cid.hex / "diff",
        )

    def list(self) -> list[SnapshotInfo]:
        rows = (
            self._db()
            .execute("SELECT chain_id, parent, diff_id, link, refs FROM snapshots ORDER BY created")
            .fetchall()
        )
        return [self._info(r) for r in rows]

    def lowers(self, chain_id: Digest) -> builtins.list[SnapshotInfo]:
        """The stack from `chain_id` down to its base layer (topmost first)."""
        out: list[SnapshotInfo] = []
        cur: Digest | None = chain_id
        while cur is not None:
            info = self.get(cur)
            if info is None:
                raise SnapshotNotFound(str(cur))
            out.append(info)
            cur = info.parent
        return out

    # --- creating ----------------------------------------------------------------

    def ensure_layers(
        self,
        layers: Sequence[Descriptor],
        diff_ids: Sequence[Digest],
        *,
        max_bytes: int | None = None,
    ) -> Digest:
        """Unpack each layer blob (from the store) that has no snapshot yet; return
        the top chain id with ONE hold on it (drop it with `remove`)."""
        if len(layers) != len(diff_ids) or not layers:
            raise StoreError(f"ensure_layers: {len(layers)} layers but {len(diff_ids)} diff_ids")
        if len(layers) > MAX_LAYERS:  # refuse before unpacking thousands of layers in vain
            raise StoreError(
                f"image has {len(layers)} layers: overlayfs stacks at most "
                f"{MAX_LAYERS} (squash the image)"
            )
        chains = chain_ids(list(diff_ids))
        for attempt in range(3):  # a concurrent remove() may delete a parent under us
            try:
                parent: Digest | None = None
                for desc, diff_id, chain in zip(layers, diff_ids, chains, strict=True):
                    if self.get(chain) is None:
                        self._unpack_layer(desc, diff_id, chain, parent, max_bytes)
                    parent = chain
                self.acquire(chains[-1])
                return chains[-1]
            except SnapshotNotFound:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _unpack_layer(
        self,
        desc: Descriptor,
        diff_id: Digest,
        chain: Digest,
        parent: Digest | None,
        max_bytes: int | None,
    ) -> None:
        tmp = self.root / f"tmp-{os.getpid()}-{os.urandom(6).hex()}"  # pid: see store.recover
        (tmp / "diff").mkdir(parents=True)
        try:
            max_bytes = max_bytes or layer_cap()
            opts = (
                UnpackOptions(fmt=self.fmt, max_bytes=max_bytes)
                if max_bytes
                else UnpackOptions(fmt=self.fmt)
            )
            with self.store.blobs.open(desc.digest, desc.size) as blob:
                plain = open_decompressed(blob, hasher=hashlib.sha256())
                try:
                    # a PrefetchReader is file-like: the tar reader only calls
                    # read() and read_view() on it
                    unpack_tar(cast("IO[bytes]", plain), tmp / "diff", opts)
                    plain.drain()  # trailing blocks count; the blob digest is checked at EOF
                finally:
                    plain.close()
            got = Digest("sha256", plain.hasher.hexdigest())
            if got != diff_id:
                raise DigestMismatch(str(diff_id), str(got))
            self._publish(tmp, chain, parent, diff_id, holds=0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _publish(
        self, src_dir: Path, chain: Digest, parent: Digest | None, diff_id: Digest, *, holds: int
    ) -> bool:
        """Make `src_dir/diff` the snapshot `chain` (or add `holds` to the existing
        one). Returns True when src_dir was used."""
        link = link_name(chain)
        with self._txn() as conn:
            row = conn.execute(
                "SELECT refs FROM snapshots WHERE chain_id=?", (str(chain),)
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE snapshots SET refs=refs+? WHERE chain_id=?", (holds, str(chain))
                )
                return False
            if (
                parent is not None
                and conn.execute(
                    "SELECT 1 FROM snapshots WHERE chain_id=?", (str(parent),)
                ).fetchone()
                is None
            ):
                raise SnapshotNotFound(str(parent))
            dest = self.root / chain.hex
            if dest.exists():  # left by a crash before its row was written
                shutil.rmtree(dest)
            dest.mkdir()
            os.rename(src_dir / "diff", dest / "diff")
            lpath = self.root / "l" / link
            if lpath.is_symlink():
                lpath.unlink()
            os.symlink(f"../{chain.hex}/diff", lpath)
            conn.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
                (
                    str(chain),
                    str(parent) if parent else None,
                    str(diff_id),
                    link,
                    holds,
                    time.time(),
                ),
            )
            if parent is not None:
                conn.execute("UPDATE snapshots SET refs=refs+1 WHERE chain_id=?", (str(parent),))
        return True

    def acquire(self, chain_id: Digest) -> None:
        with self._txn() as conn:
            cur = conn.execute(
                "UPDATE snapshots SET refs=refs+1 WHERE chain_id=?", (str(chain_id),)
            )
            if cur.rowcount == 0:
                raise SnapshotNotFound(str(chain_id))

    # --- active snapshots ----------------------------------------------------------

    def prepare(self, parent: Digest | None, key: str | None = None) -> ActiveSnapshot:
        """Mount a writable overlay on top of `parent` (None: an empty rootfs)."""
        key = key or os.urandom(16).hex()
        name = active_name()
        adir = self.root / name
        with self._txn() as conn:
            if parent is not None:
                cur = conn.execute(
                    "UPDATE snapshots SET refs=refs+1 WHERE chain_id=?", (str(parent),)
                )
                if cur.rowcount == 0:
                    raise SnapshotNotFound(str(parent))
            try:
                conn.execute(
                    "INSERT INTO active_snapshots VALUES (?, ?, ?, ?, ?)",
                    (key, name, str(parent) if parent else None, os.getpid(), time.time()),
                )
            except Exception as e:
                raise SnapshotInUse(key, f"an active snapshot with this key exists ({e})") from None
        try:
            for sub in ("diff", "work", "merged"):
                (adir / sub).mkdir(parents=True)
            links = [f"l/{i.link}" for i in self.lowers(parent)] if parent else ["empty"]
            spec = overlay.OverlaySpec(
                tuple(str(self.root / p) for p in links),
                str(adir / "diff"),
                str(adir / "work"),
                userxattr=self.fmt.userxattr,
            )
            if not spec.fits():
                spec = overlay.OverlaySpec(
                    tuple(links),
                    f"{name}/diff",
                    f"{name}/work",
                    cwd=str(self.root),
                    userxattr=self.fmt.userxattr,
                )
            overlay.mount_overlay(str(adir / "merged"), spec)
        except BaseException:
            self._drop_active(key, adir, parent)
            raise
        return ActiveSnapshot(self, key, adir, parent, spec)

    def _drop_active(self, key: str, adir: Path, parent: Digest | None) -> None:
        if (adir / "merged").exists():
            overlay.umount(str(adir / "merged"))
        shutil.rmtree(adir, ignore_errors=True)
        with self._db() as conn:
            conn.execute("DELETE FROM active_snapshots WHERE key=?", (key,))
        if parent is not None:
            self.remove(parent)

    def _release(self, active: ActiveSnapshot) -> None:
        active.done = True
        self._drop_active(active.key, active.dir, active.parent)

    def commit(
        self,
        active: ActiveSnapshot,
        *,
        compression: str | None = "gzip",
        source_date_epoch: int | None = None,
        exclude: Sequence[str] = (),
    ) -> CommitResult:
        """Turn the active snapshot's upper dir into a layer blob and a committed
        snapshot (the upper dir is reused, not re-unpacked); returns ONE hold on it."""
        if active.done:
            raise StoreError(f"snapshot {active.key} was already committed or released")
        # The unmount syncs the upper file system (20-300 ms after a big RUN): it runs
        # on a thread while the diff reads the upper dir (nothing writes to it: the
        # step's processes are gone), and is joined before the snapshot is recorded.
        umounting = Background(
            overlay.umount, str(active.merged), name="umount", daemon=True
        ).start()
        try:
            opts = DiffOptions(
                compression=compression,
                source_date_epoch=source_date_epoch,
                fmt=self.fmt,
                normalize_source=True,
                exclude=tuple(exclude),
            )
            info = diff_to_store(active.upper, self.store.blobs, opts)
        finally:
            umounting.result()
        for path in exclude:  # the snapshot dir then holds what the layer holds
            remove_beneath(active.upper, path)
        meta.record_layer(
            self._db(),
            meta.LayerRecord(
                info.diff_id, info.digest, info.media_type, info.size, info.uncompressed_size
            ),
        )
        chain = (
            Digest.of_bytes(f"{active.parent} {info.diff_id}".encode())
            if active.parent
            else info.diff_id
        )
        self._publish(active.dir, chain, active.parent, info.diff_id, holds=1)  # or dedup
        active.done = True
        # The dir goes before its row: a crash in between leaves a row, which
        # store.recover cleans; a dir without a row would be a stray fsck reports.
        shutil.rmtree(active.dir, ignore_errors=True)
        with self._db() as conn:
            conn.execute("DELETE FROM active_snapshots WHERE key=?", (active.key,))
        if active.parent is not None:
            self.remove(active.parent)  # the active's hold (the child now holds it, if new)
        return CommitResult(info.descriptor(), info.diff_id, chain)

    # --- removal and checks --------------------------------------------------------

    def remove(self, chain_id: Digest) -> None:
        """Drop one hold; delete the snapshot (and cascade to its parent) at zero."""
        cur: Digest | None = chain_id
        while cur is not None:
            with self._txn() as conn:
                row = conn.execute(
                    "SELECT refs, parent, link FROM snapshots WHERE chain_id=?", (str(cur),)
                ).fetchone()
                if row is None:
                    raise SnapshotNotFound(str(cur))
                if row[0] > 1:
                    conn.execute("UPDATE snapshots SET refs=refs-1 WHERE chain_id=?", (str(cur),))
                    return
                conn.execute("DELETE FROM snapshots WHERE chain_id=?", (str(cur),))
                # The dir moves first and its trash name keeps the chain id: a kill
                # before the commit keeps the row, and recovery moves the dir back.
                trash = self.root / f"{TRASH_PREFIX}{cur.hex}-{os.urandom(6).hex()}"
                os.rename(self.root / cur.hex, trash)
                (self.root / "l" / row[2]).unlink(missing_ok=True)
            shutil.rmtree(trash, ignore_errors=True)
            cur = Digest.parse(row[1]) if row[1] else None

    def verify(self) -> builtins.list[str]:
        """Problems fsck should report (empty when consistent)."""
        problems: list[str] = []
        infos = {i.chain_id: i for i in self.list()}
        holders: dict[Digest, int] = {}
        for i in infos.values():
            if not i.path.is_dir():
                problems.append(f"snapshot {i.chain_id}: missing {i.path}")
            if (
                os.readlink(self.root / "l" / i.link) != f"../{i.chain_id.hex}/diff"
                if (self.root / "l" / i.link).is_symlink()
                else True
            ):
                problems.append(f"snapshot {i.chain_id}: bad link l/{i.link}")
            if i.parent is not None:
                if i.parent not in infos:
                    problems.append(f"snapshot {i.chain_id}: parent {i.parent} is missing")
                holders[i.parent] = holders.get(i.parent, 0) + 1
        for r in self._db().execute("SELECT parent FROM active_snapshots WHERE parent IS NOT NULL"):
            holders[Digest.parse(r[0])] = holders.get(Digest.parse(r[0]), 0) + 1
        for cid, n in holders.items():
            if cid in infos and infos[cid].refs < n:
                problems.append(f"snapshot {cid}: refs {infos[cid].refs} < {n} holders")
        known = {i.chain_id.hex for i in infos.values()}
        actives = {r[0] for r in self._db().execute("SELECT dir FROM active_snapshots")}
        for entry in self._entries():
            if entry not in known and entry not in actives and entry not in ("l", "empty"):
                problems.append(f"stray snapshot dir {self.root / entry}")
        return problems

    def _entries(self) -> Iterator[str]:
        with os.scandir(self.root) as it:
            for e in it:
                yield e.name
