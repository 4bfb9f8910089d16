"""`pybuild push IMAGE [REF]`: push a stored image to a registry (REF defaults to IMAGE)."""

from __future__ import annotations

import argparse

from builder.commands.pull import add_registry_options, make_blob_progress


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="stored image (name or digest)")
    p.add_argument(
        "target", nargs="?", default=None, help="destination reference (default: IMAGE itself)"
    )
    add_registry_options(p)


def run(args: argparse.Namespace) -> int:
    from registry_client.client import RegistryClient
    from registry_client.progress import ProgressEvent
    from registry_client.push import push_image
    from store.layout import open_store
    from store.oci.reference import Reference

    target = Reference.parse(args.target or args.image)
    store = open_store()
    client = RegistryClient(insecure=tuple(args.insecure_registry))
    renderer, progress = make_blob_progress(args, "push")
    client.on_retry = lambda why: progress(ProgressEvent("retry", message=why))
    try:
        desc = store.refs.get(args.image)
        res = push_image(store, desc, target, client=client, progress=progress)
    finally:
        renderer.finish("")
        client.close()
        store.close()
    print(f"{target.tag or target.digest}: digest: {res.digest} size: {desc.size}")
    return 0
