"""The pool of slirp4netns-served network namespaces behind `--network default`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from builder.sandbox import netpool
from tests.fixtures.common import REPO
from tests.integration.sandbox.conftest import sh

NS = "readlink /proc/self/ns/net"


def test_sequential_steps_reuse_one_namespace(rootfs: Path) -> None:
    a = sh(rootfs, NS, network="default").out
    b = sh(rootfs, NS, network="default").out
    assert a == b and a.startswith("net:[")
    c = sh(rootfs, NS + "; ls /sys/class/net", network="none").out
    d = sh(rootfs, NS + "; ls /sys/class/net", network="none").out
    assert c == d and c.split()[1:] == ["lo"] and c.split()[0] != a.strip()


def test_net_admin_and_concurrent_steps_get_their_own(rootfs: Path) -> None:
    pooled = sh(rootfs, NS, network="default").out
    assert sh(rootfs, NS, network="default", cap_add=("NET_ADMIN",)).out != pooled

    def one(_: int) -> str:
        return sh(rootfs, NS + "; sleep 0.5", network="default").out

    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(one, range(3)))
    assert len(set(got)) == 3


def test_holders_and_slirp_end_with_pybuild(rootfs: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from builder.sandbox import SandboxSpec, run, netpool
        run(SandboxSpec(rootfs=Path({str(rootfs)!r}), argv=("true",), network="default"))
        h = netpool.POOL._idle["default"][0]
        print(h.pid, h.slirp.proc.pid, flush=True)
        import os
        os._exit(0)  # no atexit: the pipes alone must end them
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.05)
    assert not any(_running(p) for p in pids)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_dead_holder_is_replaced(rootfs: Path) -> None:
    sh(rootfs, "true", network="default")
    with netpool.POOL._lock:
        victim = netpool.POOL._idle["default"][-1]
    os.kill(victim.pid, 9)
    ran = sh(rootfs, "ip -o -4 addr show tap0", network="default")
    assert "10.0.2.100" in ran.out
