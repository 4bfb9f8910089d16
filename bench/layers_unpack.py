"""Unpack of a ~500 MB, 20,000-file layer against `tar -x` of the same tar (plain,
gzip and zstd), measured in the same run; median of N, destinations wiped between.

    python3 bench/layers_unpack.py [--runs N] [--keep]
Target: ratio <= 1.3."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layers_tree import TREE, make_tree, median_time

from store.layerdiff import DiffOptions, write_layer
from store.unpack import UnpackOptions, unpack

WORK = TREE.parent / "unpack"


def _fresh(name: str) -> Path:
    d = WORK / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def _timed(fn, name: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        dest = _fresh(name)
        times.append(median_time(lambda dest=dest: fn(dest), 1))
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    make_tree()
    WORK.mkdir(parents=True, exist_ok=True)
    blobs = {}
    for comp in (None, "gzip", "zstd"):
        blobs[comp] = WORK / f"layer.{comp}"
        with open(blobs[comp], "wb") as f:
            write_layer(TREE, f, DiffOptions(compression=comp))
    tar_flags = {None: [], "gzip": ["-z"], "zstd": ["-I", "zstd"]}
    opts = UnpackOptions()
    for comp in (None, "gzip", "zstd"):

        def anchor(dest: Path, comp=comp) -> None:
            subprocess.run(
                ["tar", *tar_flags[comp], "-xf", str(blobs[comp]), "-C", str(dest)], check=True
            )

        def ours(dest: Path, comp=comp) -> None:
            with open(blobs[comp], "rb") as f:
                unpack(f, dest, opts)

        anchor(_fresh("warm"))
        a = _timed(anchor, "tar", args.runs)
        o = _timed(ours, "ours", args.runs)
        label = comp or "plain"
        print(f"tar -x ({label:5s}) {a:7.2f} s | pybuild unpack {o:7.2f} s | ratio {o / a:5.2f}")
    shutil.rmtree(WORK, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(TREE.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
