"""Bench: the COPY source hash of a 5,000-file context, cold vs warm file-hash cache.

cold  = fresh store (every file opened and read; page cache warm, so this is the
        hashing cost, not the disk);
warm  = a new FileHashCache on the same store (stat-only: the no-op rebuild);
anchor= `tar -cf - . | sha256sum` over the same context, measured in the same run
        (what reading the whole context once costs).
Usage: python3 bench/context_hash.py [N_FILES] [RUNS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.context import SourceTree
from builder.copy import CopyOptions, source_hash
from builder.filehash import FileHashCache


def make_context(root: Path, n: int) -> int:
    total = 0
    for i in range(n):
        d = root / f"pkg{i % 50}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        size = 200 + (i * 7919) % 16000 if i % 500 else 1 << 20  # ~8 KiB avg, some 1 MiB
        (d / f"file{i}.py").write_bytes(os.urandom(size))
        os.utime(d / f"file{i}.py", (1_600_000_000, 1_600_000_000))  # not racily clean
        total += size
    return total


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = Path(tempfile.mkdtemp(prefix="bench-ctx-"))
    try:
        ctx = work / "ctx"
        total = make_context(ctx, n)
        tree = SourceTree.context(ctx)
        cold, warm, mem, anchor = [], [], [], []
        digest = None
        for r in range(runs):
            store = work / f"store{r}"

            def run_cold(store: Path = store) -> None:
                nonlocal digest
                with FileHashCache(store) as c:
                    digest = source_hash(tree, ["."], CopyOptions(), c).digest

            cold.append(timed(run_cold))

            def run_warm(store: Path = store) -> None:
                with FileHashCache(store) as c:
                    assert source_hash(tree, ["."], CopyOptions(), c).digest == digest
                    assert c.opens == 0, c.opens

            warm.append(timed(run_warm))
            c = FileHashCache()
            source_hash(tree, ["."], CopyOptions(), c)
            mem.append(timed(lambda c=c: source_hash(tree, ["."], CopyOptions(), c)))
            anchor.append(
                timed(
                    lambda: subprocess.run(
                        f"tar -cf - -C {ctx} . | sha256sum",
                        shell=True,
                        check=True,
                        stdout=subprocess.DEVNULL,
                    )
                )
            )
        med = {
            k: statistics.median(v)
            for k, v in (("cold", cold), ("warm", warm), ("warm-mem", mem), ("anchor", anchor))
        }
        print(f"context: {n} files, {total / 2**20:.1f} MiB; {runs} runs; medians:")
        for k, v in med.items():
            print(f"  {k:9s} {v:8.3f} s   x{v / med['anchor']:.2f} of anchor (tar|sha256sum)")
        print(f"  cold/warm speedup: x{med['cold'] / med['warm']:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
