"""Diff + compress of a 20,000-file ~500 MB tree against `tar -c | gzip` and
`tar -c | zstd -T0`, each measured in the same run (median of N, interleaved).

    python3 bench/layers_diff.py [--runs N] [--keep]
Prints median seconds and ratios (target: <= 1.2 for both)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layers_tree import TREE, make_tree, median_time, sh, tree_bytes

from store.layerdiff import DiffOptions, write_layer

OUT = TREE.parent / "out"


def ours(compression: str | None) -> None:
    with open(OUT / f"ours.{compression}", "wb") as f:
        write_layer(TREE, f, DiffOptions(compression=compression))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the tree in /tmp")
    args = ap.parse_args()
    make_tree()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"tree: {TREE} ({tree_bytes() / 1e6:.0f} MB, 20,000 files)")
    rows = [
        (
            "tar | gzip -6",
            sh(f"tar -C {TREE} -c . | gzip -6 > {OUT}/a.tar.gz"),
            "pybuild diff+gzip",
            lambda: ours("gzip"),
        ),
        (
            "tar | zstd -T0 -3",
            sh(f"tar -C {TREE} -c . | zstd -q -T0 -3 > {OUT}/a.tar.zst"),
            "pybuild diff+zstd",
            lambda: ours("zstd"),
        ),
        (
            "tar -c",
            sh(f"tar -C {TREE} -c . > {OUT}/a.tar"),
            "pybuild diff (none)",
            lambda: ours(None),
        ),
    ]
    for anchor_name, anchor, our_name, mine in rows:
        anchor()  # warm the page cache
        a = median_time(anchor, args.runs)
        o = median_time(mine, args.runs)
        print(f"{anchor_name:20s} {a:7.2f} s | {our_name:22s} {o:7.2f} s | ratio {o / a:5.2f}")
    for name in ("gzip", "zstd"):
        size = (OUT / f"ours.{name}").stat().st_size
        print(f"pybuild {name} blob: {size / 1e6:.0f} MB")
    shutil.rmtree(OUT, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(TREE.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
