"""Cache-sharing benchmark: a second CI machine building with `--cache-from`
vs the cold build, on the engine benchmark's busybox scenario (bench/build.py: 200
generated source files and a 50 MB file made then deleted; its Debian scenario needs
debootstrap and is not run here).

Per rep, pybuild through its CLI, each store fresh with only busybox:
- cold: machine A builds with an empty cache (no export);
- cold+export: machine A builds with `--cache-to type=registry,ref=...,mode=max`;
- import: machine B (empty store) builds with `--cache-from` that cache;
- import-inline: machine C builds with `--cache-from` an image pushed with
  `--cache-to type=inline`.
BuildKit (a private dockerd from Debian's docker.io, unless --no-buildkit): cold with
`BUILDKIT_INLINE_CACHE=1` and push, then builder cache and images removed, then
`--cache-from` the pushed image (the remote-cache import docker's built-in BuildKit
supports; registry-type export needs buildx's container driver and a network pull).
The registry is Debian's docker-registry on loopback. Prints medians and the ratios
import/cold (target < 0.25) and pybuild import / BuildKit import (target < 1.0).
Run as root: `python3 bench/cache_share.py [--reps 3] [--no-buildkit]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _engine_bench():
    spec = importlib.util.spec_from_file_location("bench_build", REPO / "bench" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


eb = _engine_bench()


def fresh_store(root: Path, rootfs: Path) -> None:
    from tests.fixtures.build import BusyboxImage

    shutil.rmtree(root, ignore_errors=True)
    os.environ["SOURCE_DATE_EPOCH"] = eb.EPOCH
    try:
        BusyboxImage(rootfs).load(root)
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]


def pybuild(root: Path, ctx: Path, *extra: str, tag: str = "bench:1") -> float:
    env = {**os.environ, "PYBUILD_ROOT": str(root), "SOURCE_DATE_EPOCH": eb.EPOCH}
    return eb.run_timed(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            tag,
            *extra,
            str(ctx),
        ],
        env,
        cwd=REPO,
    )[0]


def buildkit_import(bk, ctx: Path, ref: str) -> tuple[float, float, int]:
    """(cold seconds, import seconds, CACHED steps in the import)."""
    bk._docker("rmi", "-f", "bench:1", ref, check=False)
    bk._docker("builder", "prune", "-af")
    cold = eb.run_timed(
        [
            "/usr/bin/docker",
            "build",
            "--network=none",
            "-q",
            "--build-arg",
            "BUILDKIT_INLINE_CACHE=1",
            "-t",
            ref,
            str(ctx),
        ],
        bk.env,
    )[0]
    bk._docker("push", ref)
    bk._docker("rmi", "-f", "bench:1", ref, check=False)
    bk._docker("builder", "prune", "-af")
    t0 = time.monotonic()
    p = subprocess.run(
        [
            "/usr/bin/docker",
            "build",
            "--network=none",
            "--progress=plain",
            "--cache-from",
            ref,
            "-t",
            "bench:1",
            str(ctx),
        ],
        env=bk.env,
        capture_output=True,
        text=True,
    )
    secs = time.monotonic() - t0
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return cold, secs, p.stderr.count(" CACHED")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-buildkit", action="store_true")
    a = ap.parse_args()
    from tests.fixtures.base_image import build_busybox_rootfs_tar
    from tests.fixtures.registry import RegistryServer

    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-cs-"))
    reg = RegistryServer(work / "registry").start()
    bk = None
    res: dict[str, list[float]] = {
        k: [] for k in ("cold", "cold+export", "import", "import-inline", "bk-cold", "bk-import")
    }
    bk_cached = 0
    try:
        rootfs = build_busybox_rootfs_tar(work / "rootfs.tar")
        ctx = eb.make_context(work / "ctx")
        for i in range(a.reps):
            cache = f"{reg.host}/bench/cache:{i}"
            img = f"{reg.host}/bench/inline:{i}"
            for name in ("a", "b", "c", "d"):
                fresh_store(work / name, rootfs)
            res["cold"].append(pybuild(work / "a", ctx))
            res["cold+export"].append(
                pybuild(work / "b", ctx, "--cache-to", f"type=registry,ref={cache},mode=max")
            )
            pybuild(work / "a", ctx, "--push", "--cache-to", "type=inline", tag=img)
            fresh_store(work / "b", rootfs)
            res["import"].append(pybuild(work / "c", ctx, "--cache-from", cache))
            res["import-inline"].append(pybuild(work / "d", ctx, "--cache-from", img))
        if not a.no_buildkit:
            from store import archive
            from store.layout import open_store

            tar = work / "busybox.docker.tar"
            st = open_store(work / "b")
            archive.save(st, ["busybox:latest"], tar, fmt="docker")
            st.close()
            bk = eb.BuildKit(work, tar)
            for i in range(a.reps):
                cold, imp, n = buildkit_import(bk, ctx, f"{reg.host}/bench/bk:{i}")
                res["bk-cold"].append(cold)
                res["bk-import"].append(imp)
                bk_cached = n
    finally:
        if bk is not None:
            bk.close()
        reg.stop()
        for name in ("a", "b", "c", "d"):
            eb._unmount_under(work / name)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items() if v}
    print(
        f"median seconds over {a.reps} runs (busybox scenario of bench/build.py; "
        "machine shared and noisy):"
    )
    for k, v in med.items():
        print(f"  {k:<14} {v:8.3f}")
    print(
        f"pybuild import/cold: {med['import'] / med['cold']:.2f}x  "
        f"inline import/cold: {med['import-inline'] / med['cold']:.2f}x  (target < 0.25x)"
    )
    if "bk-import" in med:
        print(
            f"BuildKit import/cold: {med['bk-import'] / med['bk-cold']:.2f}x "
            f"({bk_cached} CACHED vertices)"
        )
        print(
            f"pybuild import / BuildKit import: {med['import'] / med['bk-import']:.2f}x  "
            f"inline: {med['import-inline'] / med['bk-import']:.2f}x  (target < 1.0x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
