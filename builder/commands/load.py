"""`pybuild load -i FILE`: load images from an OCI archive or a docker-archive."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", default="-", help="archive file (default: stdin)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from store.archive_load import load
    from store.image import resolve_image

    s = store()
    src = sys.stdin.buffer if args.input == "-" else args.input
    for name, desc in load(s, src):
        if args.quiet:
            continue
        if name:
            print(f"Loaded image: {name}")
        else:
            print(f"Loaded image ID: {resolve_image(s, str(desc.digest)).id}")
    return 0
