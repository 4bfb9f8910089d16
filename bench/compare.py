"""This checkout against an earlier revision, in one command: did a change make pybuild
slower? Both are pip-installed into venvs of their own (as bench/build.py installs
one) and take turns inside every repetition, so load on the host hits both alike.

Measured, medians of --reps:
- startup: `pybuild --version`, 20 runs a rep;
- build: the busybox scenario of bench/build.py (cold, noop, edit);
- push and pull: a 5-layer image of --mb MB against a fresh loopback docker-registry
  each time (bench/registry_push_pull.py's image), pull into an empty store.

Prints each median, the ratio head/base (target <= 1.05 for builds, push and pull;
<= 1.0 for startup) and the load average. Run as root:

    python3 bench/compare.py --base REV [--reps 3] [--mb 50] [--settle 65]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.build import Pybuild, edit, make_context, run_timed, settle  # noqa: E402
from bench.registry_push_pull import make_layers  # noqa: E402
from tests.fixtures.base_image import build_busybox_rootfs_tar  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402


def install(src: Path, venv: Path) -> list[str]:
    """A venv with `src` pip-installed (not editable); returns its pybuild argv."""
    if not (venv / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(src)], check=True)
    else:
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(src),
            ],
            check=True,
        )
    return [str(venv / "bin" / "pybuild")]


def checkout(rev: str, where: Path) -> Path:
    """A detached worktree of `rev` (replaced if it exists)."""
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], capture_output=True
    )
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(where), rev], check=True
    )
    return where


def startup(argv: list[str], n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([*argv, "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def seed_store(root: Path, layers: list) -> None:
    """A store holding the benchmark image as `bench:1` (the store format is the same
    for both revisions, so this checkout writes it)."""
    import io
    import json

    from store.layout import open_store
    from store.oci.mediatype import OCI_CONFIG, OCI_MANIFEST
    from tests.fixtures.registry_images import Blob

    diff_ids = [d for _, _, d in layers]
    config = Blob(
        OCI_CONFIG,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }
        ).encode(),
    )
    manifest = Blob(
        OCI_MANIFEST,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.desc.to_json(),
                "layers": [d.to_json() for _, d, _ in layers],
            }
        ).encode(),
    )
    st = open_store(root)
    for p, d, _ in layers:
        with open(p, "rb") as f:
            st.blobs.put(f, d.media_type, expected=d.digest, size=d.size)
    for b in (config, manifest):
        st.blobs.put(io.BytesIO(b.data), b.media_type)
    st.refs.set("bench:1", manifest.desc)
    st.close()


def push_pull(argv: list[str], work: Path, store: Path, tag: str) -> tuple[float, float]:
    srv = RegistryServer(work / f"reg-{tag}").start()
    try:
        ref = f"{srv.host}/bench/{tag}:1"
        env = dict(os.environ, PYBUILD_ROOT=str(store))
        push, _, _ = run_timed([*argv, "push", "-q", "bench:1", ref], env, cwd=work)
        dest = work / f"pull-{tag}"
        pull, _, _ = run_timed(
            [*argv, "pull", "-q", ref], dict(env, PYBUILD_ROOT=str(dest)), cwd=work
        )
        shutil.rmtree(dest, ignore_errors=True)
        return push, pull
    finally:
        srv.stop()
        shutil.rmtree(srv.workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the revision to compare against")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--settle", type=float, default=65)
    a = ap.parse_args()
    load0 = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="pybuild-compare-"))
    base_src = checkout(a.base, Path("/tmp/pybuild-compare-base"))
    argvs = {
        "head": install(REPO, Path("/tmp/pybuild-compare-venv-head")),
        "base": install(base_src, Path("/tmp/pybuild-compare-venv-base")),
    }
    tools: dict[str, Pybuild] = {}
    res: dict[str, dict[str, list[float]]] = {n: {} for n in argvs}
    try:
        rootfs = build_busybox_rootfs_tar(work / "rootfs.tar")
        ctx = make_context(work / "ctx")
        layers = make_layers(work, a.mb)
        stores = {}
        for name, argv in argvs.items():
            tools[name] = Pybuild(work / name, rootfs, argv)
            (work / name).mkdir()
            stores[name] = work / name / "push-store"
            seed_store(stores[name], layers)
        settle(a.settle)
        for i in range(a.reps):
            order = list(argvs) if i % 2 == 0 else list(reversed(argvs))
            for name in order:
                r, t = res[name], tools[name]
                r.setdefault("startup", []).append(startup(argvs[name]))
                t.reset()
                for sc in ("cold", "noop", "edit"):
                    if sc == "edit":
                        edit(ctx, i * 2 + order.index(name))
                    r.setdefault(sc, []).append(t.build(ctx))
                push, pull = push_pull(argvs[name], work / name, stores[name], f"{name}{i}")
                r.setdefault("push", []).append(push)
                r.setdefault("pull", []).append(pull)
                print(
                    f"  rep {i} {name}: "
                    + "  ".join(f"{k} {v[-1]:.3f}" for k, v in r.items())
                    + f"  load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    finally:
        for t in tools.values():
            t.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average before/after: {load0} / {os.getloadavg()}")
    print(f"median seconds over {a.reps} reps; head = this checkout, base = {a.base}")
    print(f"{'':<8} {'head':>9} {'base':>9} {'head/base':>10}")
    for k in ("startup", "cold", "noop", "edit", "push", "pull"):
        h, b = statistics.median(res["head"][k]), statistics.median(res["base"][k])
        target = 1.0 if k == "startup" else 1.05
        print(f"{k:<8} {h:>9.3f} {b:>9.3f} {h / b:>9.2f}x  (target <= {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
