"""Which namespaces a step gets; the forked helper that unshares them and forks the
sandbox's PID 1; and the user namespace's id maps when pybuild runs rootless:
subordinate ranges through newuidmap/newgidmap when /etc/subuid and /etc/subgid
grant some, else a single mapping of uid 0 to the caller."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass

from builder.sandbox import init, libc
from builder.sandbox.errors import SandboxSetupError
from builder.sandbox.mounts import RootPlan


def flags(network: str, rootless: bool) -> int:
    f = libc.CLONE_NEWNS | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC | libc.CLONE_NEWPID
    if network != "host":
        f |= libc.CLONE_NEWNET
    if rootless:
        f |= libc.CLONE_NEWUSER
    return f


@dataclass(frozen=True)
class IdMap:
    """uid/gid maps for a rootless sandbox: `ranges` are (inside, outside, count)."""

    uids: tuple[tuple[int, int, int], ...]
    gids: tuple[tuple[int, int, int], ...]
    helpers: bool  # written by newuidmap/newgidmap (setgroups allowed)

    def maps_uid(self, uid: int) -> bool:
        return any(i <= uid < i + n for i, _, n in self.uids)

    def maps_gid(self, gid: int) -> bool:
        return any(i <= gid < i + n for i, _, n in self.gids)

    @property
    def initial(self) -> bool:
        """True for the initial user namespace's maps (the identity over every id)."""
        return self.uids == (_IDENTITY,)


_IDENTITY = (0, 0, 4294967295)


def _proc_map(kind: str) -> tuple[tuple[int, int, int], ...]:
    """(inside, outside, count) rows of /proc/self/{uid,gid}_map."""
    try:
        with open(f"/proc/self/{kind}_map", encoding="ascii") as f:
            rows = (line.split() for line in f if line.strip())
            return tuple((int(a), int(b), int(c)) for a, b, c in rows)
    except OSError:
        return (_IDENTITY,)


def setgroups_allowed() -> bool:
    """Whether this process's user namespace lets setgroups(2) be called."""
    try:
        with open("/proc/self/setgroups", encoding="ascii") as f:
            return f.read().strip() == "allow"
    except OSError:
        return True


def process_map() -> IdMap:
    """The maps of the user namespace pybuild itself runs in (read each time: a rootless
    pybuild enters its own namespace after start-up, see builder.rootless)."""
    return IdMap(_proc_map("uid"), _proc_map("gid"), setgroups_allowed())


def _subids(path: str, name: str, uid: int) -> tuple[int, int] | None:
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (name, str(uid)):
                    return int(parts[1]), int(parts[2])
    except OSError:
        pass
    return None


def rootless_map() -> IdMap:
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    su, sg = _subids("/etc/subuid", name, uid), _subids("/etc/subgid", name, uid)
    if su and sg and shutil.which("newuidmap") and shutil.which("newgidmap"):
        return IdMap(((0, uid, 1), (1, su[0], su[1])), ((0, gid, 1), (1, sg[0], sg[1])), True)
    return IdMap(((0, uid, 1),), ((0, gid, 1),), False)


def check_userns() -> None:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                raise SandboxSetupError(
                    "user namespaces are disabled: sysctl -w "
                    "user.max_user_namespaces=15000 (or run as root)"
                )
    except FileNotFoundError as e:
        raise SandboxSetupError("this kernel has no user namespaces: run pybuild as root") from e
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                raise SandboxSetupError(
                    "unprivileged user namespaces are disabled: sysctl -w "
                    "kernel.unprivileged_userns_clone=1 (or run as root)"
                )
    except FileNotFoundError:
        pass


def write_maps(pid: int, idmap: IdMap) -> None:
    """Install `idmap` for the user namespace of `pid` (called from the parent)."""
    if idmap.helpers:
        for tool, ranges in (("newuidmap", idmap.uids), ("newgidmap", idmap.gids)):
            args = [str(x) for r in ranges for x in r]
            res = subprocess.run([tool, str(pid), *args], capture_output=True, text=True)
            if res.returncode != 0:
                raise SandboxSetupError(
                    f"{tool} failed: {res.stderr.strip()}; check /etc/subuid and /etc/subgid"
                )
        return
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write("".join(f"{i} {o} {n}\n" for i, o, n in idmap.uids))
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("deny")
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write("".join(f"{i} {o} {n}\n" for i, o, n in idmap.gids))


def helper(
    flags: int,
    need_sync: bool,
    root: RootPlan,
    plan: init.ExecPlan,
    st_w: int,
    go_r: int,
    stdio: tuple[int, int, int],
    net_fd: int,
) -> None:
    """The forked helper: unshare, wait for go, fork PID 1, wait for it and report its
    status. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        os.umask(0o022)  # as BuildKit and runc: layers must not depend on pybuild's umask
        for target, fd in enumerate(stdio):
            os.dup2(fd, target, inheritable=True)
        keep = sorted(fd for fd in (st_w, go_r, net_fd) if fd > 2)
        lo = 3
        for fd in keep:
            os.closerange(lo, fd)
            lo = fd + 1
        os.closerange(lo, 1 << 16)
        if net_fd >= 0:  # a pooled namespace slirp4netns already serves
            libc.setns(net_fd, libc.CLONE_NEWNET)
            os.close(net_fd)
        libc.unshare(flags)
        if need_sync:
            init.send(st_w, "U")
            if os.read(go_r, 1) != b"G":
                os._exit(125)
            os.close(go_r)
        try:
            libc.unshare(libc.CLONE_NEWCGROUP)
        except OSError:
            pass  # old kernels: the cgroup namespace is a nicety
        p1 = os.fork()
        if p1 == 0:
            init.pid1(root, plan, st_w)
        init.send(st_w, "P", str(p1))
        # PID 1 is the command: its wait status is ours to report (from outside its
        # pid namespace, where nothing of it can see us)
        _, status = os.waitpid(p1, 0)
        init.send(st_w, "S", str(status))
    except BaseException as e:  # noqa: B036 - report, never unwind into pybuild's code
        try:
            init.send(st_w, "E", _setup_hint(e))
        except OSError:
            pass
        code = 125
    os._exit(code)


def _setup_hint(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, OSError) and "unshare" in text:
        return (
            f"cannot create namespaces ({text}): run as root, or enable user namespaces "
            "for rootless use"
        )
    return f"sandbox setup: {text}"
