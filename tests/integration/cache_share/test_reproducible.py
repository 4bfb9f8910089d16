"""Reproducibility across stores: two empty stores build the same Dockerfile and
context with SOURCE_DATE_EPOCH and get the same manifest digest; a third build in
another directory path under another umask, from a context owned by another user,
does too. The cache keys they export are
the same (keys depend on no path, store, snapshot id or umask), and so are the
exported cache configs, byte for byte."""

from __future__ import annotations

import os

import pytest

from tests.fixtures.registry import unique_repo
from tests.integration.cache_share.helpers import QUICK, build, cache_doc, executed, machine

pytestmark = pytest.mark.root

DF = (
    QUICK
    + """\
RUN mkdir -p /made/deep && echo x > /made/deep/f && touch /made/empty && ln -s f /made/deep/l
WORKDIR /work/here
COPY --chmod=0750 src/a.txt ./a
ADD src/b.txt /added/
"""
)


def test_same_digest_in_two_stores_and_another_path_and_umask(
    tmp_path, busybox_image, registry, monkeypatch
):
    repo = unique_repo("repro")
    got = []
    for name, umask in (("a", None), ("b", None), ("deeper/path/c", 0o077)):
        old = os.umask(umask) if umask is not None else None
        try:
            root, ctx = machine(tmp_path, name, busybox_image, monkeypatch)
            if umask is not None:  # and a checkout owned by another user
                for p in (ctx, *ctx.rglob("*")):
                    os.lchown(p, 1234, 1234)
            tag = name.rsplit("/", 1)[-1]
            res, ev, _ = build(
                root, ctx, DF, cache_to=[f"type=registry,ref={registry.host}/{repo}:{tag},mode=max"]
            )
        finally:
            if old is not None:
                os.umask(old)
        assert len(executed(ev)) == 10  # each store built everything itself
        got.append((res.manifest.digest, cache_doc(registry.host, f"{repo}:{tag}")))
    digests = {d for d, _ in got}
    assert len(digests) == 1, digests
    keys = [sorted(r["key"] for r in doc["config"]["rows"]) for _, doc in got]
    assert keys[0] == keys[1] == keys[2]
    assert len({doc["manifest"]["config"]["digest"] for _, doc in got}) == 1
