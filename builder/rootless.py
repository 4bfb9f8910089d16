"""Rootless pybuild: a non-root caller becomes uid 0 of its own user namespace.

As podman and buildah do in rootless mode, a verb that mounts or owns files in the
store (build, run, pull, load, prune...) first moves the whole pybuild process into a
new user namespace and mount namespace: uid/gid 0 inside map to the caller, and 1..N
to its subordinate range from /etc/subuid and /etc/subgid (written by newuidmap and
newgidmap) when it has one, else only the single mapping. Inside, the snapshotter
mounts overlays with `userxattr`, unpack chowns to mapped ids, and the sandbox makes no
second user namespace. Mounts live and die with the mount namespace, so a killed
pybuild leaves none on the host.

The process itself moves (no re-exec): a forked helper, still outside, writes the maps
for it, because newuidmap must run in the parent namespace. `PYBUILD_USERNS=1` marks
child processes. The store root is fixed first (`$XDG_DATA_HOME/pybuild`), since inside
the namespace pybuild is uid 0 and would otherwise pick root's /var/lib/pybuild.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from builder.errors import BuildError
from builder.sandbox import libc, namespaces
from builder.sandbox.errors import SandboxError
from store.layout import default_root

if TYPE_CHECKING:
    from builder.sandbox.namespaces import IdMap

MARKER = "PYBUILD_USERNS"
# Verbs that never touch snapshots or mounts stay outside (faster, simpler).
OUTSIDE = frozenset(
    {"plan", "login", "logout", "completion", "images", "inspect", "history", "tag", "save", "push"}
)


class RootlessError(BuildError):
    """The user namespace could not be made (disabled, or bad subordinate ids)."""


def maybe_enter(verb: str) -> None:
    """Enter the user namespace when a non-root caller runs `verb` (see the docstring)."""
    if os.geteuid() == 0 or verb in OUTSIDE:
        return
    enter()


def enter() -> None:
    os.environ["PYBUILD_ROOT"] = str(default_root())
    try:
        namespaces.check_userns()
    except SandboxError as e:
        raise RootlessError(str(e)) from None
    idmap = namespaces.rootless_map()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    me = os.getpid()
    helper = os.fork()
    if helper == 0:  # outside: wait for the unshare, then write the maps for `me`
        code = 1
        try:
            os.close(go_w)
            os.close(res_r)
            if os.read(go_r, 1) == b"G":
                try:
                    _write_maps(me, idmap)
                    os.write(res_w, b"ok")
                    code = 0
                except (SandboxError, OSError) as e:
                    os.write(res_w, str(e).encode()[:4000])
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(res_w)
    try:
        try:
            libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
        except OSError as e:
            raise RootlessError(
                f"cannot create a user namespace for rootless pybuild "
                f"({e.strerror or e}): enable unprivileged user namespaces, "
                "or run as root"
            ) from None
        os.write(go_w, b"G")
        os.close(go_w)
        go_w = -1
        answer = _read_all(res_r)
    finally:
        if go_w >= 0:
            os.close(go_w)
        os.close(res_r)
        os.waitpid(helper, 0)
    if answer != b"ok":
        raise RootlessError(
            "rootless pybuild could not map its user namespace: "
            + (answer.decode(errors="replace").strip() or "the helper died")
        )
    if idmap.helpers:
        os.setgroups([])  # the caller's groups are unmapped in here (nogroup)
    # our mounts stay ours (a namespace made this way gets slave mounts anyway)
    libc.mount("", "/", "", libc.MS_REC | libc.MS_PRIVATE)
    os.environ[MARKER] = "1"


def _read_all(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 4096):
        out += chunk
    return out


def _write_maps(pid: int, idmap: IdMap) -> None:
    """namespaces.write_maps, with newuidmap and newgidmap run side by side."""

    if not idmap.helpers:
        namespaces.write_maps(pid, idmap)
        return
    procs = [
        (
            tool,
            subprocess.Popen(
                [tool, str(pid), *(str(x) for r in ranges for x in r)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for tool, ranges in (("newuidmap", idmap.uids), ("newgidmap", idmap.gids))
    ]
    for tool, proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise OSError(f"{tool} failed: {err.strip()}; check /etc/subuid and /etc/subgid")
