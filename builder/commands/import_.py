"""`pybuild import ROOTFS.tar [NAME]`: a one-layer image from a rootfs tar (like
`docker import`). The tar may be gzip/zstd/bzip2/xz compressed; '-' reads stdin."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.oci.config import ContainerConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="rootfs tar ('-' for stdin)")
    p.add_argument("name", nargs="?", help="name[:tag] for the image")
    p.add_argument("-m", "--message", default="", help="history comment")
    p.add_argument(
        "-c",
        "--change",
        action="append",
        default=[],
        help="CMD/ENTRYPOINT/ENV/WORKDIR/USER/LABEL/EXPOSE in JSON or shell form",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from builder.commands._store_common import store
    from store.image import resolve_image
    from store.rootfs_import import import_rootfs

    s = store()
    src = sys.stdin.buffer if args.file == "-" else args.file
    desc = import_rootfs(s, src, args.name, config=_changes(args.change), message=args.message)
    print(resolve_image(s, str(desc.digest)).id)
    return 0


def _changes(changes: list[str]) -> ContainerConfig | None:
    import shlex

    from builder.errors import UsageError
    from store.oci.config import ContainerConfig

    kw: dict = {}
    for ch in changes:
        word, _, rest = ch.strip().partition(" ")
        word, rest = word.upper(), rest.strip()

        if word in ("CMD", "ENTRYPOINT"):
            kw[word.lower()] = _argv(rest, ch)
        elif word == "ENV":
            k, _, v = rest.partition("=") if "=" in rest else rest.partition(" ")
            kw["env"] = (*kw.get("env", ()), f"{k}={v.strip()}")
        elif word == "WORKDIR":
            kw["working_dir"] = rest
        elif word == "USER":
            kw["user"] = rest
        elif word == "LABEL":
            for pair in shlex.split(rest):
                k, _, v = pair.partition("=")
                kw.setdefault("labels", {})[k] = v
        elif word == "EXPOSE":
            kw["exposed_ports"] = tuple(p if "/" in p else f"{p}/tcp" for p in rest.split())
        else:
            raise UsageError(f"--change: unsupported instruction {word!r}")
    return ContainerConfig(**kw) if kw else None


def _argv(text: str, change: str) -> tuple[str, ...]:
    import json

    from builder.errors import UsageError

    if text.startswith("["):
        try:
            return tuple(json.loads(text))
        except ValueError:
            raise UsageError(f"--change {change!r}: bad JSON") from None
    return ("/bin/sh", "-c", text)
