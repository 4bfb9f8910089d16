"""`Platform` (os/arch[/variant]) as containerd normalises it, and the host's platform.
Re-exported by `store.digest`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}


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
        parts = text.strip().lower().split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise ValueError(f"invalid platform {text!r}: want os/arch[/variant]")
        os_ = parts[0]
        arch = _ARCH_ALIASES.get(parts[1], parts[1]) if len(parts) > 1 else host_platform().architecture
        variant = parts[2] if len(parts) > 2 else ""
        if arch == "arm64" and variant == "v8":
            variant = ""
        if arch == "arm" and not variant:
            variant = "v7"
        return cls(os_, arch, variant)

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
        if (self.os, self.architecture) != (other.os, _ARCH_ALIASES.get(other.architecture, other.architecture)):
            return False
        return not self.variant or not other.variant or self.variant == other.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    arch = os.uname().machine.lower()  # as platform.machine(), without its ~1.5 ms import
    arch = _ARCH_ALIASES.get(arch, arch)
    return Platform("linux", arch, "v7" if arch == "arm" else "")
