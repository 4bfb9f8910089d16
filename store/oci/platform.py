"""`Platform` (os/arch[/variant]) as containerd normalises it, and the host's platform.
It has no I/O but `host_platform`'s uname(2)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_KNOWN_OS = frozenset(
    (
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "windows",
        "zos",
    )
)
# uname -m values normalize_arch does not know: the arm ones carry the variant
_MACHINES = {"armv7l": ("arm", "v7"), "armv6l": ("arm", "v6")}


def normalize_arch(arch: str, variant: str = "") -> tuple[str, str]:
    """(arch, variant) as containerd's platforms.normalizeArch makes them."""
    arch, variant = arch.lower(), variant.lower()
    if arch in ("i386", "i686"):
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"}.get(
            variant, variant
        )
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        return "arm", {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant, variant)
    return arch, variant


@dataclass(frozen=True)
class Platform:
    """`os/arch[/variant]`, normalised as containerd's platforms package does."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Platform:
        """containerd's platforms.Parse + Normalize: `linux/x86_64` -> linux/amd64,
        `linux/arm` -> linux/arm/v7, `arm64` -> linux/arm64, `windows` -> windows/<host
        arch>."""
        parts = text.strip().lower().split("/")
        if (
            not 1 <= len(parts) <= 3
            or not all(parts)
            or not all(c.isascii() and (c.isalnum() or c in "_-.") for p in parts for c in p)
        ):
            raise ValueError(f"invalid platform {text!r}: want os/arch[/variant]")
        if len(parts) == 1:
            if parts[0] in _KNOWN_OS:
                host = host_platform()
                return cls(parts[0], host.architecture, host.variant)
            return cls("linux", *normalize_arch(parts[0]))
        return cls(parts[0], *normalize_arch(parts[1], parts[2] if len(parts) > 2 else ""))

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Platform:
        return cls(
            os=obj.get("os", ""),
            architecture=obj.get("architecture", ""),
            variant=obj.get("variant", ""),
            os_version=obj.get("os.version", ""),
            os_features=tuple(obj.get("os.features", ())),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        return out

    def matches(self, other: Platform) -> bool:
        """True when `other` (an index entry) can run where `self` is wanted."""
        if (self.os, self.architecture) != (other.os, normalize_arch(other.architecture)[0]):
            return False
        return not self.variant or not other.variant or self.variant == other.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    machine = os.uname().machine.lower()  # as platform.machine(), without its ~1.5 ms import
    arch, variant = _MACHINES.get(machine, (machine, ""))
    return Platform("linux", *normalize_arch(arch, variant))
