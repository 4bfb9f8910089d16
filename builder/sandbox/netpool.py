"""Pools of ready network namespaces, as BuildKit pools its own: for `--network
default` each is already served by slirp4netns (starting it is the largest part of a
step's start-up, so a build pays it once per concurrent step, not once per RUN); for
`--network none` each has just loopback (creating and tearing down a namespace costs
the kernel more than joining one).

A namespace is held by a tiny forked process that waits on a pipe; pybuild holds
the other end, so holders and slirp4netns exit when pybuild does, however it ends.
Steps that could reconfigure the network (NET_ADMIN, --privileged) and rootless
steps (whose namespaces belong to their own user namespace) get a fresh one instead.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from dataclasses import dataclass

from builder.sandbox import libc, network


@dataclass
class Holder:
    """A process holding a network namespace that RUN steps join."""

    pid: int
    keep_w: int  # closing it ends the holder
    slirp: network.Slirp | None
    ns_fd: int  # open /proc/PID/ns/net, for setns
    kind: str  # "default" or "none"

    def alive(self) -> bool:
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0 and (self.slirp is None or self.slirp.proc.poll() is None)

    def close(self) -> None:
        for fd in (self.keep_w, self.ns_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.slirp is not None:
            self.slirp.stop()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _spawn(kind: str) -> Holder:
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    keep_r, keep_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            lo = 3  # hold nothing of pybuild's (another step's pipes would never close)
            for fd in sorted((keep_r, ready_w)):
                os.closerange(lo, fd)
                lo = fd + 1
            os.closerange(lo, 1 << 16)
            libc.unshare(libc.CLONE_NEWNET)
            network.loopback_up()
            os.write(ready_w, b"1")
            os.read(keep_r, 1)  # returns at EOF: pybuild closed its end or died
        except BaseException:  # noqa: B036 - a forked child must never unwind
            code = 1
        os._exit(code)
    os.close(keep_r)
    os.close(ready_w)
    ok = os.read(ready_r, 1)
    os.close(ready_r)
    if ok != b"1":
        os.close(keep_w)
        os.waitpid(pid, 0)
        raise OSError("network namespace holder failed to start")
    try:
        slirp = network.Slirp(pid) if kind == "default" else None
    except BaseException:
        os.close(keep_w)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    return Holder(
        pid, keep_w, slirp, os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC), kind
    )


class NetPool:
    def __init__(self, max_idle: int = 4) -> None:
        self._idle: dict[str, list[Holder]] = {"default": [], "none": []}
        self._lock = threading.Lock()
        self.max_idle = max_idle
        atexit.register(self.close)

    def acquire(self, kind: str = "default") -> Holder:
        with self._lock:
            idle = self._idle[kind]
            while idle:
                h = idle.pop()
                if h.alive():
                    return h
                h.close()
        return _spawn(kind)

    def release(self, h: Holder) -> None:
        with self._lock:
            idle = self._idle[h.kind]
            if len(idle) < self.max_idle and h.alive():
                idle.append(h)
                return
        h.close()

    def close(self) -> None:
        with self._lock:
            idle = [h for hs in self._idle.values() for h in hs]
            for hs in self._idle.values():
                hs.clear()
        for h in idle:
            h.close()


POOL = NetPool()
