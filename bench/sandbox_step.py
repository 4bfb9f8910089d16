"""Bench: the per-step overhead of `RUN true` in pybuild's sandbox.

Each step = mount a fresh overlay over a busybox rootfs, run `true` in the sandbox
(namespaces, pivot_root, /proc /dev /sys, caps, seccomp), unmount. Median of N steps,
for network none, network default (slirp4netns) and default + cgroup limits.
Anchors (`--anchors`, needs a running dockerd with BuildKit and/or buildah+runc and
the registry from /work/shared/tools/anchors-up.sh): per-step overhead of `RUN true`
= (build of FROM + N x RUN true) - (build of FROM alone), divided by N, --no-cache.
Usage: python3 bench/sandbox_step.py [N] [--anchors]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.sandbox import SandboxSpec, run  # noqa: E402
from tests.fixtures.base_image import build_busybox_rootfs_tar  # noqa: E402

BASE = "127.0.0.1:5000/busybox:latest"


def step(lower: Path, tmp: Path, i: int, **kw: object) -> float:
    d = tmp / f"s{i}"
    upper, work, merged = d / "u", d / "w", d / "m"
    t0 = time.perf_counter()
    for p in (upper, work, merged):
        p.mkdir(parents=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)], check=True)
    try:
        res = run(SandboxSpec(rootfs=merged, argv=("true",), **kw))  # type: ignore[arg-type]
        assert res.exit_code == 0
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    return time.perf_counter() - t0


def step_inside(lower: Path, tmp: Path, i: int, **kw: object) -> float:
    """The overlay mounted by the sandbox in its own namespace (no host mount/umount)."""
    from builder.sandbox import Overlay

    d = tmp / f"i{i}"
    upper, work, merged = d / "u", d / "w", d / "m"
    t0 = time.perf_counter()
    for p in (upper, work, merged):
        p.mkdir(parents=True)
    res = run(SandboxSpec(rootfs=merged, argv=("true",),
                          overlay=Overlay((lower,), upper, work), **kw))  # type: ignore[arg-type]
    assert res.exit_code == 0
    return time.perf_counter() - t0


def anchor(cmd: list[str], n: int, tmp: Path) -> float | None:
    if shutil.which(cmd[0]) is None:
        return None
    times = {}
    for steps in (0, n):
        ctx = tmp / f"ctx-{cmd[0]}-{steps}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM {BASE}\n" + "".join(
            f"RUN true # {i} {time.time_ns()}\n" for i in range(steps)))
        t0 = time.perf_counter()
        r = subprocess.run([*cmd, str(ctx)], capture_output=True)
        if r.returncode != 0:
            print(f"anchor {cmd[0]} failed: {r.stderr.decode()[-300:]}")
            return None
        times[steps] = time.perf_counter() - t0
    return (times[n] - times[0]) / n


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "20"))
    with tempfile.TemporaryDirectory(prefix="pybuild-bench-") as t:
        tmp = Path(t)
        tar = build_busybox_rootfs_tar(tmp / "rootfs.tar")
        lower = tmp / "lower"
        with tarfile.open(tar) as tf:
            tf.extractall(lower, numeric_owner=True)
        step(lower, tmp, 999, network="none")  # warm: imports, seccomp compile
        rows = {}
        for name, fn, kw in (
            ("none", step, {"network": "none"}),
            ("none, overlay in sandbox", step_inside, {"network": "none"}),
            ("host", step, {"network": "host"}),
            ("default (slirp4netns)", step, {"network": "default"}),
            ("default + memory/pids/cpus", step,
             {"network": "default", "memory": 256 << 20, "pids_limit": 512, "cpus": 1.0}),
        ):
            rows[name] = statistics.median(fn(lower, tmp, i + 1000 * len(rows), **kw)
                                           for i in range(n))
        for name, sec in rows.items():
            print(f"pybuild sandbox RUN true [{name}]: median {sec * 1000:.1f} ms over {n}")
        if "--anchors" in sys.argv:
            bk = anchor(["docker", "build", "-q", "--no-cache"], n, tmp)
            bh = anchor(["buildah", "bud", "-q", "--runtime", "/usr/sbin/runc", "--layers=false",
                         "--tls-verify=false"], n, tmp)
            ref = rows["default (slirp4netns)"]
            for label, val, target in (("BuildKit", bk, 1.0), ("buildah", bh, 0.5)):
                if val is None:
                    print(f"{label}: not available")
                else:
                    print(f"{label} per-step RUN true: {val * 1000:.1f} ms; pybuild/{label} = "
                          f"{ref / val:.2f}x (target <= {target}x)")


if __name__ == "__main__":
    main()
