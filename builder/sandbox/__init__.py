"""The RUN sandbox, built from kernel primitives (ARCHITECTURE §6): namespaces (mount, pid
whose PID 1 is the command, uts, ipc, net, cgroup, and user when rootless), pivot_root into
the step's root, a private /proc with Docker's masked and read-only paths, read-only
/sys, a minimal /dev, Docker's 14 default capabilities, Docker's default seccomp
profile, cgroup limits (v2 or v1) and the network modes none/host/default
(slirp4netns). No container runtime is involved: ctypes calls unshare, mount,
pivot_root, prctl, capset, and libseccomp compiles the filter.

Public API (everything else is internal):

    from builder.sandbox import SandboxSpec, Mount, Overlay, run, check

    result = run(SandboxSpec(rootfs=merged_dir, argv=("/bin/sh", "-c", "make"),
                             env=(("PATH", "/usr/bin:/bin"),), cwd="/src", user="app",
                             network="default", memory=64 << 20),
                 stdout=callback_or_fd, stderr=callback_or_fd)
    result.exit_code, result.signal, result.oom_killed, result.duration
    result.created_mountpoints   # e.g. ("/etc/hosts",): leave these out of the layer
    check(result, "RUN make")    # raises StepOOM / StepFailed, else returns result

- `SandboxSpec.rootfs` is a directory to pivot into (usually an overlay merged dir the
  caller mounted). With `overlay=Overlay(lowerdirs, upperdir, workdir)` the sandbox
  mounts the overlay at `rootfs` itself, inside its own mount namespace (rootless
  needs this; `userxattr` is added then). Nothing the sandbox mounts outlives it.
- `stdout`/`stderr`: None inherits pybuild's, an int is an fd to write to, a callable
  gets bytes as they arrive. `tty=True` gives the command a pty (both streams go to
  `stdout`); `stdin=True` passes pybuild's stdin through.
- Errors: `SandboxSetupError` (one line that says what to do), `UnknownUser`,
  `StepFailed`, `StepOOM`, all `BuildError`s.
- Threads: `run` may be called from several threads at once. The sandbox dies with
  the thread that started it (PR_SET_PDEATHSIG), so call it from a thread that
  outlives the step. Ctrl-C reaches the main thread only: `cancel_all()` (any thread)
  kills every running sandbox, whose `run` cleans up and raises `SandboxCancelled`
  (a KeyboardInterrupt).
- `network="default"` and `"none"` steps take a ready network namespace from a pool
  (`netpool`); default ones are already served by slirp4netns, so it starts once per
  concurrent step, not once per RUN. NET_ADMIN, privileged and rootless steps get a
  fresh namespace.
- Limits make a cgroup under `<controller>/<cgroup_parent>/<random>` (v1) or
  `<cgroup_parent>/<random>` (v2), removed afterwards; the step sees its own
  cgroups read-only at /sys/fs/cgroup (cgroup namespace).
- Inside: umask 022, stdin /dev/null unless `stdin=True`, no HOSTNAME variable
  (BuildKit sets none; `pybuild run` adds it), PATH defaulted when the env has none.

How a step starts (runner.run): pybuild forks a helper that unshares mount, uts,
ipc, pid, net (and user, rootless) namespaces; pybuild then joins it to the cgroup,
starts slirp4netns or writes id maps if needed, and says go; the helper forks PID 1
(init.pid1), which mounts the root (mounts.setup) and pivots, takes on the command's
bounding set, groups, uid/gid, capabilities and seccomp filter, and execs the command
in a new session: the command is PID 1, as in `docker run` (`init=True` execs
docker's tini first, which reaps and forwards signals). The helper, outside the pid
namespace, waits for it and reports its status. stdin, stdout and stderr are pipes
(or the tty): never a host file the command could reopen through /proc/self/fd.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.sandbox import caps as caps
    from builder.sandbox import cgroups as cgroups
    from builder.sandbox import libc as libc
    from builder.sandbox import namespaces as namespaces
    from builder.sandbox import netpool as netpool
    from builder.sandbox import seccomp as seccomp
    from builder.sandbox.errors import SandboxError as SandboxError
    from builder.sandbox.errors import SandboxSetupError as SandboxSetupError
    from builder.sandbox.errors import StepFailed as StepFailed
    from builder.sandbox.errors import StepOOM as StepOOM
    from builder.sandbox.errors import check as check
    from builder.sandbox.runner import SandboxCancelled as SandboxCancelled
    from builder.sandbox.runner import cancel_all as cancel_all
    from builder.sandbox.runner import run as run
    from builder.sandbox.spec import Mount as Mount
    from builder.sandbox.spec import Overlay as Overlay
    from builder.sandbox.spec import SandboxResult as SandboxResult
    from builder.sandbox.spec import SandboxSpec as SandboxSpec
    from builder.sandbox.user import UnknownUser as UnknownUser

# The package is a seam (PEP 562): these load on first use, so a build whose every
# step is cached never imports the sandbox.
_EXPORTS = {
    "SandboxError": "errors",
    "SandboxSetupError": "errors",
    "StepFailed": "errors",
    "StepOOM": "errors",
    "check": "errors",
    "SandboxCancelled": "runner",
    "cancel_all": "runner",
    "run": "runner",
    "Mount": "spec",
    "Overlay": "spec",
    "SandboxResult": "spec",
    "SandboxSpec": "spec",
    "UnknownUser": "user",
}
_SUBMODULES = frozenset({"caps", "cgroups", "libc", "namespaces", "netpool", "seccomp"})


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Mount",
    "Overlay",
    "SandboxCancelled",
    "SandboxError",
    "SandboxResult",
    "SandboxSetupError",
    "SandboxSpec",
    "StepFailed",
    "StepOOM",
    "UnknownUser",
    "cancel_all",
    "check",
    "run",
]
