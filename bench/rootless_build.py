"""Bench: what rootless costs. The same `pybuild build --no-cache` (FROM busybox + N x
`RUN echo i > /fi`, --network none) as root and as a non-root user with a subuid range
(user namespace + newuidmap, overlay with userxattr), each on its own store, and
`pybuild fsck` (start-up + entering the namespace) both ways. Both use the same
interpreter (Debian's python3, which the user can run). Median of R runs; the
machine is shared, so compare ratios within one run.
Usage (as root): python3 bench/rootless_build.py [N_STEPS] [RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.base_image import build_busybox_rootfs_tar  # noqa: E402
from tests.integration.rootless.helpers import (  # noqa: E402
    LAUNCH,
    PATH,
    WITH_SUBIDS,
    ensure_user,
    give,
    make_home,
    python_for,
)


def timed(
    cmd: list[str], env: dict[str, str], uid: int | None, gid: int | None, cwd: Path
) -> float:
    kw = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, cwd=str(cwd), capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{cmd[3:]} failed: {res.stderr.strip()}")
    return dt


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    pw = ensure_user(WITH_SUBIDS, subids=True)
    base = Path(tempfile.mkdtemp(prefix="pybuild-bench-rootless-"))
    base.chmod(0o755)
    try:
        python = python_for(pw)
        tar = build_busybox_rootfs_tar(base / "rootfs.tar")
        tar.chmod(0o644)
        ctx = base / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            "FROM busybox\n" + "".join(f"RUN echo {i} > /f{i}\n" for i in range(steps))
        )
        home = make_home(base, pw)
        give(ctx, pw)
        who = {
            "root": (None, None, base / "root-store", base),
            "rootless": (pw.pw_uid, pw.pw_gid, home / "store", home),
        }
        results: dict[str, dict[str, list[float]]] = {}
        for name, (uid, gid, store, cwd) in who.items():
            env = {"PATH": PATH, "HOME": str(cwd), "PYBUILD_ROOT": str(store)}
            pb = [python, "-c", LAUNCH]
            timed([*pb, "import", str(tar), "busybox:latest"], env, uid, gid, cwd)
            results[name] = {"build": [], "fsck": []}
        for _ in range(runs):  # alternate, so load swings hit both alike
            for name, (uid, gid, store, cwd) in who.items():
                env = {"PATH": PATH, "HOME": str(cwd), "PYBUILD_ROOT": str(store)}
                pb = [python, "-c", LAUNCH]
                results[name]["build"].append(
                    timed(
                        [*pb, "build", "-q", "--no-cache", "--network", "none", str(ctx)],
                        env,
                        uid,
                        gid,
                        cwd,
                    )
                )
                results[name]["fsck"].append(timed([*pb, "fsck"], env, uid, gid, cwd))
        med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
        print(f"pybuild build --no-cache, FROM + {steps} RUN steps, median of {runs}:")
        for n in who:
            print(f"  {n:<9} build {med[n]['build']:.3f} s   fsck {med[n]['fsck']:.3f} s")
        print(
            f"  rootless/root: build x{med['rootless']['build'] / med['root']['build']:.2f}, "
            f"fsck x{med['rootless']['fsck'] / med['root']['fsck']:.2f}"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
