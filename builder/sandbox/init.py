"""PID 1 of the sandbox, which is the user's command, as in `docker run` and BuildKit's
RUN: a child forked from pybuild's helper builds the root (mounts, pivot_root,
hostname, loopback), takes on the command's bounding set, groups, ids, capabilities
and seccomp filter, and execs the command. Once it has, nothing of pybuild is left
inside the pid namespace: `/proc/1/cmdline`, `environ` and `exe` are the command's.
The helper waits for it from outside the namespace and reports its wait status.
A reaping init, when asked for, is `docker run --init`'s: tini (`INIT_PATH`) execs
the command as its child.

Until the exec it does only system calls (no imports, no threads), and reports through
the helper's pipe (close-on-exec) with one-line messages: `M<path>` created mount
point, `E<message>` setup or exec error."""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import signal
import termios
from dataclasses import dataclass
from pathlib import Path

from builder.sandbox import caps, libc, mounts, network
from builder.sandbox.seccomp import Prepared
from builder.sandbox.user import Identity, scoped_path

INIT_PATH = "/sbin/docker-init"  # where `docker run --init` puts its tini


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
    rlimits: tuple[tuple[int, int, int], ...] = ()  # (RLIMIT_*, soft, hard), set before exec


def send(fd: int, kind: str, text: str = "") -> None:
    os.write(fd, (kind + text.replace("\n", " ") + "\n").encode())


def pid1(root: mounts.RootPlan, plan: ExecPlan, status_fd: int) -> None:
    """Set up the sandbox and become the command. Never returns."""
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        for path in mounts.setup(root):
            send(status_fd, "M", path)
        libc.sethostname(plan.hostname)
        if plan.loopback:
            network.loopback_up()
        # The cwd is resolved in the new root as text (scoped_path reads a /proc/self/fd/N
        # magic link as its name, never following it), so no fd this process holds can
        # make it a directory of the host (runc CVE-2024-21626).
        cwd = str(scoped_path(Path("/"), plan.cwd))
        os.makedirs(cwd, exist_ok=True)
    except BaseException as e:  # noqa: B036 - PID 1 must report, never unwind
        send(status_fd, "E", f"sandbox setup: {e}")
        os._exit(125)
    exec_command(plan, status_fd, cwd)


def _exec_failed(plan: ExecPlan, e: OSError, status_fd: int) -> int:
    missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
    what = "executable file not found in $PATH" if missing else os.strerror(e.errno or 0)
    send(status_fd, "E", f"exec {plan.argv[0]}: {what}")
    return 127 if missing else 126


def _become(plan: ExecPlan, cwd: str) -> None:
    """Limits (while PID 1 may still raise them), bounding set, groups, gid, uid, then
    the capabilities the command keeps."""
    for res, soft, hard in plan.rlimits:
        resource.setrlimit(res, (soft, hard))
    caps.drop_bounding(plan.drop_caps)
    ident = plan.ident
    if plan.setgroups:
        os.setgroups(list(ident.groups))
    os.setresgid(ident.gid, ident.gid, ident.gid)
    os.setresuid(ident.uid, ident.uid, ident.uid)
    caps.apply_after_setuid(plan.keep_caps, ident.uid)
    os.chdir(cwd)


def exec_command(plan: ExecPlan, status_fd: int, cwd: str) -> None:
    """Become the step's process: a session leader (with its tty as the controlling
    terminal), the step's identity and filter, then exec. Never returns."""
    try:
        # Python ignores SIGPIPE and SIGXFSZ and the helper SIGINT; exec keeps what is
        # ignored, and the command must start with every signal at its default.
        for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
            if signal.getsignal(sig) is signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.setsid()
        if plan.tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        _become(plan, cwd)
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
