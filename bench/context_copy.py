"""Bench: COPY . /app/ of a 5,000-file context into an empty root, against `cp -a`
(the anchor) measured in the same run. Usage: python3 bench/context_copy.py [N] [RUNS]"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from context_hash import make_context

from builder.context import SourceTree
from builder.copy import CopyOptions, copy_into


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    try:
        ctx = work / "ctx"
        total = make_context(ctx, n)
        ours, anchor = [], []
        for r in range(runs):
            dst = work / f"ours{r}"
            dst.mkdir()
            t = time.perf_counter()
            copy_into(SourceTree.context(ctx), ["."], "/app/", str(dst), CopyOptions())
            ours.append(time.perf_counter() - t)
            cp = work / f"cp{r}"
            cp.mkdir()
            t = time.perf_counter()
            subprocess.run(["cp", "-a", f"{ctx}/.", str(cp / "app")], check=True)
            anchor.append(time.perf_counter() - t)
            shutil.rmtree(dst)
            shutil.rmtree(cp)
        mo, ma = statistics.median(ours), statistics.median(anchor)
        print(f"context: {n} files, {total / 2**20:.1f} MiB; {runs} runs; medians:")
        print(f"  copy_into {mo:8.3f} s   x{mo / ma:.2f} of anchor")
        print(f"  cp -a     {ma:8.3f} s   x1.00")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
