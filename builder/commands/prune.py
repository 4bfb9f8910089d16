"""`pybuild prune [--all]`: remove blobs and snapshots no image, cache entry or
running build needs. `--all` also drops untagged images and build-cache roots."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="also remove untagged images and the build cache's layers",
    )
    p.add_argument("--dry-run", action="store_true", help="only report what would go")
    p.add_argument("-f", "--force", action="store_true", help="accepted for docker compatibility")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import human_size, store
    from store.gc import gc

    rep = gc(store(), all=args.all, dry_run=args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    for dg in rep.removed_blobs:
        print(f"{verb}: {dg}")
    for key in rep.removed_snapshots:
        print(f"{verb} snapshot: {key}")
    for n in rep.notes:
        print(f"note: {n}")
    print(
        f"Total reclaimed space: {human_size(rep.freed_bytes)} "
        f"({len(rep.removed_blobs)} blobs, {len(rep.removed_snapshots)} snapshots"
        + (f", {rep.removed_roots} untagged images" if rep.removed_roots else "")
        + ")"
    )
    return 0
