"""The processes inside the sandbox. `pid1` runs as PID 1 of the new pid namespace:
it builds the root, forks the command, forwards signals to it and reaps every zombie
until the command exits, then reports its wait status. `exec_command` drops to the
step's user, capabilities and seccomp filter and execs.

Both run in a child forked from pybuild: they do only system calls and exec (no
imports, no threads), and report through a pipe with one-line messages:
`M<path>` created mount point, `E<message>` setup error, `S<status>` wait status."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import termios
from dataclasses import dataclass
from pathlib import Path

from builder.sandbox import caps, libc, mounts, network
from builder.sandbox.seccomp import Prepared
from builder.sandbox.user import Identity, scoped_path

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)


_KILL = 1 << caps.NUMBER["KILL"]


@dataclass(frozen=True)
class ExecPlan:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    ident: Identity
    hostname: str
    keep_caps: int            # capability bitmask for bounding/permitted/effective
    drop_caps: tuple[int, ...]  # capability numbers to drop from the bounding set
    privileged: bool
    setgroups: bool           # False when the user namespace denies setgroups
    seccomp: Prepared | None
    tty: bool
    loopback: bool            # bring lo up (own network namespace)


def send(fd: int, kind: str, text: str = "") -> None:
    os.write(fd, (kind + text.replace("\n", " ") + "\n").encode())


def pid1(root: mounts.RootPlan, plan: ExecPlan, status_fd: int) -> None:
    """Never returns."""
    code = 0
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        for path in mounts.setup(root):
            send(status_fd, "M", path)
        libc.sethostname(plan.hostname)
        if plan.loopback:
            network.loopback_up()
        if plan.cwd != "/":
            os.makedirs(scoped_path(Path("/"), plan.cwd), exist_ok=True)
        child = os.fork()
        if child == 0:
            exec_command(plan, status_fd)
        # PID 1 stays in the command's view: keep only what reaping and signal
        # forwarding need, and make it untraceable (no /proc/1/mem, fd, environ).
        libc.prctl(libc.PR_SET_DUMPABLE, 0)
        libc.capset(_KILL, _KILL, 0)
        for sig in FORWARDED:
            signal.signal(sig, lambda s, _f, c=child: _forward(c, s))
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == child:
                send(status_fd, "S", str(status))
                break
    except BaseException as e:  # noqa: B036 - PID 1 must report, never unwind
        send(status_fd, "E", f"sandbox setup: {e}")
        code = 125
    os._exit(code)


def _forward(child: int, sig: int) -> None:
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass


def exec_command(plan: ExecPlan, status_fd: int) -> None:
    """Become the step's process. Never returns."""
    try:
        for sig in (*FORWARDED, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.setsid()
        if plan.tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        caps.drop_bounding(plan.drop_caps)
        ident = plan.ident
        if plan.setgroups:
            os.setgroups(list(ident.groups))
        os.setresgid(ident.gid, ident.gid, ident.gid)
        os.setresuid(ident.uid, ident.uid, ident.uid)
        caps.apply_after_setuid(plan.keep_caps, ident.uid)
        os.chdir(plan.cwd)
    except BaseException as e:  # noqa: B036
        send(status_fd, "E", f"sandbox setup: {e}")
        os._exit(125)
    try:
        if plan.seccomp is not None:
            plan.seccomp.install()
        os.execvpe(plan.argv[0], list(plan.argv), plan.env)
    except OSError as e:
        missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
        what = "executable file not found in $PATH" if missing else os.strerror(e.errno or 0)
        send(status_fd, "E", f"exec {plan.argv[0]}: {what}")
        os._exit(127 if missing else 126)
    except BaseException as e:  # noqa: B036
        send(status_fd, "E", f"exec {plan.argv[0]}: {e}")
        os._exit(126)
