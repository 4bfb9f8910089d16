"""A private dockerd for the differential tests: its own data root, exec root and
socket under a temp dir, no bridge and no iptables (host networking untouched),
stopped and cleaned up at the end of the session. BuildKit runs its RUN steps with
`--network=none` (no bridge exists)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.build import BusyboxImage
from tests.fixtures.mounts import unmount_under

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"
EPOCH = "1600000000"  # the busybox base is imported with a fixed time: same image both sides


@dataclass
class Dockerd:
    dir: Path
    sock: str
    proc: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        return {
            "DOCKER_HOST": f"unix://{self.sock}",
            "DOCKER_BUILDKIT": "1",
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(self.dir),
            "DOCKER_CONFIG": str(self.dir / "client"),
        }

    def docker(
        self, *args: str, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        p = subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, env=self.env, cwd=cwd, timeout=300
        )
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed:\n{p.stderr[-3000:]}")
        return p


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    d = Path(tempfile.mkdtemp(prefix="pbdk-", dir="/tmp"))
    sock = str(d / "docker.sock")
    log = open(d / "dockerd.log", "wb")  # closed in teardown
    proc = subprocess.Popen(
        [
            DOCKERD,
            "--data-root",
            str(d / "data"),
            "--exec-root",
            str(d / "exec"),
            "--pidfile",
            str(d / "docker.pid"),
            "--host",
            f"unix://{sock}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--storage-driver=overlay2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    dk = Dockerd(d, sock, proc)
    try:
        deadline = time.monotonic() + 60
        while dk.docker("version", check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "dockerd did not start:\n" + (d / "dockerd.log").read_text()[-3000:]
                )
            time.sleep(0.3)
        yield dk
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        unmount_under(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_busybox(
    dockerd: Dockerd, busybox_image: BusyboxImage, tmp_path_factory: pytest.TempPathFactory
) -> BusyboxImage:
    """busybox:latest loaded into dockerd, identical to what `load_base` puts in a
    pybuild store."""
    from store import archive
    from store.layout import open_store

    root = tmp_path_factory.mktemp("bb-export") / "store"
    load_base(busybox_image, root)
    tar = root.parent / "busybox.docker.tar"
    archive.save(open_store(root), ["busybox:latest"], tar, fmt="docker")
    dockerd.docker("load", "-i", str(tar))
    return busybox_image


def load_base(busybox: BusyboxImage, root: Path) -> None:
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    try:
        busybox.load(root)
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
