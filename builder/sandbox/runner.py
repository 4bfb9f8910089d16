"""`run(spec)`: one sandboxed command, start to finish.

pybuild forks a helper that unshares the namespaces and forks PID 1 (init.pid1).
Between the two, pybuild puts the helper in the step's cgroup, starts slirp4netns on
its network namespace and writes rootless id maps, then says go. Output streams live
through the caller's fds or callbacks; on any exception (Ctrl-C included) the tree is
killed, and the pid namespace takes every process with it.

Ctrl-C lands in the main thread only, so sandboxes run by worker threads are ended
with `cancel_all()` (from any thread): it kills every live sandbox's tree, and each
`run()` then cleans up its own cgroup and network and raises `SandboxCancelled`."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import termios
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from builder.sandbox import (
    caps,
    cgroups,
    init,
    libc,
    mounts,
    namespaces,
    netpool,
    network,
    seccomp,
    ulimits,
    user,
)
from builder.sandbox.errors import SandboxError, SandboxSetupError
from builder.sandbox.spec import Mount, SandboxResult, SandboxSpec

Sink = int | Callable[[bytes], object] | None
_HIERARCHIES = cgroups.hierarchies()


class SandboxCancelled(KeyboardInterrupt):
    """`cancel_all()` killed this sandbox: the build is being interrupted. A
    KeyboardInterrupt, so no step reports it as its own failure."""


class _Live:
    """A running sandbox: its helper (our unreaped child) and, once known, PID 1."""

    def __init__(self, helper: int) -> None:
        self.pids = [helper]
        self.cancelled = False


_LIVE: set[_Live] = set()
_LIVE_LOCK = threading.Lock()


def _forget(live: _Live) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(live)


def cancel_all() -> int:
    """Kill every running sandbox's process tree (safe from any thread); each `run()`
    then returns through its own cleanup and raises SandboxCancelled. Returns how many."""
    with _LIVE_LOCK:
        for live in _LIVE:
            live.cancelled = True
            for pid in live.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return len(_LIVE)


def _lookup_root(spec: SandboxSpec) -> Path:
    """Where to read /etc/passwd: the rootfs, or the overlay's top-most layer with one."""
    if spec.overlay is None:
        return spec.rootfs
    for d in (spec.overlay.upperdir, *spec.overlay.lowerdirs):
        if user.scoped_path(Path(d), "/etc/passwd").exists():
            return Path(d)
    return spec.overlay.upperdir


def _etc_files(spec: SandboxSpec) -> tuple[tuple[str, str | Path], ...]:
    """/etc/hosts, /etc/resolv.conf, /etc/hostname: content, or a host file to bind."""
    return (
        (
            "/etc/hosts",
            spec.hosts
            if spec.hosts is not None
            else network.hosts_content(spec.network, spec.hostname, spec.extra_hosts),
        ),
        (
            "/etc/resolv.conf",
            spec.resolv_conf
            if spec.resolv_conf is not None
            else network.resolv_content(spec.network),
        ),
        ("/etc/hostname", spec.hostname + "\n"),
    )


# Static builds of tini, as Debian installs them (docker.io's docker-init is one): the
# image may have no libc, or another one.
INIT_BINARIES = ("/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/libexec/docker/docker-init")


def _init_mount() -> Mount:
    """The host's static tini, read-only at `init.INIT_PATH` (docker run --init)."""
    for path in INIT_BINARIES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return Mount(init.INIT_PATH, "bind", Path(os.path.realpath(path)), readonly=True)
    raise SandboxSetupError(
        "--init needs a static tini: install Debian's tini (looked for "
        + ", ".join(INIT_BINARIES)
        + ")"
    )


def _sink_fd(sink: Sink) -> tuple[int, int]:
    """(fd the sandbox writes to, the read end pybuild relays to `sink`). Always a
    pipe, as Docker's: a host file handed to the command could be reopened through
    /proc/self/fd/N, for writing too."""
    r, w = os.pipe2(os.O_CLOEXEC)
    return w, r


def _feed_stdin(w: int) -> None:
    """Copy pybuild's stdin into the sandbox's pipe until either end closes (a thread:
    the command reads at its own pace). The thread owns `w`."""
    try:
        while data := os.read(0, 65536):
            _write_all(w, data)
    except OSError:
        pass
    finally:
        os.close(w)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def run(spec: SandboxSpec, *, stdout: Sink = None, stderr: Sink = None) -> SandboxResult:
    """Run `spec.argv` in a fresh sandbox and wait for it. `stdout`/`stderr` are an fd,
    a callback taking bytes (called as output arrives), or None to inherit pybuild's."""
    start = time.monotonic()
    rootless = os.geteuid() != 0
    idmap = None
    if rootless:
        namespaces.check_userns()
        idmap = namespaces.rootless_map()
    # uid 0 of pybuild's own user namespace (builder.rootless): no second one, but the
    # same limits (no devices, no trusted.* xattrs, ids only as far as the maps go)
    own = None if rootless else namespaces.process_map()
    in_userns = own is not None and not own.initial
    ident = user.resolve(_lookup_root(spec), spec.user)
    limit = idmap or (own if in_userns else None)
    if limit and not (limit.maps_uid(ident.uid) and limit.maps_gid(ident.gid)):
        raise SandboxSetupError(
            f"user {spec.user!r} (uid {ident.uid}) is not mapped in the "
            "user namespace: add a range for this user to /etc/subuid "
            "and /etc/subgid"
        )
    capset = caps.resolve(spec.privileged, spec.cap_add, spec.cap_drop)
    filt = None if spec.privileged or not spec.seccomp else seccomp.prepare(capset)
    env = user.process_env(spec.env, ident)
    plan = init.ExecPlan(
        argv=(init.INIT_PATH, "--", *spec.argv) if spec.init else spec.argv,
        env=env,
        cwd=spec.cwd or "/",
        ident=ident,
        hostname=spec.hostname,
        keep_caps=caps.mask(capset),
        drop_caps=caps.to_drop(caps.mask(capset)),
        privileged=spec.privileged,
        setgroups=idmap.helpers if idmap else namespaces.setgroups_allowed(),
        seccomp=filt,
        tty=spec.tty,
        loopback=spec.network != "host",
        rlimits=tuple((ulimits.RESOURCES[n], soft, hard) for n, soft, hard in spec.ulimits),
    )
    pooled = (
        spec.network != "host"
        and not rootless
        and not in_userns
        and not spec.privileged
        and "NET_ADMIN" not in capset
    )
    limits = cgroups.Limits(spec.memory, spec.cpus, spec.pids_limit)
    cg = None
    if limits.any():
        cg = cgroups.StepCgroup(uuid.uuid4().hex[:16], limits, parent=spec.cgroup_parent)
    fds: list[int] = []
    try:
        root = mounts.RootPlan(
            rootfs=str(spec.rootfs),
            overlay=spec.overlay,
            rootless=rootless or in_userns,
            own_netns=spec.network != "host" or not (rootless or in_userns),
            privileged=spec.privileged,
            etc_files=_etc_files(spec),
            mounts=spec.mounts + (_init_mount(),) if spec.init else spec.mounts,
            cgroups=_HIERARCHIES,
            shm_size=spec.shm_size or mounts.SHM_SIZE,
        )
        if cg is not None:
            cg.create()
        holder = netpool.POOL.acquire(spec.network) if pooled else None
        try:
            return _launch(
                spec, root, plan, cg, idmap, stdout, stderr, fds, start, rootless, holder
            )
        finally:
            if holder is not None:
                netpool.POOL.release(holder)
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if cg is not None:
            cg.remove()


def _launch(
    spec: SandboxSpec,
    root: mounts.RootPlan,
    plan: init.ExecPlan,
    cg: cgroups.StepCgroup | None,
    idmap: namespaces.IdMap | None,
    stdout: Sink,
    stderr: Sink,
    fds: list[int],
    start: float,
    rootless: bool,
    holder: netpool.Holder | None,
) -> SandboxResult:
    fresh_slirp = spec.network == "default" and holder is None
    need_sync = cg is not None or fresh_slirp or idmap is not None
    st_r, st_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC) if need_sync else (-1, -1)
    fds += [st_r, st_w] + ([go_r, go_w] if need_sync else [])
    master = feed = -1
    if spec.tty:
        master, slave = os.openpty()
        fds += [master, slave]
        if os.isatty(0):  # the container's terminal starts with our size
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
        in_fd, out_fd, err_fd = slave, slave, slave
        readers: dict[int, Sink] = {master: stdout}
    else:
        out_fd, out_r = _sink_fd(stdout)
        err_fd, err_r = _sink_fd(stderr)
        fds += [out_r, err_r, out_fd, err_fd]
        readers = {
            out_r: stdout if stdout is not None else 1,
            err_r: stderr if stderr is not None else 2,
        }
        if spec.stdin:
            in_fd, feed = os.pipe2(os.O_CLOEXEC)
            fds.append(in_fd)
        else:
            in_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            fds.append(in_fd)
    flags = namespaces.flags(spec.network, rootless)
    net_fd = -1
    if holder is not None:
        flags &= ~libc.CLONE_NEWNET
        net_fd = holder.ns_fd
    helper = os.fork()
    if helper == 0:
        namespaces.helper(flags, need_sync, root, plan, st_w, go_r, (in_fd, out_fd, err_fd), net_fd)
    if feed >= 0:  # started after the fork: the helper is a copy of one thread only
        threading.Thread(target=_feed_stdin, args=(feed,), daemon=True).start()
    # Parent: keep only our ends.
    for fd in {st_w, go_r, in_fd, out_fd, err_fd} - {0, 1, 2, -1}:
        if fd in fds and fd not in readers:
            fds.remove(fd)
            os.close(fd)
    pid1 = 0
    slirp = None
    created: list[str] = []
    errors: list[str] = []
    status = None
    live = _Live(helper)
    with _LIVE_LOCK:
        _LIVE.add(live)
    try:
        buf = b""
        if need_sync:
            buf = _await_unshared(st_r, errors)
            if errors:
                raise SandboxSetupError(errors[0])
            if idmap is not None:
                namespaces.write_maps(helper, idmap)
            if cg is not None:
                cg.add(helper)
            if fresh_slirp:
                slirp = network.Slirp(helper)
            os.write(go_w, b"G")
        status, pid1 = _pump(
            st_r, buf, readers, created, errors, master, spec.stdin and spec.tty, live
        )
        _forget(live)  # before the reap: cancel_all must never kill a reused pid
        os.waitpid(helper, 0)
        if live.cancelled:
            raise SandboxCancelled()
    except BaseException:
        _forget(live)
        for pid in (pid1, helper):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.waitpid(helper, 0)
        except ChildProcessError:
            pass
        if live.cancelled:  # whatever broke (setup, a pipe), the cause is the cancel
            raise SandboxCancelled() from None
        raise
    finally:
        if slirp is not None:
            slirp.stop()
    oom = cg.oom_killed() if cg is not None else False
    if status is None and oom:  # the OOM killer may pick PID 1 itself
        status = signal.SIGKILL
    if status is None:
        raise SandboxSetupError(errors[0] if errors else "the sandbox died during setup")
    if errors and status >> 8 in (125, 126, 127) and not os.WIFSIGNALED(status):
        # The command never ran: setup or exec failed.
        if os.WEXITSTATUS(status) == 125:
            raise SandboxSetupError(errors[0])
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    code = 128 + sig if sig else os.WEXITSTATUS(status)
    if errors and not sig and code in (126, 127):
        _emit(readers, stderr, (errors[0] + "\n").encode())
    return SandboxResult(
        exit_code=code,
        signal=sig,
        oom_killed=oom,
        created_mountpoints=removable(spec, created),
        duration=time.monotonic() - start,
        memory_limit=spec.memory,
    )


def removable(spec: SandboxSpec, created: list[str]) -> tuple[str, ...]:
    """The created mount points the layer should leave out: files, and directories
    holding nothing else. A directory the step put its own files in stays."""
    base = spec.overlay.upperdir if spec.overlay is not None else spec.rootfs
    gone: set[str] = set()
    for path in sorted(created, key=lambda p: p.count("/"), reverse=True):
        host = Path(base) / path.lstrip("/")
        if host.is_dir() and not host.is_symlink():
            try:
                names = os.listdir(host)
            except OSError:
                continue
            if any(f"{path.rstrip('/')}/{n}" not in gone for n in names):
                continue
        gone.add(path)
    return tuple(p for p in created if p in gone)


def _emit(readers: dict[int, Sink], sink: Sink, data: bytes) -> None:
    if callable(sink):
        sink(data)
    else:
        _write_all(sink if isinstance(sink, int) else 2, data)


def _await_unshared(st_r: int, errors: list[str]) -> bytes:
    buf = b""
    while b"\n" not in buf:
        chunk = os.read(st_r, 4096)
        if not chunk:
            errors.append("the sandbox helper died before unsharing namespaces")
            return b""
        buf += chunk
    line, _, rest = buf.partition(b"\n")
    if line.startswith(b"E"):
        errors.append(line[1:].decode(errors="replace"))
    return rest


def _pump(
    st_r: int,
    buf: bytes,
    readers: dict[int, Sink],
    created: list[str],
    errors: list[str],
    master: int,
    relay_stdin: bool,
    live: _Live,
) -> tuple[int | None, int]:
    """Stream output and collect control messages until everything is closed."""
    status = None
    pid1 = 0
    open_fds = {st_r, *readers}
    if relay_stdin:
        open_fds.add(0)
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [])
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # a pty master reads EIO once the slave side is gone
                data = b""
            if fd == 0:
                if data:
                    os.write(master, data)
                else:
                    open_fds.discard(0)
                continue
            if not data:
                open_fds.discard(fd)
                if fd == st_r and master >= 0:
                    open_fds.discard(master)
                    open_fds.discard(0)
                continue
            if fd != st_r:
                sink = readers[fd]
                if callable(sink):
                    sink(data)
                else:
                    _write_all(1 if sink is None else sink, data)
                continue
            buf += data
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                kind, text = line[:1], line[1:].decode(errors="replace")
                if kind == b"M":
                    created.append(text)
                elif kind == b"E":
                    errors.append(text)
                elif kind == b"S":
                    status = int(text)
                elif kind == b"P":
                    pid1 = int(text)
                    with _LIVE_LOCK:  # a cancel before this killed the helper: PDEATHSIG
                        live.pids.append(pid1)
    return status, pid1


__all__ = ["SandboxCancelled", "SandboxError", "cancel_all", "run"]
