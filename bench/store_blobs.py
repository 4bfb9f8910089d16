"""Blob store throughput and memory.

1. put() of a 500 MB file stream vs `cat F > O` (+ `sync O`, since put fsyncs) and
   `sha256sum F` (put does both: hash + write). Median of N runs, page cache warm.
2. Peak RSS of a process that put()s a 1 GB stream (must stay flat, < 100 MB).

Run: python3 bench/store_blobs.py [--mb 500] [--runs 3] [--rss-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)


RSS_CHILD = """
import os, sys, resource
sys.path.insert(0, {repo!r})
from store.blobs import BlobStore
class Gen:
    def __init__(self, n): self.left = n; self.buf = os.urandom(1 << 20)
    def read(self, k=-1):
        if self.left <= 0: return b""
        k = min(len(self.buf), self.left); self.left -= k
        return self.buf[:k]
d = BlobStore({root!r}).put(Gen({size}), "application/octet-stream")
print(d.size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rss-mb", type=int, default=1024)
    a = ap.parse_args()
    from store.blobs import BlobStore

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as td:
        tdp = Path(td)
        src = tdp / "src.bin"
        with open(src, "wb") as f:
            chunk = os.urandom(1 << 20)
            for i in range(a.mb):
                f.write(chunk[:-8] + i.to_bytes(8, "little"))
        sh(f"cat {src} > /dev/null")  # warm the page cache
        results: dict[str, list[float]] = {"put": [], "cat": [], "cat+sync": [], "sha256sum": []}
        for r in range(a.runs):
            store = BlobStore(tdp / f"store{r}")

            def put(store: BlobStore = store) -> None:
                with open(src, "rb") as f:
                    store.put(f, "application/octet-stream")

            results["put"].append(timed(put))
            results["cat"].append(timed(lambda: sh(f"cat {src} > {tdp}/out.bin")))
            results["cat+sync"].append(
                timed(lambda: sh(f"cat {src} > {tdp}/out2.bin && sync {tdp}/out2.bin"))
            )
            results["sha256sum"].append(timed(lambda: sh(f"sha256sum {src}")))
            for p in (tdp / f"store{r}", tdp / "out.bin", tdp / "out2.bin"):
                sh(f"rm -rf {p}")
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"blob put, {a.mb} MB stream, median of {a.runs} (shared, noisy 2-core machine):")
        for k, v in med.items():
            print(f"  {k:<10} {v:7.3f} s  {a.mb / v:7.1f} MB/s  put/{k} = {med['put'] / v:5.2f}x")
        src.unlink()
        code = RSS_CHILD.format(repo=str(REPO), root=str(tdp / "rss"), size=a.rss_mb << 20)
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        size, rss_kb = map(int, out.stdout.split())
        print(
            f"peak RSS putting a {size >> 20} MB stream: {rss_kb / 1024:.1f} MB "
            f"({time.perf_counter() - t:.2f} s incl. startup)"
        )
        base = subprocess.run(
            [sys.executable, "-c", code.replace(f"Gen({a.rss_mb << 20})", "Gen(0)")],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"  (same process putting 0 bytes: {int(base.stdout.split()[1]) / 1024:.1f} MB)")


if __name__ == "__main__":
    main()
