"""`pybuild fsck [--repair]`: verify every blob, the index, the database and the
snapshots. Without --repair only safe fixes run (abandoned ingests, stale leases,
layer records of missing blobs); --repair also deletes corrupt/stray blobs and drops
index entries of broken images. Exit 0 when the store is clean, 1 otherwise."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Always repaired (nothing valid is lost): abandoned ingests in tmp/, stale "
        "leases, layer records of missing blobs, a broken oci-layout. Only with "
        "--repair: a store other users can read is made private again (root 0700, files "
        "0600), corrupt and stray blobs are deleted and index.json entries of "
        "broken images are dropped (their tags disappear). Exit 1 while problems remain."
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="also delete corrupt blobs and drop tags of broken images",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from store.fsck import fsck

    rep = fsck(store(), repair=args.repair)
    if args.json:
        print(
            json.dumps(
                {
                    "clean": rep.clean,
                    "errors": rep.errors,
                    "fixed": rep.fixed,
                    "notes": rep.notes,
                    "blobs_checked": rep.blobs_checked,
                }
            )
        )
        return 0 if rep.clean else 1
    for e in rep.errors:
        print(f"error: {e}")
    for f in rep.fixed:
        print(f"fixed: {f}")
    if not args.quiet:
        for n in rep.notes:
            print(f"note: {n}")
        print(
            f"{rep.blobs_checked} blobs checked: "
            + ("store is clean" if rep.clean else f"{len(rep.errors)} problems")
        )
    return 0 if rep.clean else 1
