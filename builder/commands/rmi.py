"""`pybuild rmi IMAGE...`: untag images and delete the blobs only they used."""

from __future__ import annotations

import argparse
import sys
from contextlib import suppress
from typing import TYPE_CHECKING

from store.errors import ImageInUse, ImageNotFound, InvalidReference

if TYPE_CHECKING:
    from store.image import StoredImage
    from store.layout import Store


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="names, digests or IDs")
    p.add_argument(
        "-f", "--force", action="store_true", help="remove every tag of an image given by ID"
    )
    p.add_argument("--no-prune", action="store_true", help="untag only; keep the blobs")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import store
    from store.gc import gc
    from store.image import resolve_image
    from store.refs import tag_name

    s = store()
    failed = 0
    removed = False
    for ref in args.images:
        try:
            tag = None
            with suppress(InvalidReference):  # not a tag: a digest, or not a valid name
                tag = tag_name(ref)
            if tag is not None and any(n == tag for n, _ in s.refs.list()):
                names = [tag]
            else:
                names = _names_of(s, resolve_image(s, ref))
            if len(names) > 1 and not args.force:
                raise ImageInUse(
                    ref,
                    f"it has {len(names)} tags ({', '.join(names)}); use -f or remove them by name",
                )
            for n in names:
                if not n.startswith("@"):
                    s.refs.delete(n)
                print(f"Untagged: {n.lstrip('@')}")
                removed = True
        except (ImageNotFound, ImageInUse) as e:
            print(f"pybuild rmi: {e}", file=sys.stderr)
            failed += 1
    if removed and not args.no_prune:
        rep = gc(s)
        for dg in rep.removed_blobs:
            print(f"Deleted: {dg}")
    return 1 if failed else 0


def _names_of(s: Store, img: StoredImage) -> list[str]:
    """The tags of `img`, or when it has none its digest (as `@DIGEST`)."""
    names = [n for n, d in s.refs.list() if d.digest == img.digest]
    if not names:
        # An untagged root: drop it from the index (returned as its digest, untagged).
        s.refs.update(lambda ms: [m for m in ms if m.get("digest") != str(img.digest)])
        return [f"@{img.digest}"]
    return names
