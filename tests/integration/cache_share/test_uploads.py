"""Layers already in the registry are not uploaded again: a re-export sends no blob, a
second machine exporting the same build to the same repository sends only what is
new, and one exporting layers it has only remotely mounts them (no download)."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_proxy import FaultProxy
from tests.integration.cache_share.helpers import QUICK, build, executed, machine, uploads

pytestmark = pytest.mark.root


def test_export_uploads_each_blob_once(tmp_path, busybox_image, registry, monkeypatch):
    proxy = FaultProxy(registry.port)
    try:
        repo = unique_repo("upl")
        ref = f"{proxy.host}/{repo}:1"
        root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
        build(root_a, ctx_a, QUICK, cache_to=[f"type=registry,ref={ref},mode=max"])
        first = uploads(proxy.log)
        # six layer steps (WORKDIR, COPY, RUN; RUN; COPY --from, RUN), one blob each,
        # and the cache config: each uploaded once (POST, then PUT with the digest)
        assert len([p for p in first if "digest=" in p]) == 7

        proxy.reset()  # the same build again: every blob is there already
        build(root_a, ctx_a, QUICK, cache_to=[f"type=registry,ref={ref},mode=max"])
        assert uploads(proxy.log) == []
        assert any(m == "HEAD" and "/blobs/" in p for m, p, _, _ in proxy.log)

        proxy.reset()  # machine B builds from the cache and exports to another tag + repo
        root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
        _, ev, _ = build(
            root_b,
            ctx_b,
            QUICK,
            cache_from=[ref],
            cache_to=[f"type=registry,ref={proxy.host}/{repo}-b:1,mode=max"],
            push=True,
            tags=[f"{proxy.host}/{repo}-img:1"],
        )
        assert executed(ev) == []
        blob_gets = [
            p for m, p, _, _ in proxy.log if m == "GET" and re.search(r"/blobs/sha256:", p)
        ]
        assert len(blob_gets) == 1  # the cache config only; layers were mounted
        sent = [p for p in uploads(proxy.log) if "mount=" not in p]
        # only the new image's config, the base layer (not in that repo yet) and the
        # re-written cache config: POST + PUT each, no layer of the cache
        assert len(sent) == 6, sent
    finally:
        proxy.stop()


def test_reexport_to_another_registry_fetches_then_uploads(
    tmp_path, busybox_image, registry, monkeypatch
):
    proxy = FaultProxy(registry.port)  # another registry name for the same storage
    try:
        repo = unique_repo("xreg")
        src = f"{proxy.host}/{repo}:1"
        root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
        build(root_a, ctx_a, QUICK, cache_to=[f"type=registry,ref={src},mode=max"])
        root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
        dst = f"{registry.host}/{repo}-copy:1"
        proxy.reset()
        _, ev, _ = build(
            root_b, ctx_b, QUICK, cache_from=[src], cache_to=[f"type=registry,ref={dst},mode=max"]
        )
        assert executed(ev) == []
        fetched = [p for m, p, _, _ in proxy.log if m == "GET" and "/blobs/sha256:" in p]
        assert len(fetched) == 1 + 6  # the cache config, then each layer (no mount possible)
        root_c, ctx_c = machine(tmp_path, "c", busybox_image, monkeypatch)
        _, ev, _ = build(root_c, ctx_c, QUICK, cache_from=[dst])
        assert executed(ev) == []
    finally:
        proxy.stop()
