"""Build-argument scoping, as BuildKit's dockerfile2llb does it.

Public API (stable):
- `PROXY_ARGS`: the predefined proxy ARGs (usable in RUN without an ARG line, kept out
  of history and cache keys unless declared).
- `platform_args(target, build) -> dict`: TARGETPLATFORM, TARGETOS, TARGETARCH,
  TARGETVARIANT and the BUILD* counterparts.
- `normalize_platform(text) -> str`.
- `config_env(image_config) -> dict`, `try_expand(word, env, escape) -> str`.
- `GlobalArgs`: the ARGs before the first FROM (plus the automatic platform ARGs),
  usable in FROM lines; `StageArgs`: the ARG/ENV state inside one stage.

Rules: a global ARG is visible in a stage only after `ARG NAME` redeclares it (then
it takes the global value); `--build-arg` overrides an ARG's default; ENV shadows ARG.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.frontend.expand import ExpansionError, expand_word
from store.oci.platform import Platform

PROXY_ARGS = frozenset(
    (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    )
)


def normalize_platform(text: str) -> str:
    """As BuildKit (containerd) normalises: `linux/x86_64` -> `linux/amd64`, `amd64` ->
    `linux/amd64`, `linux/arm` -> `linux/arm/v7`; ValueError when it is no platform."""
    return str(Platform.parse(text))


def _split(plat: str) -> tuple[str, str, str]:
    parts = plat.split("/") + ["", ""]
    return parts[0], parts[1], parts[2]


def platform_args(target: str, build: str) -> dict[str, str]:
    t_os, t_arch, t_var = _split(target)
    b_os, b_arch, b_var = _split(build)
    return {
        "TARGETPLATFORM": target,
        "TARGETOS": t_os,
        "TARGETARCH": t_arch,
        "TARGETVARIANT": t_var,
        "BUILDPLATFORM": build,
        "BUILDOS": b_os,
        "BUILDARCH": b_arch,
        "BUILDVARIANT": b_var,
    }


class GlobalArgs:
    """ARGs before the first FROM; `values` is what FROM lines expand with."""

    def __init__(self, build_args: Mapping[str, str], auto: Mapping[str, str], escape: str) -> None:
        self.build_args, self.escape = build_args, escape
        self.values: dict[str, str] = {k: build_args.get(k, v) for k, v in auto.items()}
        self.declared: set[str] = set()

    def declare(self, name: str, default: str | None) -> None:
        self.declared.add(name)
        if name in self.build_args:
            self.values[name] = self.build_args[name]
        elif default is not None:
            self.values[name] = expand_word(default, self.values, self.escape)


class StageArgs:
    """ARG and ENV state inside one stage, in declaration order."""

    def __init__(self, global_args: GlobalArgs, base_env: Mapping[str, str]) -> None:
        self.globals = global_args
        self.args: dict[str, str] = {}  # ARGs in scope with a value
        self.env: dict[str, str] = dict(base_env)

    def lookup(self) -> dict[str, str]:
        """What `$NAME` sees: ARGs in scope, shadowed by ENV."""
        return {**self.args, **self.env}

    def declare(self, name: str, default: str | None) -> None:
        build_args = self.globals.build_args
        if name in build_args:
            self.args[name] = build_args[name]
        elif default is not None:
            self.args[name] = default
        elif name in self.globals.values:
            self.args[name] = self.globals.values[name]

    def values_of(
        self, declared: tuple[tuple[str, str | None], ...]
    ) -> tuple[tuple[str, str | None], ...]:
        """What each `name[=default]` of one ARG instruction, just declared, takes: its
        build-arg, else its default, else the value in scope then (a global ARG's);
        None when it has none."""
        build_args = self.globals.build_args
        return tuple(
            (k, build_args[k] if k in build_args else d if d is not None else self.args.get(k))
            for k, d in declared
        )

    def set_env(self, key: str, value: str) -> None:
        self.env[key] = value

    def run_args(self) -> dict[str, str]:
        """The build args a RUN sees as environment: ARGs in scope plus proxy build-args."""
        proxies = {k: v for k, v in self.globals.build_args.items() if k in PROXY_ARGS}
        return {**proxies, **self.args}


def config_env(config: Mapping | None) -> dict[str, str]:
    """`Env` of an image config (full OCI config or its `config` part) as a dict."""
    if not config:
        return {}
    inner = config.get("config", config) or {}
    out = {}
    for item in inner.get("Env") or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def try_expand(word: str, env: Mapping[str, str], escape: str) -> str:
    """Expand, or keep the word when it does not expand (used for pruning only)."""
    try:
        return expand_word(word, env, escape)
    except ExpansionError:
        return word
