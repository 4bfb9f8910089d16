"""Resource limits through cgroups: v2 when /sys/fs/cgroup is a unified hierarchy
with controllers, else the v1 controllers (memory, pids, cpu) as on hybrid hosts.
One cgroup per step under `pybuild/`, joined by the sandbox's first process before
it forks anything, read for OOM kills, and removed afterwards."""

from __future__ import annotations

import errno
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from builder.sandbox.errors import SandboxSetupError

ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD = 100_000


@dataclass(frozen=True)
class Limits:
    """The resource limits of one RUN (None: no limit)."""

    memory: int | None = None
    cpus: float | None = None
    pids: int | None = None

    def any(self) -> bool:
        return self.memory is not None or self.cpus is not None or self.pids is not None


def is_v2(root: Path = ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def hierarchies() -> tuple[tuple[str, str, str], ...]:
    """The host's cgroup mounts under /sys/fs/cgroup as (name, fstype, options), so the
    sandbox can show its own (namespaced, read-only) view: ("", "cgroup2", "") when
    /sys/fs/cgroup itself is v2; else one entry per v1 controller (and `unified`)."""
    out = []
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        fields = line.split()
        point = fields[4]
        sep = fields.index("-")
        fstype, super_opts = fields[sep + 1], fields[sep + 3]
        if fstype not in ("cgroup", "cgroup2") or not point.startswith(str(ROOT)):
            continue
        name = point[len(str(ROOT)) :].strip("/")
        if "/" in name:
            continue
        opts = ",".join(o for o in super_opts.split(",") if o not in ("rw", "ro"))
        out.append((name, fstype, opts))
    return tuple(out)


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _need(ctrl: str) -> SandboxSetupError:
    return SandboxSetupError(
        f"no cgroup {ctrl} controller: mount it under /sys/fs/cgroup (v1 or v2) "
        f"and run pybuild as root, or drop the --{ctrl} limit"
    )


class StepCgroup:
    """The cgroup(s) of one step. `create`, `add(pid)`, `oom_killed()`, `remove()`."""

    def __init__(
        self, name: str, limits: Limits, root: Path = ROOT, parent: str = "pybuild"
    ) -> None:
        # `<pid>-` prefix: a later step can tell (and remove) cgroups of killed pybuilds
        self.name, self.limits, self.root, self.parent = (
            f"{os.getpid()}-{name}",
            limits,
            root,
            parent,
        )
        self.v2 = is_v2(root)
        self.dirs: list[Path] = []

    def _wanted_v1(self) -> list[str]:
        lim = self.limits
        return [
            c
            for c, want in (("memory", lim.memory), ("pids", lim.pids), ("cpu", lim.cpus))
            if want is not None
        ]

    def create(self) -> None:
        reap_stale(self.root, self.parent)
        try:
            self._create_v2() if self.v2 else self._create_v1()
        except PermissionError as e:
            self.remove()
            raise SandboxSetupError(
                f"cannot create a cgroup ({e.filename}): run pybuild "
                "as root or delegate a cgroup, or drop the limits"
            ) from e

    def _create_v1(self) -> None:
        lim = self.limits
        for ctrl in self._wanted_v1():
            base = self.root / ctrl
            if not (base / "cgroup.procs").exists():
                raise _need({"pids": "pids-limit", "cpu": "cpus"}.get(ctrl, ctrl))
            d = base / self.parent / self.name
            d.mkdir(parents=True)
            _reap_stale(d.parent, keep=d)
            self.dirs.append(d)
            if ctrl == "memory":
                _write(d / "memory.limit_in_bytes", str(lim.memory))
                if (d / "memory.memsw.limit_in_bytes").exists():
                    _write(d / "memory.memsw.limit_in_bytes", str(lim.memory))
            elif ctrl == "pids":
                _write(d / "pids.max", str(lim.pids))
            elif ctrl == "cpu" and lim.cpus is not None:  # _wanted_v1 lists it only then
                _write(d / "cpu.cfs_period_us", str(CPU_PERIOD))
                _write(d / "cpu.cfs_quota_us", str(int(lim.cpus * CPU_PERIOD)))

    def _create_v2(self) -> None:
        lim = self.limits
        parent = self.root / self.parent
        have = set((self.root / "cgroup.controllers").read_text().split())
        want = {c for c in self._wanted_v1()}
        if want - have:
            raise _need(sorted(want - have)[0])
        parent.mkdir(parents=True, exist_ok=True)
        enable = " ".join("+" + c for c in sorted(want))
        if enable:
            for d in (self.root, parent):
                _write(d / "cgroup.subtree_control", enable)
        d = parent / self.name
        d.mkdir()
        _reap_stale(parent, keep=d)
        self.dirs.append(d)
        if lim.memory is not None:
            _write(d / "memory.max", str(lim.memory))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
        if lim.pids is not None:
            _write(d / "pids.max", str(lim.pids))
        if lim.cpus is not None:
            _write(d / "cpu.max", f"{int(lim.cpus * CPU_PERIOD)} {CPU_PERIOD}")

    def add(self, pid: int) -> None:
        for d in self.dirs:
            _write(d / "cgroup.procs", str(pid))

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for fname in ("memory.events", "memory.oom_control"):
                f = d / fname
                if f.exists():
                    for line in f.read_text().splitlines():
                        key, _, val = line.partition(" ")
                        if key == "oom_kill" and int(val) > 0:
                            return True
        return False

    def remove(self) -> None:
        """rmdir each cgroup, waiting briefly for exiting tasks to leave."""
        for d in self.dirs:
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise
                    _kill_all(d)
                    time.sleep(0.005)
        self.dirs = []


def reap_stale(root: Path = ROOT, parent: str = "pybuild") -> list[Path]:
    """Remove step cgroups (`<pid>-*`) whose pybuild was killed; each is reported once
    on stderr. Tasks still in one are killed first (none should outlive their step)."""
    gone: list[Path] = []
    for base in [root] if is_v2(root) else [h for h in root.iterdir() if h.is_dir()]:
        try:
            entries = list((base / parent).iterdir())
        except OSError:
            continue
        for d in entries:
            pid = d.name.partition("-")[0]
            if not pid.isdigit() or not d.is_dir() or os.path.exists(f"/proc/{pid}"):
                continue
            _kill_all(d)
            try:
                d.rmdir()
            except OSError:
                continue  # another pybuild removed it, or tasks are still leaving
            gone.append(d)
            print(f"pybuild: cleaned up cgroup {d} left by killed pid {pid}", file=sys.stderr)
    return gone


STALE_AFTER = 120.0


def _reap_stale(parent: Path, keep: Path) -> None:
    """Remove step cgroups a killed pybuild left behind. rmdir refuses (EBUSY) any
    cgroup that still has processes, and young ones may belong to a step starting."""
    now = time.time()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False) and e.path != str(keep):
            try:
                if now - e.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    os.rmdir(e.path)
            except OSError:
                pass


def _kill_all(d: Path) -> None:
    try:
        pids = (d / "cgroup.procs").read_text().split()
    except OSError:
        return
    for p in pids:
        try:
            os.kill(int(p), 9)
        except ProcessLookupError:
            pass
