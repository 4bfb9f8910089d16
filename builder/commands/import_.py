"""`pybuild import ROOTFS.tar [NAME]`: a one-layer image from a rootfs tar (like
`docker import`). The tar may be gzip/zstd/bzip2/xz compressed; '-' reads stdin."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from builder.errors import UsageError


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
    from builder.commands._store_common import store
    from store.image import resolve_image
    from store.oci.config import ContainerConfig
    from store.rootfs_import import import_rootfs

    s = store()
    src = sys.stdin.buffer if args.file == "-" else args.file
    fields = _config_fields(args.change)
    config = ContainerConfig(**fields) if fields else None
    desc = import_rootfs(s, src, args.name, config=config, message=args.message)
    print(resolve_image(s, str(desc.digest)).id)
    return 0


def _config_fields(changes: list[str]) -> dict[str, Any]:
    """The `--change` instructions as `ContainerConfig` fields ({} for none)."""
    kw: dict[str, Any] = {}
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
    return kw


def _argv(text: str, change: str) -> tuple[str, ...]:
    if text.startswith("["):
        try:
            return tuple(json.loads(text))
        except ValueError:
            raise UsageError(f"--change {change!r}: bad JSON") from None
    return ("/bin/sh", "-c", text)
