"""A cache that is missing, unreachable or corrupt is a warning and the build goes on;
a bad --cache-to/--cache-from value is a one-line usage error."""

from __future__ import annotations

import json

import pytest

from builder.engine.cache_import import CONFIG_TYPE
from builder.engine.remote_cache import CacheSpecError
from tests.fixtures.registry import free_port, unique_repo
from tests.fixtures.registry_proxy import Fault, FaultProxy
from tests.integration.build import helpers as h
from tests.integration.cache_share.helpers import (
    QUICK,
    build,
    executed,
    machine,
    messages,
)

pytestmark = pytest.mark.root
ALL = 6  # steps of QUICK that make a vertex


def _push_cache(registry_host: str, ref_tag: str, config: bytes, tmp_path) -> None:
    """A cache manifest whose config blob is `config` (bytes as given)."""
    from registry_client.client import RegistryClient
    from registry_client.push import push_blobs
    from store.layout import open_store
    from store.oci.mediatype import OCI_MANIFEST
    from store.oci.reference import Reference

    st = open_store(tmp_path / "junk-store")
    cfg = st.blobs.put_bytes(config, CONFIG_TYPE)
    ref = Reference.parse(f"{registry_host}/{ref_tag}")
    client = RegistryClient()
    push_blobs(st, ref, [cfg], client=client)
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg.to_json(), "layers": []}
    ).encode()
    client.put_manifest(ref, body, OCI_MANIFEST)
    client.close()
    st.close()


def _warned(ev: list, ref: str, why: str) -> bool:
    return any(
        m.startswith(f"WARNING: --cache-from {ref}:") and why in m and m.endswith("(ignored)")
        for m in messages(ev)
    )


def test_missing_unreachable_and_corrupt_caches_are_warnings(
    tmp_path, busybox_image, registry, monkeypatch
):
    repo = unique_repo("faults")
    root, ctx = machine(tmp_path, "b", busybox_image, monkeypatch)
    _push_cache(registry.host, f"{repo}:notjson", b"{not json", tmp_path)
    _push_cache(
        registry.host,
        f"{repo}:badrow",
        json.dumps(
            {"version": 1, "rows": [{"key": "nope", "parent": "", "result": {"kind": "meta"}}]}
        ).encode(),
        tmp_path,
    )
    _push_cache(registry.host, f"{repo}:future", b'{"version": 9, "rows": []}', tmp_path)
    cases = {
        f"{registry.host}/{repo}:missing": "MANIFEST_UNKNOWN",
        f"127.0.0.1:{free_port()}/x/y:z": "",
        f"{registry.host}/{repo}:notjson": "not JSON",
        f"{registry.host}/{repo}:badrow": "corrupt cache row",
        f"{registry.host}/{repo}:future": "unknown cache format",
    }
    res, ev, _ = build(root, ctx, QUICK, cache_from=list(cases))
    for ref, why in cases.items():
        assert _warned(ev, ref, why), (ref, messages(ev))
    assert len(executed(ev)) == ALL
    assert h.read_file(root, "app:1", "app/built.txt") == b"alpha\nbeta\n"

    # a plain image is not a cache
    plain = f"{registry.host}/{repo}:plain"
    build(root, ctx, "FROM busybox\nRUN echo x > /x\n", tags=[plain], push=True)
    _, ev, _ = build(root, ctx, QUICK, cache_from=[plain])
    assert _warned(ev, plain, "not a build cache")


def test_flipped_byte_or_dropped_connection_is_a_warning(
    tmp_path, busybox_image, registry, monkeypatch
):
    repo = unique_repo("flip")
    root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
    build(root_a, ctx_a, QUICK, cache_to=[f"{registry.host}/{repo}:c"])
    proxy = FaultProxy(registry.port)
    try:
        proxy.add(Fault("flip", r"/blobs/sha256:", at=10))
        root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
        ref = f"{proxy.host}/{repo}:c"
        _, ev, _ = build(root_b, ctx_b, QUICK, cache_from=[ref])
        assert _warned(ev, ref, "is corrupt")
        assert len(executed(ev)) == ALL
        proxy.reset()  # the connection drops in the middle of the cache config, every time
        proxy.add(Fault("drop", r"/blobs/sha256:", at=5, times=50))
        root_c, ctx_c = machine(tmp_path, "c", busybox_image, monkeypatch)
        _, ev, _ = build(root_c, ctx_c, QUICK, cache_from=[ref])
        assert _warned(ev, ref, "reading cache config sha256:"), messages(ev)
        assert len(executed(ev)) == ALL
    finally:
        proxy.stop()


@pytest.mark.parametrize(
    "flag,value,why",
    [
        ("cache_to", "type=local,dest=/tmp/x", "type must be registry or inline"),
        ("cache_to", "type=registry,ref=r/c,mode=all", "mode must be min or max"),
        ("cache_to", "type=registry", "ref=REF is required"),
        ("cache_from", "type=inline", "type must be registry"),
        ("cache_from", "type=registry,ref=r/c,bogus=1", "unknown option 'bogus'"),
        ("cache_from", "type=registry,ref", "is not KEY=VALUE"),
    ],
)
def test_bad_specs_are_usage_errors(tmp_path, build_store, flag, value, why):
    with pytest.raises(CacheSpecError) as e:
        build(build_store, tmp_path, "FROM busybox\n", **{flag: [value]})
    assert why in str(e.value) and "\n" not in str(e.value)
    assert e.value.exit_code == 2
