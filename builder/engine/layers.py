"""Root filesystems for steps, over the store's snapshotter: a writable overlay on a
stage's layers, a read-only view of another stage for `COPY --from`, and commits.

Hold policy: the snapshotter counts holds. The engine keeps ONE long-lived hold on
every snapshot it unpacks or commits (the build cache's), so later builds find them;
any extra hold it gets for a snapshot someone already holds is dropped at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from builder.engine.state import StageState
from store.digest import Digest

EMPTY_DIFF_IDS = frozenset({
    # an empty tar (1024 zero bytes) as BuildKit and Go's archive/tar write it
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
})


def _settle(sn: Any, chain: Digest) -> None:
    info = sn.get(chain)
    if info is not None and info.refs > 1:
        sn.remove(chain)


def ensure_chain(store: Any, state: StageState) -> Digest | None:
    """Make sure the stage's layers are unpacked; returns the top chain id."""
    if not state.layers:
        return None
    sn = store.snapshots
    chain = sn.ensure_layers([lr.desc for lr in state.layers], [lr.diff_id for lr in state.layers])
    _settle(sn, chain)
    return chain


@contextlib.contextmanager
def writable(store: Any, state: StageState | None, key: str) -> Iterator[Any]:
    """A mounted overlay on `state`'s layers (an empty one for None); released on exit
    unless committed."""
    sn = store.snapshots
    parent = ensure_chain(store, state) if state is not None else None
    active = sn.prepare(parent, key=f"{key}-{os.getpid()}-{id(state)}-{os.urandom(4).hex()}")
    try:
        yield active
    finally:
        active.release()


def commit(store: Any, active: Any, *, compression: str | None, epoch: int | None,
           exclude: Sequence[str]) -> Any:
    res = store.snapshots.commit(active, compression=compression, source_date_epoch=epoch,
                                 exclude=list(exclude))
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
