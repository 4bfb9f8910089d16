"""`pybuild pull REF`: pull an image from a registry into the store.

Also home of `BlobProgress`, which shows registry_client progress events through the
build progress renderers (`--progress plain|tty|json|quiet`), for pull and push."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from builder.progress import make_progress


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", help="image reference (busybox, host:port/repo:tag, repo@digest)")
    p.add_argument("--platform", default=None, help="os/arch[/variant] (default: this host)")
    add_registry_options(p)


def add_registry_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="use plain HTTP for this registry (repeatable)",
    )
    p.add_argument("--progress", default="auto", choices=("auto", "plain", "tty", "json", "quiet"))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


class BlobProgress:
    """registry_client ProgressEvents -> builder.progress: one vertex per blob."""

    def __init__(self, progress: Any, verb: str) -> None:
        self.p, self.verb = progress, verb
        self._vids: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _vid(self, digest: str, short: str) -> int:
        with self._lock:
            if digest not in self._vids:
                vid = self.p.new_id()
                self._vids[digest] = (vid, time.monotonic())
                self.p.step_started(vid, "", "", f"{self.verb} {short}")
            return self._vids[digest][0]

    def __call__(self, ev: Any) -> None:
        if ev.action in ("manifest", "tag", "resolve") or not ev.digest:
            text = {"manifest": "manifest", "tag": "tagged", "resolve": "resolved"}.get(
                ev.action, ev.action
            )
            self.p.message(" ".join(x for x in (ev.short, text, ev.message) if x))
            return
        vid = self._vid(ev.digest, ev.short)
        if ev.action == "progress":
            self.p.transfer(vid, ev.short, ev.current, ev.total or None)
        elif ev.action in ("exists", "mount"):
            self.p.step_log(
                vid, "already exists" if ev.action == "exists" else f"mounted {ev.message}"
            )
            self.p.step_cached(vid)
            self.p.step_done(vid, 0.0)
        elif ev.action == "retry":
            self.p.step_log(vid, f"retrying: {ev.message}")
        elif ev.action == "done":
            self.p.transfer(vid, ev.short, ev.total, ev.total or None)
            self.p.step_done(vid, time.monotonic() - self._vids[ev.digest][1])


def make_blob_progress(args: argparse.Namespace, verb: str) -> tuple[Any, BlobProgress]:
    renderer = make_progress("quiet" if args.quiet else args.progress, sys.stderr)
    return renderer, BlobProgress(renderer, verb)


def run(args: argparse.Namespace) -> int:
    from registry_client.client import RegistryClient
    from registry_client.progress import ProgressEvent
    from registry_client.pull import pull_image
    from store.layout import open_store
    from store.oci.reference import Reference

    ref = Reference.parse(args.reference)
    store = open_store()
    client = RegistryClient(insecure=tuple(args.insecure_registry))
    renderer, progress = make_blob_progress(args, "pull")
    client.on_retry = lambda why: progress(ProgressEvent("retry", message=why))
    try:
        res = pull_image(store, ref, platform=args.platform, client=client, progress=progress)
    finally:
        renderer.finish("")
        client.close()
        store.close()
    if not args.quiet:
        print(f"Digest: {res.index_digest or res.manifest.digest}")
        status = "Image is up to date" if not res.fetched else "Downloaded newer image"
        print(f"Status: {status} for {ref.familiar()}")
    print(str(ref))
    return 0
