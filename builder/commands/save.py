"""`pybuild save IMAGE... -o FILE [--format oci|docker]`: write images to a tar."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="images to save")
    p.add_argument("-o", "--output", required=True, help="archive file ('-' for stdout)")
    p.add_argument(
        "--format",
        choices=("oci", "docker"),
        default="docker",
        help="docker (default; also a valid OCI layout) or oci",
    )


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from store.archive import save

    save(store(), args.images, args.output, args.format)
    return 0
