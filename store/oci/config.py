"""The image configuration: `ImageConfig` (OCI image-spec config.md), its runtime
`ContainerConfig` (OCI fields plus Docker's Healthcheck, OnBuild, Shell, StopSignal),
`Healthcheck` and `History` entries.

All are frozen; change them with `dataclasses.replace`. `from_json` keeps unknown
fields in `extra` and `to_json` writes them back, so a config read from anywhere
round-trips. `go_json` serialises like Go's encoding/json (compact, maps sorted,
HTML-escaped), so digests match what BuildKit/docker would write for the same value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store.errors import InvalidDigest, InvalidImage
from store.oci.digest import Digest


def go_json(obj: Any) -> bytes:
    """Compact JSON as Go's json.Marshal writes it (dict keys as given by the caller)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for a, b in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(a, b)
    return text.encode()


def _strs(v: Any, what: str) -> tuple[str, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidImage("config", f"{what} must be a list of strings")
    return tuple(v)


def _keys(v: Any, what: str) -> tuple[str, ...] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise InvalidImage("config", f"{what} must be an object")
    return tuple(sorted(v))


@dataclass(frozen=True)
class Healthcheck:
    """Docker's HEALTHCHECK; durations in nanoseconds as Docker stores them."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    _FIELDS = (
        ("Interval", "interval"),
        ("Timeout", "timeout"),
        ("StartPeriod", "start_period"),
        ("StartInterval", "start_interval"),
        ("Retries", "retries"),
    )

    @classmethod
    def from_json(cls, unsafe: Mapping[str, Any]) -> Healthcheck:
        kw = {py: int(unsafe.get(go) or 0) for go, py in cls._FIELDS}
        return cls(test=_strs(unsafe.get("Test"), "Healthcheck.Test") or (), **kw)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for go, py in self._FIELDS:
            if getattr(self, py):
                out[go] = getattr(self, py)
        return out


# (JSON key, attribute, kind) in the order Go's struct (and so BuildKit) writes them.
_CC_FIELDS = (
    ("User", "user", "str"),
    ("ExposedPorts", "exposed_ports", "set"),
    ("Env", "env", "list"),
    ("Entrypoint", "entrypoint", "list"),
    ("Cmd", "cmd", "list"),
    ("Volumes", "volumes", "set"),
    ("WorkingDir", "working_dir", "str"),
    ("Labels", "labels", "map"),
    ("StopSignal", "stop_signal", "str"),
    ("ArgsEscaped", "args_escaped", "bool"),
    ("Healthcheck", "healthcheck", "health"),
    ("OnBuild", "on_build", "list"),
    ("Shell", "shell", "list"),
)


@dataclass(frozen=True)
class ContainerConfig:
    """The `config` object of an image config. None means "absent" (not written)."""

    user: str | None = None
    exposed_ports: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] | None = None
    working_dir: str | None = None
    labels: Mapping[str, str] | None = None
    stop_signal: str | None = None
    args_escaped: bool | None = None
    healthcheck: Healthcheck | None = None
    on_build: tuple[str, ...] | None = None
    shell: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, unsafe: Mapping[str, Any] | None) -> ContainerConfig:
        if unsafe is None:
            return cls()
        if not isinstance(unsafe, Mapping):
            raise InvalidImage("config", "config.config must be an object")
        kw: dict[str, Any] = {}
        for key, attr, kind in _CC_FIELDS:
            v = unsafe.get(key)
            if v is None:
                continue
            if kind == "str":
                if not isinstance(v, str):
                    raise InvalidImage("config", f"{key} must be a string")
                kw[attr] = v
            elif kind == "list":
                kw[attr] = _strs(v, key)
            elif kind == "set":
                kw[attr] = _keys(v, key)
            elif kind == "map":
                if not isinstance(v, Mapping):
                    raise InvalidImage("config", f"{key} must be an object")
                kw[attr] = {str(k): str(x) for k, x in v.items()}
            elif kind == "bool":
                if not isinstance(v, bool):
                    raise InvalidImage("config", f"{key} must be a boolean")
                kw[attr] = v
            elif kind == "health":
                if not isinstance(v, Mapping):
                    raise InvalidImage("config", "Healthcheck must be an object")
                kw[attr] = Healthcheck.from_json(v)
        for e in kw.get("env") or ():
            if "=" not in e or e.startswith("="):
                raise InvalidImage("config", f"Env entry {e!r} is not KEY=VALUE")
        known = {k for k, _, _ in _CC_FIELDS}
        kw["extra"] = {k: v for k, v in unsafe.items() if k not in known}
        return cls(**kw)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attr, kind in _CC_FIELDS:
            v = getattr(self, attr)
            if v is None:
                continue
            if kind == "set":
                out[key] = {k: {} for k in sorted(v)}
            elif kind == "map":
                out[key] = dict(sorted(v.items()))
            elif kind == "list":
                out[key] = list(v)
            elif kind == "health":
                out[key] = v.to_json()
            else:
                out[key] = v
        out.update(self.extra)
        return out

    def env_dict(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.env or ())


@dataclass(frozen=True)
class History:
    """One history entry of an image config (OCI image-spec `history`)."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = ("created", "author", "created_by", "comment")

    @classmethod
    def from_json(cls, unsafe: Mapping[str, Any]) -> History:
        if not isinstance(unsafe, Mapping):
            raise InvalidImage("config", "history entries must be objects")
        kw = {k: str(unsafe[k]) for k in cls._KEYS if unsafe.get(k) is not None}
        extra = {k: v for k, v in unsafe.items() if k not in cls._KEYS + ("empty_layer",)}
        return cls(empty_layer=bool(unsafe.get("empty_layer")), extra=extra, **kw)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: getattr(self, k) for k in self._KEYS if getattr(self, k) is not None
        }
        if self.empty_layer:
            out["empty_layer"] = True
        out.update(self.extra)
        return out


_TOP = (
    "created",
    "author",
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "config",
    "rootfs",
    "history",
)


@dataclass(frozen=True)
class ImageConfig:
    """An image config (OCI `application/vnd.oci.image.config.v1+json`, which Docker's
    `application/vnd.docker.container.image.v1+json` extends)."""

    architecture: str = "amd64"
    os: str = "linux"
    config: ContainerConfig = field(default_factory=ContainerConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    created: str | None = None
    author: str | None = None
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, unsafe: Any) -> ImageConfig:
        if not isinstance(unsafe, Mapping):
            raise InvalidImage("config", "not a JSON object")
        rootfs = unsafe.get("rootfs") or {}
        if not isinstance(rootfs, Mapping) or rootfs.get("type", "layers") != "layers":
            raise InvalidImage("config", "rootfs.type must be 'layers'")
        try:
            diff_ids = tuple(Digest.parse(d) for d in rootfs.get("diff_ids") or ())
        except InvalidDigest as e:
            raise InvalidImage("config", f"bad diff_id: {e}") from None
        hist = unsafe.get("history") or []
        if not isinstance(hist, list):
            raise InvalidImage("config", "history must be a list")
        for k in ("created", "author", "variant", "architecture", "os", "os.version"):
            if unsafe.get(k) is not None and not isinstance(unsafe[k], str):
                raise InvalidImage("config", f"{k} must be a string")
        opt = {k: unsafe[k] for k in ("created", "author", "variant") if unsafe.get(k) is not None}
        return cls(
            architecture=str(unsafe.get("architecture", "")),
            os=str(unsafe.get("os", "")),
            config=ContainerConfig.from_json(unsafe.get("config")),
            diff_ids=diff_ids,
            history=tuple(History.from_json(h) for h in hist),
            os_version=unsafe.get("os.version"),
            os_features=_strs(unsafe.get("os.features"), "os.features"),
            extra={k: v for k, v in unsafe.items() if k not in _TOP},
            **opt,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created is not None:
            out["created"] = self.created
        if self.author is not None:
            out["author"] = self.author
        out["architecture"] = self.architecture
        out["os"] = self.os
        if self.os_version is not None:
            out["os.version"] = self.os_version
        if self.os_features is not None:
            out["os.features"] = list(self.os_features)
        if self.variant is not None:
            out["variant"] = self.variant
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return go_json(self.to_json())

    def non_empty_history(self) -> list[History]:
        return [h for h in self.history if not h.empty_layer]
