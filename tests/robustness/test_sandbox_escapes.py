"""Sandbox escape attempts as RUN steps of a real `pybuild build`.

Every attempt must fail inside the step (a RUN exits 1 and prints ESCAPED if it
succeeds), and the host is checked from outside afterwards: its clock, its modules,
the cgroup release agent, a loopback service that must see no connection, a host
process that must not be traced, and no process of the build may outlive its step.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.robustness.conftest import pybuild

PTRACE_C = r"""
#include <sys/ptrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
int main(int argc, char **argv) {
    long r = ptrace(PTRACE_ATTACH, atoi(argv[1]), 0, 0);
    if (r == 0) { printf("attached\n"); return 0; }
    printf("ptrace: %s\n", strerror(errno));
    return 1;
}
"""

# name -> shell that must FAIL (non-zero) inside the sandbox
ATTEMPTS = {
    "mount-host-root": "mount --bind / /mnt || mount -t proc proc /mnt || "
    "mount -t ext4 /dev/vda /mnt",
    "block-device": "mknod /tmp/disk b 254 0; head -c 512 /tmp/disk | grep -q .",
    # any node a step makes (CAP_MKNOD) is inert: the rootfs is nodev (1:3 is /dev/null)
    "device-node-opens": "mknod /tmp/null c 1 3 && echo x > /tmp/null",
    "sysrq-trigger": "echo h > /proc/sysrq-trigger",
    # a junk module fails anyway; the point is that the kernel is never asked (EPERM)
    "load-module": "echo junk > /m.ko && ! insmod /m.ko 2>&1 | grep -q 'not permitted'",
    "ptrace-outside": "/pt $HOSTPID",
    "set-clock": "date -s '2001-01-01 00:00:00'; [ $(date +%Y) = 2001 ]",
    "unshare-user": "unshare -U -r sh -c 'mount -t tmpfs t /mnt'",
    "unshare-user-plain": "unshare -U true",
    "release-agent": "echo /evil > /sys/fs/cgroup/memory/release_agent || "
    "(mkdir -p /cg && mount -t cgroup -o memory cgroup /cg && "
    "echo /evil > /cg/release_agent)",
    "kcore": "head -c 64 /proc/kcore | grep -q .",
    "host-loopback": "nc -w 2 127.0.0.1 $PORT </dev/null || wget -q -T 2 -O- http://127.0.0.1:$PORT/",
    "all-capabilities": "grep -q 'CapEff:.000001ffffffffff' /proc/self/status",
}


@pytest.fixture
def loopback_service() -> tuple[int, list[str]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            seen.append(str(addr))
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nHOST-SERVICE-REACHED\n")
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join()
    srv.close()


def _release_agents() -> dict[str, str]:
    out = {}
    for p in Path("/sys/fs/cgroup").glob("*/release_agent"):
        try:
            out[str(p)] = p.read_text()
        except OSError:
            continue
    return out


def _procs_with(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker.encode() in (d / "cmdline").read_bytes():
                found.append(int(d.name))
        except OSError:
            continue
    return found


def test_escape_attempts_fail_and_host_is_untouched(
    build_store: Path, tmp_path: Path, loopback_service
) -> None:
    port, seen = loopback_service
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "pt.c").write_text(PTRACE_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(ctx / "pt"), str(ctx / "pt.c")], check=True)
    victim = subprocess.Popen(["sleep", "120"])
    marker = f"escapee-{uuid.uuid4().hex[:10]}"
    lines = ["FROM busybox", "COPY pt /pt", f"ARG HOSTPID={victim.pid}", f"ARG PORT={port}"]
    for name, attempt in ATTEMPTS.items():
        lines.append(f"RUN echo {name}; if {attempt}; then echo ESCAPED: {name}; exit 1; fi")
    # a process that tries to outlive its step
    lines.append(
        f"RUN cp /bin/busybox /tmp/{marker} && (setsid /tmp/{marker} sleep 300 &) "
        f"&& (nohup /tmp/{marker} sleep 301 >/dev/null 2>&1 &) && sleep 0.2"
    )
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    agents = _release_agents()
    modules = sorted(os.listdir("/sys/module"))
    t_wall, t_mono = time.time(), time.monotonic()
    try:
        out = pybuild(
            build_store,
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-t",
            "escape:1",
            str(ctx),
            check=False,
        )
        text = out.stdout + out.stderr
        assert out.returncode == 0, text
        assert "ESCAPED:" not in text.replace("echo ESCAPED:", "")
        # The host, from outside:
        assert not seen, f"the host loopback service was reached: {seen}"
        tracer = [
            ln
            for ln in Path(f"/proc/{victim.pid}/status").read_text().splitlines()
            if ln.startswith("TracerPid:")
        ]
        assert tracer == ["TracerPid:\t0"], tracer
        assert _release_agents() == agents
        assert sorted(os.listdir("/sys/module")) == modules
        drift = (time.time() - t_wall) - (time.monotonic() - t_mono)
        assert abs(drift) < 5, f"the host clock moved by {drift:.0f}s"
        time.sleep(0.3)
        assert not _procs_with(marker), "a process outlived its RUN step"
    finally:
        victim.kill()
        victim.wait()
        for pid in _procs_with(marker):
            os.kill(pid, 9)
