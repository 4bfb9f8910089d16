"""Linux capabilities: names, Docker's default set, `--cap-add/--cap-drop`, and
applying a set to the process about to exec (bounding set, then uid switch, then
capset), so root gets exactly the set and a non-root USER gets none effective."""

from __future__ import annotations

from functools import lru_cache

from builder.sandbox import libc
from builder.sandbox.errors import SandboxSetupError

NAMES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
NUMBER = {name: i for i, name in enumerate(NAMES)}

DOCKER_DEFAULT = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)


@lru_cache(maxsize=1)
def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def _norm(name: str) -> str:
    n = name.strip().upper()
    n = n[4:] if n.startswith("CAP_") else n
    if n != "ALL" and n not in NUMBER:
        raise SandboxSetupError(
            f"unknown capability {name!r}: use a name such as NET_ADMIN or CAP_SYS_ADMIN"
        )
    return n


def resolve(
    privileged: bool, cap_add: tuple[str, ...] = (), cap_drop: tuple[str, ...] = ()
) -> frozenset[str]:
    """The capability names in force, as Docker computes them (drop ALL first, then add)."""
    everything = frozenset(NAMES[: last_cap() + 1]) & available()
    if privileged:
        return everything
    caps = set(DOCKER_DEFAULT)
    drops = {_norm(c) for c in cap_drop}
    adds = {_norm(c) for c in cap_add}
    if "ALL" in drops:
        caps.clear()
    caps -= drops
    caps |= everything if "ALL" in adds else adds
    return frozenset(caps) & available()


@lru_cache(maxsize=1)
def available() -> frozenset[str]:
    """What pybuild itself may hand out: its own bounding set (a host may lack some)."""
    try:
        with open("/proc/self/status") as f:
            return names_of(parse_status(f.read()).get("CapBnd", (1 << 64) - 1))
    except OSError:
        return frozenset(NAMES)


def mask(names: frozenset[str]) -> int:
    bits = 0
    for n in names:
        bits |= 1 << NUMBER[n]
    return bits


def to_drop(keep: int) -> tuple[int, ...]:
    """The capability numbers to drop from the bounding set to leave `keep`."""
    return tuple(cap for cap in range(last_cap() + 1) if not keep & (1 << cap))


def drop_bounding(drop: tuple[int, ...]) -> None:
    """Drop capabilities from the bounding set (needs CAP_SETPCAP)."""
    for cap in drop:
        libc.prctl(libc.PR_CAPBSET_DROP, cap)


def apply_after_setuid(keep: int, uid: int) -> None:
    """Finish after setresuid: root keeps `keep` effective/permitted, nobody inherits;
    a non-root uid was already stripped to nothing by the kernel."""
    libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    if uid == 0:
        libc.capset(keep, keep, 0)
    else:
        libc.capset(0, 0, 0)


def parse_status(text: str) -> dict[str, int]:
    """CapInh/CapPrm/CapEff/CapBnd/CapAmb from /proc/PID/status."""
    out = {}
    for line in text.splitlines():
        key, _, val = line.partition(":")
        if key.startswith("Cap"):
            out[key] = int(val.strip(), 16)
    return out


def names_of(bits: int) -> frozenset[str]:
    return frozenset(n for n, i in NUMBER.items() if bits & (1 << i))
