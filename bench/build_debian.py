"""Build benchmark, Debian scenario: pybuild vs BuildKit (a private
dockerd) and `buildah bud --layers`, over a debootstrap-made `debian:bookworm`
(bench/debian_base.py). The Dockerfile's first RUN copies 20,000 generated files, then
a 5,000-file context is COPYed and a RUN reads it.

Engine, each the median of --reps runs, the tools taking turns per rep:
cold (empty build cache, base image present and unpacked), noop (same build again),
edit (one source file changed). Targets: pybuild <= 1.0x BuildKit and <= 0.5x buildah;
pybuild peak RSS < 200 MB.
Cache sharing (unless --no-cache-share): machine A (fresh store) builds with
`--cache-to type=registry,ref=...,mode=max` to a loopback docker-registry; machine B
(fresh store, base only) builds with `--cache-from`. BuildKit: docker's built-in
BuildKit cannot export registry-type cache (needs buildx's container driver), so, as
bench/cache_share.py does, it builds with BUILDKIT_INLINE_CACHE=1, pushes, prunes and
rebuilds with `--cache-from` the image. Targets: import < 0.25x pybuild's cold, and
< BuildKit's import.

The timed runs and classes come from bench/build.py (imported, not copied).
Run as root: `python3 bench/build_debian.py [--reps 3] [--no-buildkit] [--no-buildah]
[--no-cache-share]`. First run needs Debian's mirror for debootstrap (cached after).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import debian_base as db  # noqa: E402


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


eb = _load("build")

GEN = (
    "mkdir -p /tmp/gen && cd /tmp/gen && for d in $(seq 0 99); do mkdir $d && "
    'for f in $(seq 0 199); do echo "file $d/$f" > $d/$f; done; done && '
    "cp -a /tmp/gen /opt/data && rm -rf /tmp/gen && find /opt/data -type f | wc -l "
    "> /opt/data.count"
)
DOCKERFILE = f"""\
FROM {db.NAME}
RUN {GEN}
WORKDIR /app
COPY app/ /app/
RUN find /app -type f | wc -l > /count
CMD ["bash"]
"""
EDITED = Path("app/src/pkg07/mod_017.py")


def make_context(d: Path) -> Path:
    """5,000 small source files in 50 packages, and the Dockerfile."""
    for p in range(50):
        pkg = d / "app" / "src" / f"pkg{p:02d}"
        pkg.mkdir(parents=True)
        for i in range(100):
            (pkg / f"mod_{i:03d}.py").write_text(
                "".join(f"def f{i}_{j}(x):\n    return x * {j} + {p}\n\n" for j in range(5))
            )
    (d / "Dockerfile").write_text(DOCKERFILE)
    return d


def edit(ctx: Path, n: int) -> None:
    p = ctx / EDITED
    p.write_text(p.read_text() + f"# edit {n}\n")


class Pybuild(eb.Pybuild):
    def reset(self) -> None:
        db.import_base(self.next_root(), self.tar)


class Buildah(eb.Buildah):
    base = db.NAME


def cache_share(
    work: Path,
    tar: Path,
    docker_tar: Path,
    ctx: Path,
    reps: int,
    bk,
    rss: list[int],
    argv: list[str],  # type: ignore[no-untyped-def]
) -> dict[str, float]:
    """Medians of pybuild cold+export and import, and BuildKit's inline cold and import."""
    from tests.fixtures.registry import RegistryServer

    cs = _load("cache_share")
    reg = RegistryServer(work / "registry").start()
    res: dict[str, list[float]] = {
        "pb-cold": [],
        "pb-cold+export": [],
        "pb-import": [],
        "bk-cold-inline": [],
        "bk-import": [],
    }
    try:
        for i in range(reps):
            a, b, c = work / "cs-a", work / "cs-b", work / "cs-c"
            for r in (a, b, c):
                eb.unmount_under(r)
                shutil.rmtree(r, ignore_errors=True)
                db.import_base(r, tar)
            cache = f"{reg.host}/bench/debian-cache:{i}"
            for root, key, extra in (
                (c, "pb-cold", ()),
                (a, "pb-cold+export", ("--cache-to", f"type=registry,ref={cache},mode=max")),
                (b, "pb-import", ("--cache-from", cache)),
            ):
                env = {**os.environ, "PYBUILD_ROOT": str(root)}
                secs, peak, _ = eb.run_timed(
                    [*argv, "build", "-q", "--network", "none", "-t", "bench:1", *extra, str(ctx)],
                    env,
                    cwd=REPO,
                )
                res[key].append(secs)
                rss.append(peak)
                print(f"  rep {i} {key:<15} {secs:8.2f}s load {os.getloadavg()[0]:.2f}", flush=True)
            if bk is not None:
                cold, imp, n = cs.buildkit_import(bk, ctx, f"{reg.host}/bench/debian-bk:{i}")
                res["bk-cold-inline"].append(cold)
                res["bk-import"].append(imp)
                print(
                    f"  rep {i} buildkit inline cold {cold:.2f}s import {imp:.2f}s ({n} CACHED)",
                    flush=True,
                )
    finally:
        reg.stop()
        for r in (work / "cs-a", work / "cs-b", work / "cs-c"):
            eb.unmount_under(r)
            shutil.rmtree(r, ignore_errors=True)
    return {k: statistics.median(v) for k, v in res.items() if v}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    eb.add_common_args(ap)
    ap.add_argument("--no-cache-share", action="store_true")
    ap.add_argument("--no-engine", action="store_true", help="only the cache-sharing part")
    a = ap.parse_args()
    from store import archive
    from store.layout import open_store

    tar = db.rootfs_tar()
    print(
        f"base: {tar} ({tar.stat().st_size / 1e6:.0f} MB, /usr holds "
        f"{db.count_files(db.debootstrap_root())} files)",
        flush=True,
    )
    load0 = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-deb-"))
    tools: list = []
    bk = None
    cache: dict[str, float] = {}
    rss: list[int] = []
    try:
        argv = eb.pybuild_argv(a.python_m)
        pb = Pybuild(work, tar, argv)
        pb.reset()
        docker_tar = work / "debian.docker.tar"
        st = open_store(pb.root)
        archive.save(st, [db.NAME], docker_tar, fmt="docker")
        st.close()
        ctx = make_context(work / "ctx")
        tools.append(pb)
        if not a.no_buildkit:
            bk = eb.BuildKit(work, docker_tar, base=db.NAME)
            tools.append(bk)
        if not a.no_buildah:
            tools.append(Buildah(work, docker_tar))
        results, cpus = ({}, {}) if a.no_engine else eb.measure(tools, ctx, a.reps, a.settle, edit)
        rss.append(pb.rss)
        if not a.no_cache_share:
            pb.close()
            cache = cache_share(work, tar, docker_tar, ctx, a.reps, bk, rss, argv)
    finally:
        for t in tools:
            t.close()
        eb.unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average before/after: {load0} / {os.getloadavg()}")
    print(
        f"median seconds over {a.reps} runs (debian:bookworm, RUN copying 20,000 files, "
        "COPY of a 5,000-file context; machine shared):"
    )
    if a.no_engine:
        results = {}
    eb.print_results(results, cpus)
    print(f"pybuild peak RSS: {max(rss) / 1e6:.0f} MB (target < 200 MB)")
    if cache:
        print("cache sharing, median seconds:")
        for k, v in cache.items():
            print(f"  {k:<15} {v:8.3f}")
        print(
            f"pybuild import / pybuild cold (same window): "
            f"{cache['pb-import'] / cache['pb-cold']:.2f}x  (target < 0.25x)"
        )
        if "bk-import" in cache:
            print(
                f"pybuild import / BuildKit inline-cache import: "
                f"{cache['pb-import'] / cache['bk-import']:.2f}x  (target < 1.0x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
