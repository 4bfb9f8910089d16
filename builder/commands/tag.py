"""`pybuild tag SRC DST`: give an image another name."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="existing image (name, digest or ID)")
    p.add_argument("target", help="new name[:tag]")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from store.image import resolve_image
    from store.oci.digest import Descriptor

    s = store()
    img = resolve_image(s, args.source)
    d = img.descriptor
    s.refs.set(args.target, Descriptor(d.media_type, d.digest, d.size, platform=d.platform))
    return 0
