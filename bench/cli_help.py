"""CLI responsiveness: `pybuild VERB --help` for every verb, `pybuild --help`,
`pybuild completion bash` and `pybuild images` on an empty store, against the docker CLI
(`docker build --help`, `docker images --help`: the anchor users compare with) and
`python3 -c pass` (the floor). Prints median seconds and ratios; run as
`python3 bench/cli_help.py`. Bytecode caching is on, as users have it."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 11
REPO = Path(__file__).resolve().parent.parent


def median_seconds(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, str(REPO))
    from builder.cli import VERBS

    tmp = tempfile.mkdtemp(prefix="pybuild-bench-cli-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO), PYBUILD_ROOT=f"{tmp}/store")
    py = [sys.executable, "-m", "builder.cli"]
    floor = median_seconds([sys.executable, "-c", "pass"], env)
    rows = [("python3 -c pass (floor)", floor)]
    docker = shutil.which("docker")
    anchor = None
    if docker:
        anchor = median_seconds([docker, "build", "--help"], env)
        rows += [
            ("docker build --help (anchor)", anchor),
            ("docker images --help", median_seconds([docker, "images", "--help"], env)),
        ]
    rows.append(("pybuild --help", median_seconds([*py, "--help"], env)))
    rows += [(f"pybuild {v} --help", median_seconds([*py, v, "--help"], env)) for v in VERBS]
    rows.append(("pybuild completion bash", median_seconds([*py, "completion", "bash"], env)))
    rows.append(("pybuild images (empty store)", median_seconds([*py, "images"], env)))
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'command':<34} {'median s':>9} {'x floor':>8} {'x docker':>9}")
    for name, secs in rows:
        vs_docker = f"{secs / anchor:9.1f}" if anchor else "      n/a"
        print(f"{name:<34} {secs:9.4f} {secs / floor:8.2f} {vs_docker}")


if __name__ == "__main__":
    main()
