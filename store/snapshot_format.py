"""Which overlay xattr form a store's snapshots use, recorded in meta.db.

Snapshots made by real root mark opaque directories with `trusted.overlay.opaque`;
those made rootless (uid 0 of a user namespace) with `user.overlay.opaque`, for
overlay's `userxattr` option. A rootless overlay ignores trusted.* xattrs, so it would
mount a root-made snapshot with opaque directories silently see-through: a rootless
pybuild refuses such a store instead. Real root can mount either form, so it keeps a
store's recorded form. A store with no snapshots takes the caller's form."""

from __future__ import annotations

from typing import Any

from store import meta
from store.errors import StoreError
from store.whiteout import ROOT_FORMAT, OverlayFormat, default_format

DDL = """
CREATE TABLE IF NOT EXISTS snapshot_format (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    xattr_prefix TEXT NOT NULL
);
"""


class SnapshotFormatMismatch(StoreError):
    """A rootless pybuild opened a store whose snapshots real root made."""


def store_format(conn: Any, root: str) -> OverlayFormat:
    """The form to use for the store whose meta.db is `conn` (recording it if new)."""
    meta.ensure_schema(conn, "store.snapshot_format", DDL)
    want = default_format()
    row = conn.execute("SELECT xattr_prefix FROM snapshot_format WHERE id=1").fetchone()
    if row is not None and (row[0] == want.xattr_prefix or not want.userxattr):
        return OverlayFormat(row[0])  # the common case: no write transaction
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT xattr_prefix FROM snapshot_format WHERE id=1").fetchone()
        has_snapshots = conn.execute("SELECT 1 FROM snapshots LIMIT 1").fetchone() is not None
        if row is None:
            # stores from before the record: only real root could make snapshots then
            have = ROOT_FORMAT if has_snapshots else want
            conn.execute("INSERT INTO snapshot_format VALUES (1, ?)", (have.xattr_prefix,))
        else:
            have = OverlayFormat(row[0])
        if have != want and want.userxattr and not has_snapshots:
            conn.execute(
                "UPDATE snapshot_format SET xattr_prefix=? WHERE id=1", (want.xattr_prefix,)
            )
            have = want
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    if have != want and want.userxattr:
        raise SnapshotFormatMismatch(
            f"store {root}: its snapshots were made by root ({have.opaque_xattr} xattrs), "
            "which a rootless pybuild cannot mount: use another PYBUILD_ROOT, or run "
            "`pybuild prune --all` as root first"
        )
    return have
