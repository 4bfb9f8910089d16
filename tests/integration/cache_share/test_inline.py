"""--cache-to type=inline: the pushed image's config carries the cache rows of its own
steps, so --cache-from of that image skips them on another machine."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.registry import unique_repo
from tests.integration.build import helpers as h
from tests.integration.cache_share.helpers import (
    BUILD_STAGE,
    FINAL_CHAIN,
    QUICK,
    build,
    executed,
    machine,
    remote_hit,
    steps,
)

pytestmark = pytest.mark.root


def test_inline_cache_in_the_pushed_image(tmp_path, busybox_image, registry, monkeypatch):
    ref = f"{registry.host}/{unique_repo('inline')}:1"
    root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
    a, _, _ = build(root_a, ctx_a, QUICK, tags=[ref], push=True, cache_to=["type=inline"])
    cfg = h.config(root_a, ref)
    rows = cfg["dev.pybuild.cache.v1"]["rows"]
    layer_digests = {str(d.digest) for d in h.image(root_a, ref).manifest().layers}
    named = {r["result"]["layer"]["digest"] for r in rows if r["result"]["kind"] == "layer"}
    assert named and named <= layer_digests  # rows name the image's own layers
    assert json.dumps(cfg).count("/ctx-a") == 0  # nothing of machine A's paths

    root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
    b, ev, _ = build(root_b, ctx_b, QUICK, cache_from=[ref])
    assert executed(ev) == BUILD_STAGE  # inline is min: only the final image's steps
    assert [s["text"] for s in steps(ev) if remote_hit(s, ref)] == FINAL_CHAIN
    assert b.config.diff_ids == a.config.diff_ids
    assert "dev.pybuild.cache.v1" not in h.config(root_b, "app:1")
    assert h.read_file(root_b, "app:1", "app/list.txt") == h.read_file(root_a, ref, "app/list.txt")
