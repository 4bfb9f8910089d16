"""Peak RSS of layer diff (gzip, zstd) and unpack for a 1 GB layer, each in a fresh
child process (ru_maxrss). Target: under 100 MB, flat in the layer size.

    python3 bench/layers_memory.py [--gb 1.0]"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/pybuild-layers-mem")

CHILD = r"""
import resource, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from store.layerdiff import DiffOptions, write_layer
from store.unpack import unpack
mode, src, dst = sys.argv[1:4]
t = time.perf_counter()
if mode == "unpack":
    with open(src, "rb") as f:
        unpack(f, Path(dst))
else:
    with open(dst, "wb") as f:
        write_layer(Path(src), f, DiffOptions(compression=mode))
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_tree(root: Path, total: int) -> None:
    root.mkdir(parents=True)
    block = os.urandom(1 << 20)
    big = total * 3 // 4
    for i in range(3):  # three big files: a 1 GB layer must stream, not buffer
        with open(root / f"big{i}", "wb") as f:
            for _ in range(big // 3 >> 20):
                f.write(block)
    small = (total - big) // 5000
    for i in range(5000):
        d = root / f"d{i % 50}"
        d.mkdir(exist_ok=True)
        (d / f"f{i}").write_bytes(block[i % 1000 : i % 1000 + small])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    tree = WORK / "tree"
    make_tree(tree, int(args.gb * (1 << 30)))
    code = CHILD.format(repo=str(REPO))
    probe = (
        f"import resource,sys;sys.path.insert(0,{str(REPO)!r});"
        "import store.layerdiff,store.unpack;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    base = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    print(f"layer: {args.gb:.1f} GB; baseline interpreter + imports: {int(base[0]) / 1024:.0f} MB")
    runs = [
        ("gzip", tree, WORK / "l.gz"),
        ("zstd", tree, WORK / "l.zst"),
        ("unpack", WORK / "l.gz", WORK / "out-gz"),
        ("unpack", WORK / "l.zst", WORK / "out-zst"),
    ]
    for mode, src, dst in runs:
        if mode == "unpack":
            dst.mkdir()
        out = subprocess.run(
            [sys.executable, "-c", code, mode, str(src), str(dst)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        label = f"{mode} {src.name}" if mode == "unpack" else f"diff+{mode}"
        print(f"{label:18s} {float(out[0]):6.1f} s   peak RSS {int(out[1]) / 1024:6.1f} MB")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
