"""The sandbox's value types: what to run (`SandboxSpec`), extra mounts, the overlay
the sandbox may mount itself, and what happened (`SandboxResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NETWORKS = ("default", "none", "host")


@dataclass(frozen=True)
class Mount:
    """An extra mount: `bind` (source -> target), `tmpfs` (target), for RUN --mount
    secrets, caches and binds. `target` is a path inside the sandbox."""

    target: str
    type: str = "bind"  # bind | tmpfs
    source: Path | None = None
    readonly: bool = False
    options: str = ""  # tmpfs data, e.g. "size=64m,mode=1777"


@dataclass(frozen=True)
class Overlay:
    """An overlay the sandbox mounts at `SandboxSpec.rootfs` inside its own mount
    namespace (needed rootless: only the user namespace may mount it). The mount
    disappears with the namespace, so nothing is left on the host."""

    lowerdirs: tuple[Path, ...]  # top-most first, as overlayfs wants them
    upperdir: Path
    workdir: Path


@dataclass(frozen=True)
class SandboxSpec:
    """Everything one sandboxed process needs. Paths in `cwd`, `Mount.target` are
    inside the sandbox; `rootfs` is on the host."""

    rootfs: Path
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: str = "/"
    user: str = ""  # USER: name, uid, name:group, uid:gid
    hostname: str = "pybuild"
    network: str = "default"  # default | none | host
    mounts: tuple[Mount, ...] = ()
    overlay: Overlay | None = None
    memory: int | None = None  # bytes
    cpus: float | None = None
    pids_limit: int | None = None
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    tty: bool = False  # the command gets a pty (see runner.run)
    stdin: bool = False  # pass pybuild's stdin through (`run -i`)
    hosts: str | Path | None = None  # content, or a host file to bind; None = generated
    resolv_conf: str | Path | None = None  # content, or a host file; None = from the host
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (name, ip)
    seccomp: bool = True  # False = unconfined (privileged implies it)
    cgroup_parent: str = "pybuild"  # cgroups go in <controller>/<cgroup_parent>/<random>
    init: bool = False  # `docker run --init`: tini as PID 1 reaps and forwards signals
    shm_size: int | None = None  # /dev/shm in bytes; None is Docker's 64 MiB
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name as `--ulimit` has it, soft, hard)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}")
        if not self.argv:
            raise ValueError("argv must not be empty")


@dataclass(frozen=True)
class SandboxResult:
    """How the command ended. `exit_code` follows the shell: 128+N when killed by
    signal N. `created_mountpoints` are paths (inside the rootfs) the sandbox had to
    create only to mount over them: the layer diff must leave them out."""

    exit_code: int
    signal: int = 0
    oom_killed: bool = False
    created_mountpoints: tuple[str, ...] = ()
    duration: float = 0.0
    memory_limit: int | None = field(default=None, compare=False)
