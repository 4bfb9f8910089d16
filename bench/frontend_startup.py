"""Startup of `pybuild --version` and `pybuild plan` on a 20-line Dockerfile (target:
under 80 ms), against `python3 -c pass` (the floor) and `docker --version` (anchor CLI,
when installed). Prints median seconds and ratios. Bytecode caching is left on, as
users have it (this machine's shell sets PYTHONDONTWRITEBYTECODE=1; we unset it)."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 21
DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PY=3.11
FROM python:${PY}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \\
    APP=/app
WORKDIR $APP
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt
COPY . .
RUN python -m compileall .
FROM python:${PY}-slim
ARG PY
LABEL org.opencontainers.image.title="demo" version=1
COPY --from=build /app /app
USER 1000:1000
EXPOSE 8000
HEALTHCHECK --interval=30s CMD ["python", "-c", "print(1)"]
ENTRYPOINT ["python", "-m", "app"]
CMD ["--port", "8000"]
STOPSIGNAL SIGTERM
"""


def _measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(median wall, min wall, median CPU user+sys) in seconds; CPU time is the figure
    least disturbed when other jobs load the machine."""
    subprocess.run(cmd, env=env, capture_output=True, check=False)  # warm caches, write .pyc
    walls, cpus = [], []
    for _ in range(RUNS):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(repo)
    script = Path(sys.executable).with_name("pybuild")
    pybuild = [str(script)] if script.exists() else [sys.executable, "-m", "builder.cli"]
    with tempfile.TemporaryDirectory() as ctx:
        (Path(ctx) / "Dockerfile").write_text(DOCKERFILE)
        rows = [
            ("python3 -c pass (floor)", [sys.executable, "-c", "pass"]),
            ("pybuild --version", [*pybuild, "--version"]),
            ("pybuild plan (20 lines)", [*pybuild, "plan", ctx]),
        ]
        docker = shutil.which("docker")
        if docker:
            rows.append(("docker --version (anchor)", [docker, "--version"]))
        results = {name: _measure(cmd, env) for name, cmd in rows}
    anchor = results.get("docker --version (anchor)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, (med, low, cpu) in results.items():
        ratio = f"  x{med / anchor[0]:.2f} vs docker --version" if anchor else ""
        print(
            f"{name:<28} median {med * 1000:6.1f} ms  min {low * 1000:6.1f} ms  "
            f"cpu {cpu * 1000:6.1f} ms{ratio}"
        )


if __name__ == "__main__":
    main()
