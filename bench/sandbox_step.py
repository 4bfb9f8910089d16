"""Bench: the per-step overhead of `RUN true` in pybuild's sandbox.

Each step = mount a fresh overlay over a busybox rootfs, run `true` in the sandbox
(namespaces, pivot_root, /proc /dev /sys, caps, seccomp), unmount. Median of N steps,
for network none, network default (slirp4netns) and default + cgroup limits.
With `--anchors`, the whole-build per-step overhead of `RUN true` = (build of FROM +
N x RUN true) - (build of FROM alone), divided by N, --no-cache, --network none, for
`pybuild build`, `buildah bud` (runc, --layers) and, when dockerd answers (DOCKER_HOST
is honoured), BuildKit; all from the same busybox image (imported, then saved as OCI
and docker archives; no registry needed).
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

from builder.sandbox import SandboxSpec, run
from tests.fixtures.base_image import build_busybox_rootfs_tar


def _overlay_dirs(d: Path) -> tuple[Path, Path, Path]:
    """Fresh upper, work and merged directories under `d`."""
    upper, work, merged = d / "u", d / "w", d / "m"
    for p in (upper, work, merged):
        p.mkdir(parents=True)
    return upper, work, merged


def step(lower: Path, tmp: Path, i: int, **kw: object) -> float:
    t0 = time.perf_counter()
    upper, work, merged = _overlay_dirs(tmp / f"s{i}")
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            str(merged),
        ],
        check=True,
    )
    try:
        res = run(SandboxSpec(rootfs=merged, argv=("true",), **kw))  # type: ignore[arg-type]
        assert res.exit_code == 0
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    return time.perf_counter() - t0


def step_inside(lower: Path, tmp: Path, i: int, **kw: object) -> float:
    """The overlay mounted by the sandbox in its own namespace (no host mount/umount)."""
    from builder.sandbox import Overlay

    t0 = time.perf_counter()
    upper, work, merged = _overlay_dirs(tmp / f"i{i}")
    res = run(
        SandboxSpec(rootfs=merged, argv=("true",), overlay=Overlay((lower,), upper, work), **kw)
    )  # type: ignore[arg-type]
    assert res.exit_code == 0
    return time.perf_counter() - t0


def per_step(
    build: list[str], base: str, n: int, tmp: Path, env: dict | None = None, reps: int = 3
) -> float | None:
    """median(FROM + n x RUN true) - median(FROM alone), over n; None if it fails.
    Builds alternate, `reps` of each, so load swings hit both sides alike."""
    if shutil.which(build[0]) is None:
        return None
    times: dict[int, list[float]] = {0: [], n: []}
    for _ in range(reps):
        for steps in (0, n):
            ctx = tmp / f"ctx-{Path(build[0]).name}-{steps}-{time.time_ns()}"
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(
                f"FROM {base}\n"
                + "".join(f"RUN true # {i} {time.time_ns()}\n" for i in range(steps))
            )
            t0 = time.perf_counter()
            r = subprocess.run([*build, str(ctx)], capture_output=True, env=env)
            if r.returncode != 0:
                print(f"{build[0]} failed: {r.stderr.decode()[-300:]}")
                return None
            times[steps].append(time.perf_counter() - t0)
    return (statistics.median(times[n]) - statistics.median(times[0])) / n


def umount_under(tmp: Path) -> None:
    targets = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(tmp) + "/")
    ]
    for t in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", t], check=False)


def engine_and_anchors(tar: Path, n: int, tmp: Path) -> dict[str, float | None]:
    import os

    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYBUILD_ROOT": str(tmp / "store"), "PYTHONPATH": str(repo)}
    pyb = [sys.executable, "-m", "builder.cli"]
    subprocess.run([*pyb, "import", str(tar), "bench-bb"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*pyb, "save", "bench-bb", "-o", str(tmp / "bb-oci.tar"), "--format", "oci"],
        env=env,
        check=True,
    )
    subprocess.run(
        [*pyb, "save", "bench-bb", "-o", str(tmp / "bb-docker.tar")], env=env, check=True
    )
    out: dict[str, float | None] = {}
    out["pybuild build"] = per_step(
        [*pyb, "build", "-q", "--no-cache", "--network", "none"], "bench-bb", n, tmp, env
    )
    bh = [
        "buildah",
        "--root",
        str(tmp / "bh-root"),
        "--runroot",
        str(tmp / "bh-run"),
        "bud",
        "-q",
        "--runtime",
        "/usr/sbin/runc",
        "--layers=true",
        "--network",
        "none",
    ]
    try:
        out["buildah"] = per_step(bh, f"oci-archive:{tmp / 'bb-oci.tar'}", n, tmp)
    finally:
        if shutil.which("buildah"):
            subprocess.run([*bh[:5], "rm", "--all"], capture_output=True)
        umount_under(tmp)  # buildah leaves its storage mounted
    # Debian's docker.io client has BuildKit built in (a newer client wants buildx).
    docker = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
    docker_ok = (
        shutil.which(docker)
        and subprocess.run([docker, "info"], capture_output=True).returncode == 0
    )
    if docker_ok:
        subprocess.run(
            [docker, "load", "-i", str(tmp / "bb-docker.tar")], check=True, capture_output=True
        )
        out["BuildKit"] = per_step(
            [docker, "build", "-q", "--no-cache", "--network", "none"],
            "bench-bb",
            n,
            tmp,
            {**os.environ, "DOCKER_BUILDKIT": "1"},
        )
    else:
        out["BuildKit"] = None
    return out


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
            (
                "default + memory/pids/cpus",
                step,
                {"network": "default", "memory": 256 << 20, "pids_limit": 512, "cpus": 1.0},
            ),
        ):
            rows[name] = statistics.median(
                fn(lower, tmp, i + 1000 * len(rows), **kw) for i in range(n)
            )
        for name, sec in rows.items():
            print(f"pybuild sandbox RUN true [{name}]: median {sec * 1000:.1f} ms over {n}")
        if "--anchors" in sys.argv:
            got = engine_and_anchors(tar, n, tmp)
            for name, val in got.items():
                shown = "not available" if val is None else f"{val * 1000:.1f} ms"
                print(f"{name} per-step RUN true (FROM + {n} RUN - FROM, / {n}): {shown}")
            ours = got["pybuild build"]
            for label, target in (("BuildKit", 1.0), ("buildah", 0.5)):
                ref = got[label]
                if ours and ref:
                    print(
                        f"pybuild build / {label} = {ours / ref:.2f}x (target <= {target}x); "
                        f"sandbox only / {label} = {rows['default (slirp4netns)'] / ref:.2f}x"
                    )


if __name__ == "__main__":
    main()
