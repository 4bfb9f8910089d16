"""Ctrl-C (or SIGTERM) on `pybuild build` while a RUN step runs on a stage thread:
pybuild kills the sandbox tree, unmounts, removes the step's cgroup, tags nothing, and
exits 130 (143) within seconds with one line; the next build works."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.common import REPO
from tests.fixtures.mounts import mounts_under, unmount_under
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

TAG = "int:1"


def _sleeps(arg: str) -> set[int]:
    found = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", arg.encode()]:
                    found.add(int(p.name))
            except OSError:
                pass
    return found


def _cgroups_of(pid: int) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    return [*base.glob(f"*/pybuild/{pid}-*"), *base.glob(f"pybuild/{pid}-*")]


def _build(root: Path, ctx: Path, **kw) -> subprocess.Popen:
    env = {"PYBUILD_ROOT": str(root), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "-t",
            TAG,
            "--memory",
            "64m",
            "--progress",
            "plain",
            str(ctx),
        ],
        env=env,
        cwd=REPO,
        text=True,
        **kw,
    )


@pytest.mark.parametrize(
    "sig,code,last",
    [(signal.SIGINT, 130, "pybuild: interrupted"), (signal.SIGTERM, 143, "pybuild: terminated")],
)
def test_ctrl_c_during_run_ends_the_sandbox_and_cleans_up(build_store, tmp_path, sig, code, last):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo started; sleep 30\n")
    before = _sleeps("30")
    err_path = tmp_path / "stderr"
    with err_path.open("w") as err:
        proc = _build(build_store, ctx, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while not (_sleeps("30") - before) and time.monotonic() < deadline:
            assert proc.poll() is None, err_path.read_text()
            time.sleep(0.05)
        mine = _sleeps("30") - before
        assert mine, err_path.read_text()
        assert "started" in err_path.read_text()
        assert _cgroups_of(proc.pid)  # the limit made one: its removal is checked below
        t0 = time.monotonic()
        proc.send_signal(sig)
        got = proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:  # the failure being tested: leave no mount behind
            proc.kill()
            proc.wait()
            unmount_under(build_store)
    stderr = err_path.read_text()
    assert got == code, stderr
    assert took < 5, took
    assert stderr.splitlines()[-1] == last, stderr
    assert "Traceback" not in stderr
    assert not mine & _sleeps("30")
    assert mounts_under(build_store) == []
    assert _cgroups_of(proc.pid) == []
    with pytest.raises(Exception, match="int:1"):
        h.image(build_store, TAG)

    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo again > /again\n")
    p = _build(build_store, ctx, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert h.read_file(build_store, TAG, "again") == b"again\n"
