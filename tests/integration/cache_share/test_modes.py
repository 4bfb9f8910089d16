"""mode=min exports the final image's steps (through the stage it is built FROM);
mode=max every stage's. A second machine importing the min cache re-runs only the
stage the final image merely copies from."""

from __future__ import annotations

import pytest

from tests.fixtures.registry import unique_repo
from tests.integration.cache_share.helpers import (
    BUILD_STAGE,
    FINAL_CHAIN,
    QUICK,
    build,
    cache_doc,
    executed,
    machine,
    remote_hit,
    steps,
)

pytestmark = pytest.mark.root


def test_min_covers_the_final_chain_and_max_every_stage(
    tmp_path, busybox_image, registry, monkeypatch
):
    repo = unique_repo("modes")
    ref_min, ref_max = f"{registry.host}/{repo}:min", f"{registry.host}/{repo}:max"
    root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
    build(
        root_a,
        ctx_a,
        QUICK,
        cache_to=[f"type=registry,ref={ref_min},mode=min", f"type=registry,ref={ref_max},mode=max"],
    )
    dmin, dmax = cache_doc(registry.host, f"{repo}:min"), cache_doc(registry.host, f"{repo}:max")
    kmin = {r["key"] for r in dmin["config"]["rows"]}
    kmax = {r["key"] for r in dmax["config"]["rows"]}
    assert kmin < kmax
    assert (dmin["config"]["mode"], dmax["config"]["mode"]) == ("min", "max")
    for d in (dmin, dmax):  # an OCI artifact: cache config plus the layers it names
        m = d["manifest"]
        assert m["artifactType"] == "application/vnd.pybuild.cache.v1"
        assert m["config"]["mediaType"] == "application/vnd.pybuild.cache.config.v1+json"
        named = {
            r["result"]["layer"]["digest"]
            for r in d["config"]["rows"]
            if r["result"]["kind"] == "layer"
        }
        assert {x["digest"] for x in m["layers"]} == named
    # min rows form one parent chain (the final image's steps, metadata included)
    by_parent = {r["parent"] for r in dmin["config"]["rows"]}
    assert len(kmin - by_parent) == 1  # exactly one tip: the final key

    root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
    _, ev, _ = build(root_b, ctx_b, QUICK, cache_from=[ref_min])
    assert executed(ev) == BUILD_STAGE
    assert [s["text"] for s in steps(ev) if remote_hit(s, ref_min)] == FINAL_CHAIN

    root_c, ctx_c = machine(tmp_path, "c", busybox_image, monkeypatch)
    _, ev, _ = build(root_c, ctx_c, QUICK, cache_from=[f"type=registry,ref={ref_max}"])
    assert executed(ev) == []
    assert sorted(s["text"] for s in steps(ev) if remote_hit(s, ref_max)) == sorted(
        BUILD_STAGE + FINAL_CHAIN
    )
