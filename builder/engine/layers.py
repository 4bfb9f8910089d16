"""Root filesystems for steps, over the store's snapshotter: a writable overlay on a
stage's layers, a read-only view of another stage for `COPY --from`, and commits.

Hold policy: the snapshotter counts holds. The engine keeps ONE long-lived hold on
every snapshot it unpacks or commits (the build cache's), so later builds find them;
any extra hold it gets for a snapshot someone already holds is dropped at once.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder import engine
from builder.cache import CacheResult
from builder.engine.state import BuildContext, StageState
from builder.history import rfc3339
from store.oci.digest import Digest

if TYPE_CHECKING:
    from store.layout import Store

EMPTY_DIFF_IDS = frozenset(
    {
        # an empty tar (1024 zero bytes) as BuildKit and Go's archive/tar write it
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    }
)


def _settle(sn: Any, chain: Digest) -> None:
    info = sn.get(chain)
    if info is not None and info.refs > 1:
        sn.remove(chain)


def ensure_chain(store: Store, state: StageState) -> Digest | None:
    """Make sure the stage's layers are unpacked; returns the top chain id."""
    if not state.layers:
        return None
    sn = store.snapshots
    if any(lr.source is not None for lr in state.layers):  # layers from a remote cache
        engine.remote_cache.fetch_layers(store, state.layers)
    chain = sn.ensure_layers([lr.desc for lr in state.layers], [lr.diff_id for lr in state.layers])
    _settle(sn, chain)
    return chain


@contextlib.contextmanager
def writable(store: Store, state: StageState | None, key: str) -> Iterator[Any]:
    """A mounted overlay on `state`'s layers (an empty one for None); released on exit
    unless committed."""
    sn = store.snapshots
    parent = ensure_chain(store, state) if state is not None else None
    active = sn.prepare(parent, key=f"{key}-{os.getpid()}-{id(state)}-{os.urandom(4).hex()}")
    try:
        yield active
    finally:
        active.release()


def step_result(ctx: BuildContext, active: Any, exclude: Sequence[str] = ()) -> CacheResult:
    """What a step that ran leaves: "empty" when its upper dir holds no change but the
    excluded paths, else its committed layer; both stamped now (or SOURCE_DATE_EPOCH)."""
    created = ctx.epoch_created or rfc3339(time.time())
    if upper_is_empty(Path(active.upper), exclude):
        return CacheResult("empty", created=created)
    res = commit(
        ctx.store,
        active,
        compression=ctx.opts.compression,
        epoch=ctx.opts.source_date_epoch,
        exclude=exclude,
    )
    return CacheResult("layer", res.descriptor, res.diff_id, str(res.chain_id), created)


def commit(
    store: Store, active: Any, *, compression: str | None, epoch: int | None, exclude: Sequence[str]
) -> Any:
    res = store.snapshots.commit(
        active, compression=compression, source_date_epoch=epoch, exclude=list(exclude)
    )
    _settle(store.snapshots, res.chain_id)
    return res


def upper_is_empty(upper: Path, exclude: Sequence[str]) -> bool:
    """True when the overlay upper dir holds no change except the excluded paths (and
    the directories leading to them, which the sandbox made only to mount over)."""
    skip = {p.strip("/") for p in exclude}
    parents = {"/".join(p.split("/")[:i]) for p in skip for i in range(1, p.count("/") + 1)}
    for dirpath, dirnames, filenames in os.walk(upper):
        rel_dir = os.path.relpath(dirpath, upper)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if rel in skip:
                dirnames.remove(name)
            elif rel not in parents:
                return False
        for name in filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if rel not in skip:
                return False
    return True


def settle_dir_times(active: Any, dest_rel: str | None) -> None:
    """Make a file operation's layer independent of when it ran: every directory in the
    upper dir gets back its mtime from the lower layers, and a directory the operation
    created on the way to `dest_rel` gets the newest mtime of the files it copied (or
    of its nearest existing parent). Copied files and directories keep their times. BuildKit stamps such directories with
    the wall clock, which makes COPY layers differ between two builds without
    SOURCE_DATE_EPOCH; only mtimes differ from it."""
    upper = Path(active.upper)
    spec = active.spec
    made = set()
    if dest_rel is not None:
        parts = [p for p in dest_rel.split("/") if p]
        made = {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
    lowers = [Path(spec.cwd) / p if spec.cwd else Path(p) for p in spec.lowers]
    newest = 0
    dirs: list[str] = []
    for dirpath, _dirnames, filenames in os.walk(upper):
        rel = os.path.relpath(dirpath, upper)
        if rel != ".":
            dirs.append(rel)
        for f in filenames:
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, f)).st_mtime_ns)
            except OSError:
                pass
    merged = Path(active.merged)
    for rel in sorted(dirs, key=lambda r: -r.count("/")):  # children first
        t = _lower_mtime(lowers, rel)
        if t is None:
            if rel not in made:
                continue  # a directory copied from the source keeps its own time
            t = newest or _nearest_parent_mtime(lowers, rel)
        if t is not None:
            os.utime(merged / rel, ns=(t, t), follow_symlinks=False)


def _lower_mtime(lowers: list[Path], rel: str) -> int | None:
    for low in lowers:
        try:
            st = os.lstat(low / rel)
        except OSError:
            continue
        return st.st_mtime_ns if os.path.isdir(low / rel) else None
    return None


def _nearest_parent_mtime(lowers: list[Path], rel: str) -> int | None:
    parts = rel.split("/")
    while parts:
        parts.pop()
        t = _lower_mtime(lowers, "/".join(parts) or ".")
        if t is not None:
            return t
    return None


def stub_parents(active: Any, created: Sequence[str]) -> list[str]:
    """Directories that are in the upper dir only because the sandbox made mount points
    in them (e.g. /etc for /etc/hosts): nothing else changed in them, they are not
    opaque, and the lower layers have them with the same mode and owner. Leaving them
    out keeps a RUN's layer to what the command changed."""
    upper = Path(active.upper)
    spec = active.spec
    lowers = [Path(spec.cwd) / p if spec.cwd else Path(p) for p in spec.lowers]
    excluded = {c.strip("/") for c in created}
    out: list[str] = []
    parents = sorted(
        {"/".join(c.split("/")[:i]) for c in excluded for i in range(1, c.count("/") + 1)},
        key=lambda p: -p.count("/"),
    )
    for rel in parents:
        d = upper / rel
        if not d.is_dir() or d.is_symlink() or _opaque(d):
            continue
        if any(f"{rel}/{n}" not in excluded for n in os.listdir(d)):
            continue
        low = next((lo / rel for lo in lowers if os.path.lexists(lo / rel)), None)
        if low is None or not low.is_dir():
            continue  # the sandbox created it: already excluded as a mount point
        a, b = os.lstat(d), os.lstat(low)
        if (a.st_mode, a.st_uid, a.st_gid) == (b.st_mode, b.st_uid, b.st_gid):
            excluded.add(rel)
            out.append("/" + rel)
    return out


def _opaque(d: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(d, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False
