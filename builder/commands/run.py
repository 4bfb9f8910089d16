"""`pybuild run [OPTIONS] IMAGE [CMD...]`: run a stored image in the sandbox.

The image's ENTRYPOINT, CMD, ENV, WORKDIR and USER apply (flags override them, as
with `docker run`). The container's writable layer is an overlay on the image's
snapshots and is always discarded (`--rm` is the default and only mode). The exit
code is the container's."""

from __future__ import annotations

import argparse
import os
import termios
import tty
from pathlib import Path
from typing import Any

from builder.errors import UsageError
from builder.units import parse_size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rm",
        action="store_true",
        default=True,
        help="discard the container's writable layer (always on)",
    )
    p.add_argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set an environment variable (a bare K takes pybuild's value)",
    )
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("-u", "--user", help="USER: name, uid, name:group or uid:gid")
    p.add_argument("--entrypoint", help="override the image's ENTRYPOINT")
    p.add_argument("--hostname", default="", help="container hostname")
    p.add_argument("--network", default="default", choices=("default", "none", "host"))
    p.add_argument("--memory", "-m", help="memory limit (e.g. 64m)")
    p.add_argument("--cpus", type=float, help="CPU limit (e.g. 0.5)")
    p.add_argument("--pids-limit", type=int, help="process limit")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP")
    p.add_argument("--cap-drop", action="append", default=[], metavar="CAP")
    p.add_argument("--privileged", action="store_true", help="all capabilities, no seccomp")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    p.add_argument(
        "--init",
        action="store_true",
        help="run an init (tini) as PID 1 that forwards signals and reaps processes",
    )
    p.add_argument("image", help="image name, tag, digest or ID prefix")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments (replace CMD)")


def container_argv(
    entrypoint: tuple[str, ...],
    cmd: tuple[str, ...],
    override_entrypoint: str | None,
    override_cmd: list[str],
) -> tuple[str, ...]:
    """docker's rule: ENTRYPOINT + CMD; CMD from the command line replaces the image's;
    `--entrypoint` replaces ENTRYPOINT and drops the image's CMD."""
    ep = (
        entrypoint
        if override_entrypoint is None
        else ((override_entrypoint,) if override_entrypoint else ())
    )
    if override_cmd:
        args = tuple(override_cmd)
    else:
        args = cmd if override_entrypoint is None else ()
    return (*ep, *args)


def merged_env(image_env: tuple[str, ...], flags: list[str]) -> tuple[tuple[str, str], ...]:
    env = dict(e.split("=", 1) for e in image_env)
    for item in flags:
        k, sep, v = item.partition("=")
        if sep:
            env[k] = v
        elif k in os.environ:
            env[k] = os.environ[k]
    return tuple(env.items())


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from builder.sandbox import SandboxSpec
    from builder.sandbox import run as sandbox_run
    from store.image import resolve_image

    if args.cpus is not None and args.cpus <= 0:
        raise UsageError("--cpus must be positive")
    s = store()
    img = resolve_image(s, args.image)
    cfg = img.config().config
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    argv = container_argv(cfg.entrypoint or (), cfg.cmd or (), args.entrypoint, command)
    if not argv:
        raise UsageError(
            f"{args.image}: no command specified (the image has no CMD or "
            "ENTRYPOINT; give one after the image name)"
        )
    sn = s.snapshots
    layers = img.layers()
    chain = (
        sn.ensure_layers([lay.descriptor for lay in layers], [lay.diff_id for lay in layers])
        if layers
        else None
    )
    hostname = args.hostname or img.id.hex[:12]
    try:
        with sn.prepare(chain) as active:
            spec = SandboxSpec(
                rootfs=Path(active.merged),
                argv=argv,
                env=(("HOSTNAME", hostname), *merged_env(cfg.env or (), args.env)),
                cwd=args.workdir or cfg.working_dir or "/",
                user=args.user if args.user is not None else (cfg.user or ""),
                hostname=hostname,
                network=args.network,
                memory=parse_size(args.memory) if args.memory else None,
                cpus=args.cpus,
                pids_limit=args.pids_limit,
                privileged=args.privileged,
                cap_add=tuple(args.cap_add),
                cap_drop=tuple(args.cap_drop),
                tty=args.tty,
                stdin=args.interactive,
                init=args.init,
            )
            with _raw_terminal(args.tty and args.interactive):
                result = sandbox_run(spec)
    finally:
        if chain is not None:
            sn.remove(chain)
    return result.exit_code


class _raw_terminal:
    """Put pybuild's terminal in raw mode for `-it`, and restore it afterwards."""

    def __init__(self, wanted: bool) -> None:
        self.saved: list[Any] | None = None  # termios.tcgetattr(0) while raw
        self.wanted = wanted and os.isatty(0)

    def __enter__(self) -> None:
        if self.wanted:
            self.saved = termios.tcgetattr(0)
            tty.setraw(0, termios.TCSANOW)  # TCSAFLUSH would drop typed-ahead input

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
