"""Startup recovery: undo what a SIGKILLed pybuild left in a store.

A build mounts each writable snapshot (`snapshots/a*/merged`) in the host's mount
namespace and records it in `active_snapshots` with its pid. A killed process cannot
unmount it, so the next pybuild start calls `recover_stale()`: for every row whose
process is gone it unmounts the overlay, deletes the directory and the row, and drops
the hold the row had on its parent snapshot. Live processes' rows are never touched.
It also finishes what a killed `remove` began: a `trash-<chain>-*` dir whose row is
gone is deleted, and one whose row survived (the kill came before the commit) is moved
back with its link; and it deletes the `tmp-<pid>-*` unpack dirs of dead processes.
The Snapshotter runs it when it opens (so every verb that touches snapshots does) and
prints one line per cleaned snapshot on stderr.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from store import overlay
from store.errors import StoreError
from store.locks import file_lock
from store.oci.digest import Digest

if TYPE_CHECKING:
    from store.snapshots import Snapshotter


TRASH_PREFIX = "trash-"
"""A removed snapshot's dir is renamed `trash-<chain hex>-<random>` before it is deleted."""


def active_name() -> str:
    """A new active snapshot's dir name: "a" and 10 hex digits (see is_active_name)."""
    return "a" + os.urandom(5).hex()


def is_active_name(name: str) -> bool:
    return name.startswith("a") and len(name) == 11


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def has_active_dirs(root: Path) -> bool:
    """Cheap pre-check (one listdir): any active snapshot directory at all?"""
    try:
        with os.scandir(root / "snapshots") as it:
            return any(
                (e.name.startswith(("tmp-", "trash-")) or is_active_name(e.name)) and e.is_dir()
                for e in it
            )
    except OSError:
        return False


def recover_stale(sn: Snapshotter) -> list[str]:
    """Clean active snapshots of dead processes; returns one line per cleaned one."""
    notes: list[str] = []
    with file_lock(sn.store.locks_dir / "recover.lock"):
        rows = sn._db().execute("SELECT key, dir, parent, pid FROM active_snapshots").fetchall()
        for key, dir_, parent, pid in rows:
            if _alive(int(pid)):
                continue
            adir = sn.root / dir_
            merged = adir / "merged"
            was_mounted = overlay.is_mounted(str(merged)) if merged.exists() else False
            if was_mounted:
                overlay.umount(str(merged))
            shutil.rmtree(adir, ignore_errors=True)
            with sn._txn() as conn:
                gone = conn.execute("DELETE FROM active_snapshots WHERE key=?", (key,)).rowcount
            if gone and parent:
                try:
                    sn.remove(Digest.parse(parent))
                except StoreError:
                    pass  # the parent is already gone: nothing is held
            what = "unmounted and removed" if was_mounted else "removed"
            notes.append(f"cleaned up a snapshot left by killed pid {pid}: {what} {adir}")
        # A row is written before its dir and removed after it, so an active dir
        # without a row was left by a process killed in between.
        known = {r[0] for r in sn._db().execute("SELECT dir FROM active_snapshots")}
        for e in os.scandir(sn.root):
            if is_active_name(e.name) and e.name not in known and e.is_dir(follow_symlinks=False):
                merged = Path(e.path) / "merged"
                if overlay.is_mounted(str(merged)):
                    overlay.umount(str(merged))
                shutil.rmtree(e.path, ignore_errors=True)
                notes.append(f"cleaned up a snapshot dir left by a killed pybuild: {e.path}")
            elif _orphan(e.name) and e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
                notes.append(f"cleaned up {e.path} left by a killed pybuild")
        # A snapshot dir is made and its row written in one write transaction, and a
        # removed one is renamed to trash in the transaction that deletes its row;
        # holding one ourselves, a dir without a row can only be a killed publish's,
        # and a trash dir with a row a killed remove's that never committed.
        with sn._txn() as conn:
            links = dict(conn.execute("SELECT chain_id, link FROM snapshots").fetchall())
            rows = {cid.split(":", 1)[-1]: link for cid, link in links.items()}
            for e in os.scandir(sn.root):
                if e.name.startswith(TRASH_PREFIX) and e.is_dir(follow_symlinks=False):
                    notes.append(_finish_removal(sn.root, Path(e.path), rows))
            for e in os.scandir(sn.root):
                if len(e.name) == 64 and e.name not in rows and e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
                    notes.append(f"cleaned up {e.path} left by a killed pybuild")
    return notes


def _finish_removal(root: Path, trash: Path, links: dict[str, str]) -> str:
    """Delete a trash dir, or move it back when its snapshot's row is still there."""
    hexid = trash.name[len(TRASH_PREFIX) :].split("-", 1)[0]
    dest = root / hexid
    if hexid in links and not dest.exists():
        os.rename(trash, dest)
        link = root / "l" / links[hexid]
        link.unlink(missing_ok=True)
        os.symlink(f"../{hexid}/diff", link)
        return f"restored {dest}: its removal was left by a killed pybuild"
    shutil.rmtree(trash, ignore_errors=True)
    return f"cleaned up {trash} left by a killed pybuild"


def _orphan(name: str) -> bool:
    """`tmp-<pid>-*` unpack dirs of dead processes."""
    parts = name.split("-")
    return (
        len(parts) == 3 and parts[0] == "tmp" and parts[1].isdigit() and not _alive(int(parts[1]))
    )
