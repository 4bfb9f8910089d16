"""The sandbox refuses what Docker refuses, errno for errno: a static C probe makes the
calls Docker's default profile and capabilities are there to stop, inside `pybuild
run` and inside `docker run` of the same busybox image, and prints each call's errno.

Every call is made with arguments that would fail harmlessly if it were allowed
(an invalid clock, reboot's wrong magic, null buffers), so a sandbox that let one
through would show a different errno, not change the machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.common import run_pybuild
from tests.interop.buildkit.conftest import Dockerd

PROBE_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    printf("%s %s\n", name, rc == 0 ? "OK" : strerrorname_np(errno));
}

int main(void) {
    struct timespec ts = {0, 0};
    report("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    report("mount", mount("none", "/mnt", "tmpfs", 0, NULL));
    report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
    report("bpf", syscall(SYS_bpf, 0 /* MAP_CREATE */, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, -100, NULL, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("clock_settime", syscall(SYS_clock_settime, -42, &ts));
    report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
    return 0;
}
"""
CALLS = 11


def _table(text: str) -> dict[str, str]:
    rows = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.strip())
    assert len(rows) == CALLS, text
    return rows


def test_refused_calls_fail_as_in_docker_run(
    dockerd: Dockerd,
    docker_busybox,
    build_store: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "probe.c").write_text(PROBE_C)
    subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(ctx / "probe"), str(ctx / "probe.c")], check=True
    )
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY probe /probe\n")
    built = run_pybuild(build_store, "build", "-q", "--network", "none", "-t", "probe:1", str(ctx))
    assert built.returncode == 0, built.stderr
    ours = run_pybuild(build_store, "run", "--network", "none", "probe:1", "/probe")
    assert ours.returncode == 0, ours.stderr
    theirs = dockerd.docker(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{ctx / 'probe'}:/probe:ro",
        "busybox:latest",
        "/probe",
    )
    table = _table(ours.stdout)
    assert table == _table(theirs.stdout)
    assert "OK" not in table.values()  # each one is refused, not merely the same
