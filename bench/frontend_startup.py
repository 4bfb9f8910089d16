"""Startup of `pybuild --version` and `pybuild plan` on a 20-line Dockerfile (target:
under 80 ms), against `python3 -c pass` (the floor) and `docker --version` (anchor CLI,
when installed). Prints median seconds and ratios. Bytecode caching is left on, as
users have it (this machine's shell sets PYTHONDONTWRITEBYTECODE=1; we unset it)."""

from __future__ import annotations

import os
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


def _median(cmd: list[str], env: dict[str, str]) -> float:
    subprocess.run(cmd, env=env, capture_output=True, check=False)  # warm caches, write .pyc
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(repo)
    script = Path(sys.executable).with_name("pybuild")
    pybuild = [str(script)] if script.exists() else [sys.executable, "-m", "builder.cli"]
    with tempfile.TemporaryDirectory() as ctx:
        (Path(ctx) / "Dockerfile").write_text(DOCKERFILE)
        rows = [("python3 -c pass (floor)", [sys.executable, "-c", "pass"]),
                ("pybuild --version", [*pybuild, "--version"]),
                ("pybuild plan (20 lines)", [*pybuild, "plan", ctx])]
        docker = shutil.which("docker")
        if docker:
            rows.append(("docker --version (anchor)", [docker, "--version"]))
        results = {name: _median(cmd, env) for name, cmd in rows}
    anchor = results.get("docker --version (anchor)")
    for name, secs in results.items():
        ratio = f"  x{secs / anchor:.2f} vs docker --version" if anchor else ""
        print(f"{name:<28} median {secs * 1000:7.1f} ms{ratio}")


if __name__ == "__main__":
    main()
