"""Cache keys and miss reasons, on a real store database."""

from __future__ import annotations

import pytest

from builder.cache import BuildCache, CacheInputs, CacheResult, compute_key
from store.layout import open_store
from store.oci.digest import Descriptor, Digest


@pytest.fixture
def cache(tmp_path):
    return BuildCache(open_store(tmp_path / "store"))


def _inp(**kw):
    base = dict(
        position="Dockerfile#0/3",
        instruction="RUN make",
        args={"V": "1.0"},
        env={"PATH": "/bin"},
        platform="linux/amd64",
        sources={},
    )
    base.update(kw)
    return CacheInputs(**base)


def test_key_depends_on_every_input_but_not_order():
    k = compute_key("p", _inp())
    assert k == compute_key("p", _inp(env={"PATH": "/bin"}))
    for changed in (
        dict(instruction="RUN make all"),
        dict(args={"V": "1.1"}),
        dict(env={"PATH": "/x"}),
        dict(platform="linux/arm64"),
        dict(sources={"a": "h"}),
        dict(extra={"base": "d"}),
    ):
        assert compute_key("p", _inp(**changed)) != k
    assert compute_key("q", _inp()) != k
    assert compute_key("p", _inp(sources={"a": "1", "b": "2"})) == compute_key(
        "p", _inp(sources={"b": "2", "a": "1"})
    )


def test_record_lookup_roundtrip(cache):
    layer = Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", Digest.of_bytes(b"x"), 1)
    res = CacheResult("layer", layer, Digest.of_bytes(b"y"), "sha256:c", "2024-01-01T00:00:00Z")
    k = compute_key("p", _inp())
    assert cache.lookup(k) is None
    cache.record(k, "p", _inp(), res)
    assert cache.lookup(k) == res


@pytest.mark.parametrize(
    "new,parent,want",
    [
        (dict(args={"V": "1.1"}), "p", "re-ran: build arg VERSION changed (1.0 -> 1.1)"),
        (dict(instruction="RUN make all"), "p", "re-ran: instruction changed (was `RUN make`)"),
        (dict(sources={"src/app.py": "h2", "b": "x"}), "p", "re-ran: src/app.py changed"),
        (dict(sources={"src/app.py": "h1", "b": "x", "c": "y"}), "p", "re-ran: c added"),
        ({}, "p2", "re-ran: parent step 4 re-ran"),
    ],
)
def test_miss_reasons(cache, new, parent, want):
    old = _inp(args={"VERSION": "1.0"}, sources={"src/app.py": "h1", "b": "x"})
    cache.record(compute_key("p", old), "p", old, CacheResult("meta"))
    args = {"VERSION": "1.1"} if "args" in new else {"VERSION": "1.0"}
    cur = _inp(
        **{
            **dict(args=args, sources={"src/app.py": "h1", "b": "x"}),
            **{k: v for k, v in new.items() if k != "args"},
        }
    )
    assert cache.explain(cur, parent, parent_step=4, parent_reran=True) == want


def test_first_build_and_no_cache_reasons(cache):
    assert (
        cache.explain(_inp(), "p", parent_step=None, parent_reran=False)
        == "re-ran: not built before"
    )
    assert (
        cache.explain(_inp(), "p", parent_step=None, parent_reran=False, no_cache=True)
        == "re-ran: --no-cache"
    )
