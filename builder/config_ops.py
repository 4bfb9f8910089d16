"""Metadata instructions applied to an image config, exactly as BuildKit's dispatchers do.

Each function takes an `ImageConfig` and the instruction's already-expanded values, and
returns an `Applied`: the new config, the history `created_by` (None when BuildKit
writes no entry: ONBUILD) and whether the step has a layer (only WORKDIR, which also
creates its directory). Reference: BuildKit dockerfile2llb/convert.go (dispatchEnv,
dispatchCmd, dispatchEntrypoint, dispatchExpose, ...); the Go formats are in
`builder.history`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from builder import gofmt as h
from builder.errors import BuildError
from builder.frontend.ports import PortSpecError, parse_port_specs
from builder.frontend.signals import signal_error
from store.oci.config import ContainerConfig, Healthcheck, ImageConfig
from store.oci.platform import Platform

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")


class ConfigOpError(BuildError):
    """A metadata instruction with a value BuildKit rejects (bad port, signal...)."""

    exit_code = 1


@dataclass(frozen=True)
class Applied:
    """A metadata instruction's result: the new config and its history `created_by`."""

    image: ImageConfig
    created_by: str | None
    with_layer: bool = False


if TYPE_CHECKING:  # the TypedDict is for the checker: defining one costs import time

    class _ConfigFields(TypedDict, total=False):
        """`ContainerConfig`'s fields, for `_cc`'s keywords."""

        user: str | None
        exposed_ports: tuple[str, ...] | None
        env: tuple[str, ...] | None
        entrypoint: tuple[str, ...] | None
        cmd: tuple[str, ...] | None
        volumes: tuple[str, ...] | None
        working_dir: str | None
        labels: Mapping[str, str] | None
        stop_signal: str | None
        args_escaped: bool | None
        healthcheck: Healthcheck | None
        on_build: tuple[str, ...] | None
        shell: tuple[str, ...] | None
        extra: Mapping[str, Any]


def _cc(img: ImageConfig, **kw: Unpack[_ConfigFields]) -> ImageConfig:
    return replace(img, config=replace(img.config, **kw))


def scratch_config(platform: Platform) -> ImageConfig:
    """BuildKit's emptyImage: PATH set, WorkingDir "/", no history."""
    return ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant or None,
        config=ContainerConfig(env=(f"PATH={DEFAULT_PATH}",), working_dir="/"),
    )


def with_path(base: ImageConfig) -> ImageConfig:
    """The base image's config with PATH in its Env: a base without one (an imported
    root filesystem) gets the default, appended, as BuildKit's converter makes sure of
    for every stage before its instructions see the environment."""
    env = base.config.env or ()
    if any(e.partition("=")[0] == "PATH" for e in env):
        return base
    return _cc(base, env=(*env, f"PATH={DEFAULT_PATH}"))


def inherit(base: ImageConfig) -> ImageConfig:
    """A stage's starting config from its base image: everything but OnBuild (whose
    triggers the stage runs) and the creation time, with PATH set (`with_path`)."""
    return replace(_cc(with_path(base), on_build=None), created=None)


def without_onbuild(img: ImageConfig) -> ImageConfig:
    return _cc(img, on_build=None)


def shell_of(img: ImageConfig) -> tuple[str, ...]:
    return tuple(img.config.shell) if img.config.shell else DEFAULT_SHELL


def with_shell(img: ImageConfig, args: Sequence[str]) -> list[str]:
    """withShell: the SHELL (or /bin/sh -c) plus the args joined by spaces."""
    return [*shell_of(img), " ".join(args)]


def set_env(env: Iterable[str] | None, key: str, value: str) -> tuple[str, ...]:
    out = list(env or ())
    for i, e in enumerate(out):
        if e.split("=", 1)[0] == key:
            out[i] = f"{key}={value}"
            return tuple(out)
    return (*out, f"{key}={value}")


def env(img: ImageConfig, pairs: Sequence[tuple[str, str]]) -> Applied:
    cur = img.config.env
    for k, v in pairs:
        cur = set_env(cur, k, v)
    msg = "ENV" + "".join(f" {k}={v}" for k, v in pairs)
    return Applied(_cc(img, env=cur), msg)


def label(img: ImageConfig, pairs: Sequence[tuple[str, str]]) -> Applied:
    labels = dict(img.config.labels or {})
    for k, v in pairs:
        labels[k] = v
    return Applied(_cc(img, labels=labels), "LABEL" + "".join(f" {k}={v}" for k, v in pairs))


def add_labels(img: ImageConfig, labels: dict[str, str]) -> ImageConfig:
    """`--label`: merged into the target's labels with no history entry."""
    if not labels:
        return img
    return _cc(img, labels={**(img.config.labels or {}), **labels})


def cmd(img: ImageConfig, args: Sequence[str], shell_form: bool) -> Applied:
    argv = with_shell(img, args) if shell_form else list(args)
    return Applied(_cc(img, cmd=tuple(argv), args_escaped=True), f"CMD {h.quote_list(argv)}")


def entrypoint(
    img: ImageConfig, args: Sequence[str], shell_form: bool, cmd_set_in_stage: bool
) -> Applied:
    argv = with_shell(img, args) if shell_form else list(args)
    new = _cc(img, entrypoint=tuple(argv))
    if not cmd_set_in_stage:
        new = _cc(new, cmd=None)
    return Applied(new, f"ENTRYPOINT {h.quote_list(argv)}")


def parse_ports(specs: Sequence[str]) -> list[str]:
    """EXPOSE's container ports (`builder.frontend.ports`, Docker's rules)."""
    try:
        return parse_port_specs(list(specs))
    except PortSpecError as e:
        raise ConfigOpError(str(e)) from None


def expose(img: ImageConfig, specs: Sequence[str]) -> Applied:
    ports = parse_ports(specs)
    merged = sorted(set(img.config.exposed_ports or ()) | set(ports))
    return Applied(_cc(img, exposed_ports=tuple(merged)), f"EXPOSE {h.v_set(set(ports))}")


def volume(img: ImageConfig, paths: Sequence[str]) -> Applied:
    if any(p == "" for p in paths):
        raise ConfigOpError("VOLUME specified can not be an empty string")
    merged = sorted(set(img.config.volumes or ()) | set(paths))
    return Applied(_cc(img, volumes=tuple(merged)), f"VOLUME {h.v_list(paths)}")


def user(img: ImageConfig, name: str) -> Applied:
    return Applied(_cc(img, user=name), f"USER {name}")


def normalize_workdir(current: str, wd: str) -> str:
    if not wd:  # a word that expanded to nothing: BuildKit keeps the directory
        return current or "/"
    joined = wd if wd.startswith("/") else posixpath.join("/", current or "/", wd)
    norm = posixpath.normpath(joined)
    return "/" + norm.lstrip("/")


def workdir(img: ImageConfig, path: str) -> Applied:
    wd = normalize_workdir(img.config.working_dir or "/", path)
    return Applied(_cc(img, working_dir=wd), f"WORKDIR {wd}", with_layer=wd != "/")


def stopsignal(img: ImageConfig, sig: str) -> Applied:
    if (why := signal_error(sig)) is not None:
        raise ConfigOpError(why)
    return Applied(_cc(img, stop_signal=sig), f"STOPSIGNAL {sig}")


def healthcheck(
    img: ImageConfig,
    test: Sequence[str],
    *,
    interval: int = 0,
    timeout: int = 0,
    start_period: int = 0,
    start_interval: int = 0,
    retries: int = 0,
) -> Applied:
    """`test` is already ["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]; durations in ns."""
    hc = Healthcheck(tuple(test), interval, timeout, start_period, start_interval, retries)
    msg = (
        f"HEALTHCHECK &{{{h.quote_list(test)} {h.quote(h.duration(interval))} "
        f"{h.quote(h.duration(timeout))} {h.quote(h.duration(start_period))} "
        f"{h.quote(h.duration(start_interval))} {h.quote_rune(retries)}}}"
    )
    return Applied(_cc(img, healthcheck=hc), msg)


def shell(img: ImageConfig, argv: Sequence[str]) -> Applied:
    return Applied(_cc(img, shell=tuple(argv)), f"SHELL {h.v_list(argv)}")


def onbuild(img: ImageConfig, expression: str) -> Applied:
    return Applied(_cc(img, on_build=(*(img.config.on_build or ()), expression)), None)


def maintainer(img: ImageConfig, name: str) -> Applied:
    return Applied(replace(img, author=name), f"MAINTAINER {name}")


def arg(img: ImageConfig, resolved: Sequence[tuple[str, str | None]]) -> Applied:
    """ARG K[=V]...: no config change; `resolved` are the final values (None: unset)."""
    parts = [k if v is None else f"{k}={v}" for k, v in resolved]
    return Applied(img, "ARG " + " ".join(parts))
