"""Shared by the layers benchmarks: make (or reuse) the 20,000-file, ~500 MB tree
under /tmp, and time commands. `python3 bench/layers_tree.py --clean` deletes it."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TREE = Path(os.environ.get("LAYERS_BENCH_TREE", "/tmp/pybuild-layers-bench/tree"))
FILES = 20_000
TOTAL = 500 << 20


def make_tree(root: Path = TREE, files: int = FILES, total: int = TOTAL) -> Path:
    """~70% text-like files (words), ~30% random (binary-like); sizes vary; 200 dirs,
    some symlinks and hard links. Deterministic for a given seed."""
    marker = root / ".done"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(42)
    words = [
        bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        for _ in range(4000)
    ]
    text = b" ".join(rng.choice(words) for _ in range(2_000_000)) + b"\n"
    avg = total // files
    for i in range(files):
        d = root / f"d{i % 200:03d}" / f"s{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        size = max(1, int(rng.expovariate(1 / avg)))
        if i % 10 < 3:
            data = rng.randbytes(size)
        else:
            off = rng.randrange(0, len(text) - size - 1) if size < len(text) else 0
            data = text[off : off + size]
        (d / f"f{i:05d}").write_bytes(data)
        if i % 500 == 0:
            os.symlink(f"f{i:05d}", d / f"l{i:05d}")
            os.link(d / f"f{i:05d}", d / f"h{i:05d}")
    marker.touch()
    return root


def tree_bytes(root: Path = TREE) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def median_time(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sh(cmd: str) -> Callable[[], None]:
    return lambda: subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)


if __name__ == "__main__":
    if "--clean" in sys.argv:
        shutil.rmtree(TREE.parent, ignore_errors=True)
    else:
        t = time.perf_counter()
        make_tree()
        print(f"tree at {TREE}: {tree_bytes() / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s")
