"""The processes inside the sandbox. `pid1` runs as PID 1 of the new pid namespace:
it builds the root, starts the command, forwards signals to it and reaps every
zombie until the command exits, then reports its wait status. It starts the command
with posix_spawn after taking on the command's user, capabilities and seccomp filter
itself, or (for a tty) forks `exec_command`, which does the same and execs.

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

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGCONT,
)


_KILL = 1 << caps.NUMBER["KILL"]
_RESET = (*FORWARDED, signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores the last two


@dataclass(frozen=True)
class ExecPlan:
    """What the sandbox's init execs: argv, environment, directory and identity."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    ident: Identity
    hostname: str
    keep_caps: int  # capability bitmask for bounding/permitted/effective
    drop_caps: tuple[int, ...]  # capability numbers to drop from the bounding set
    privileged: bool
    setgroups: bool  # False when the user namespace denies setgroups
    seccomp: Prepared | None
    tty: bool
    loopback: bool  # bring lo up (own network namespace)


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
        child = _start_forked(plan, status_fd) if plan.tty else _start_spawned(plan, status_fd)
        if child:
            _reap(child, status_fd)
    except BaseException as e:  # noqa: B036 - PID 1 must report, never unwind
        send(status_fd, "E", f"sandbox setup: {e}")
        code = 125
    os._exit(code)


def _start_forked(plan: ExecPlan, status_fd: int) -> int:
    """fork + set up + exec (needed for a controlling tty)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # until the handlers know the child
    child = os.fork()
    if child == 0:
        exec_command(plan, status_fd)
    # PID 1 stays in the command's view: keep only what reaping and signal
    # forwarding need, and make it untraceable (no /proc/1/mem, fd, environ).
    libc.prctl(libc.PR_SET_DUMPABLE, 0)
    libc.capset(_KILL, _KILL, 0)
    for sig in FORWARDED:
        signal.signal(sig, lambda s, _f: _forward(child, s))  # `child` is never rebound
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    return child


def _start_spawned(plan: ExecPlan, status_fd: int) -> int:
    """The fast path: PID 1 takes on the command's user, capabilities and seccomp
    filter itself, then posix_spawn (vfork + exec) runs the command: no second copy
    of this Python process. Returns 0 when the command could not be started."""
    target = [0]
    for sig in FORWARDED:
        signal.signal(sig, lambda s, _f: _forward(target[0], s) if target[0] else None)
    _become(plan)  # on failure pid1 reports it: the command never started
    libc.prctl(libc.PR_SET_DUMPABLE, 0)  # after setresuid, which resets it
    if plan.seccomp is not None:
        plan.seccomp.install()
    # Hold forwarded signals until we know the child's pid (it may signal us at once).
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        path = _lookup(plan.argv[0], plan.env.get("PATH", ""))
        target[0] = os.posix_spawn(
            path, list(plan.argv), plan.env, setsid=True, setsigmask=(), setsigdef=_RESET
        )
    except OSError as e:
        code = _exec_failed(plan, e, status_fd)
        send(status_fd, "S", str(code << 8))
        return 0
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    if plan.ident.uid == 0:  # a non-root uid holds nothing already; ours is the command's
        libc.capset(_KILL & plan.keep_caps, _KILL & plan.keep_caps, 0)
    return target[0]


def _reap(child: int, status_fd: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        if pid == child:
            send(status_fd, "S", str(status))
            return


def _lookup(name: str, path: str) -> str:
    """The command's executable, found in the step's PATH (not pybuild's)."""
    if "/" in name:
        return name
    denied = False
    for d in path.split(":"):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand):
            if os.access(cand, os.X_OK):
                return cand
            denied = True
    raise OSError(errno.EACCES if denied else errno.ENOENT, name)


def _exec_failed(plan: ExecPlan, e: OSError, status_fd: int) -> int:
    missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
    what = "executable file not found in $PATH" if missing else os.strerror(e.errno or 0)
    send(status_fd, "E", f"exec {plan.argv[0]}: {what}")
    return 127 if missing else 126


def _forward(child: int, sig: int) -> None:
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass


def _become(plan: ExecPlan) -> None:
    """Bounding set, groups, gid, uid, then the capabilities the command keeps."""
    caps.drop_bounding(plan.drop_caps)
    ident = plan.ident
    if plan.setgroups:
        os.setgroups(list(ident.groups))
    os.setresgid(ident.gid, ident.gid, ident.gid)
    os.setresuid(ident.uid, ident.uid, ident.uid)
    caps.apply_after_setuid(plan.keep_caps, ident.uid)
    os.chdir(plan.cwd)


def exec_command(plan: ExecPlan, status_fd: int) -> None:
    """Become the step's process (the forked path, for a tty). Never returns."""
    try:
        for sig in _RESET:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.setsid()
        if plan.tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        _become(plan)
    except BaseException as e:  # noqa: B036
        send(status_fd, "E", f"sandbox setup: {e}")
        os._exit(125)
    try:
        if plan.seccomp is not None:
            plan.seccomp.install()
        os.execvpe(plan.argv[0], list(plan.argv), plan.env)
    except OSError as e:
        os._exit(_exec_failed(plan, e, status_fd))
    except BaseException as e:  # noqa: B036
        send(status_fd, "E", f"exec {plan.argv[0]}: {e}")
        os._exit(126)
