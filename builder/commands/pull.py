"""`pybuild pull REF`: pull an image from a registry into the store."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", help="image reference (busybox, host:port/repo:tag, repo@digest)")
    p.add_argument("--platform", default=None, help="os/arch[/variant] (default: this host)")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]",
                   help="use plain HTTP for this registry (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the reference")


def run(args: argparse.Namespace) -> int:
    from registry_client.client import RegistryClient
    from registry_client.progress import ProgressEvent, ProgressLog
    from registry_client.pull import pull_image
    from registry_client.reference import Reference
    from store.layout import open_store

    # Blob transfers are many threads doing I/O and hashing that release the GIL; a
    # shorter switch interval stops them queueing behind each other (measured ~20%).
    sys.setswitchinterval(0.0005)
    ref = Reference.parse(args.reference)
    store = open_store()
    client = RegistryClient(insecure=tuple(args.insecure_registry))
    progress = None if args.quiet else ProgressLog(sys.stderr)
    if progress is not None:
        client.on_retry = lambda why: progress(ProgressEvent("retry", message=why))
    try:
        res = pull_image(store, ref, platform=args.platform, client=client,
                         progress=progress)
    finally:
        client.close()
        store.close()
    if not args.quiet:
        print(f"Digest: {res.index_digest or res.manifest.digest}")
        status = "Image is up to date" if not res.fetched else "Downloaded newer image"
        print(f"Status: {status} for {ref.familiar()}")
    print(str(ref))
    return 0
