"""Two machines, one registry: store A builds a three-stage Dockerfile (RUN steps that
sleep) and exports its cache with mode=max; store B starts empty (only the base
image), imports the cache and executes nothing; after a source edit B re-runs only
the steps that depend on it. With --push, B downloads no layer blob: the counting
proxy in front of the real registry sees none."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_proxy import FaultProxy
from tests.integration.build import helpers as h
from tests.integration.cache_share.helpers import (
    SLEEP,
    build,
    cache_doc,
    executed,
    machine,
    remote_hit,
    steps,
)

pytestmark = pytest.mark.root


def _layer_gets(proxy: FaultProxy, digests: set[str]) -> list[str]:
    out = []
    for method, path, _status, _range in proxy.log:
        m = re.search(r"/blobs/(sha256:[0-9a-f]{64})$", path)
        if method == "GET" and m and m.group(1) in digests:
            out.append(path)
    return out


def _validate(events: list) -> None:
    import json

    import jsonschema

    from tests.conftest import REPO

    schema = json.loads((REPO / "builder" / "progress_schema.json").read_text())
    for e in events:
        jsonschema.validate(e, schema)


def _stored(root, digests: set[str]) -> set[str]:
    from store.layout import open_store
    from store.oci.digest import Digest

    st = open_store(root)
    try:
        return {d for d in digests if st.blobs.exists(Digest.parse(d))}
    finally:
        st.close()


def test_second_machine_runs_nothing_then_only_what_changed(
    tmp_path, busybox_image, registry, monkeypatch
):
    cache = f"{registry.host}/{unique_repo('share')}:cache"
    root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
    a, ev_a, cold = build(root_a, ctx_a, cache_to=[f"type=registry,ref={cache},mode=max"])
    assert len(executed(ev_a)) >= 3 and cold >= SLEEP * 2  # two stages sleep in parallel

    root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
    b, ev_b, warm = build(root_b, ctx_b, cache_from=[cache])
    done = steps(ev_b)
    assert done and all(remote_hit(s, cache) for s in done), executed(ev_b)
    assert not [e for e in ev_b if e["event"] == "step_log"]  # nothing ran
    _validate(ev_b)
    assert warm < SLEEP / 2, f"B took {warm:.2f}s"
    assert b.manifest.digest == a.manifest.digest  # the same image, bit for bit
    assert h.read_file(root_b, "app:1", "app/built.txt") == b"alpha\nbeta\n"
    report = next(e["report"] for e in ev_b if e["event"] == "cache_report")
    assert report["reran"] == 0
    # lazy: B fetched the final image's layers only, never the build stage's
    cached = {
        x["digest"] for x in cache_doc(registry.host, cache.split("/", 1)[1])["manifest"]["layers"]
    }
    final = {str(d.digest) for d in h.image(root_b, "app:1").manifest().layers}
    assert _stored(root_b, cached) == cached & final and cached - final

    (ctx_b / "src" / "b.txt").write_text("beta 2\n")
    c, ev_c, _ = build(root_b, ctx_b, cache_from=[cache])
    reran = executed(ev_c)
    assert reran == [
        "COPY src/ /src/",
        f"RUN sleep {SLEEP} && cat /src/*.txt > /built.txt",
        "COPY --from=build /built.txt /app/built.txt",
        f"RUN sleep {SLEEP} && ls /app /deps.txt > /app/list.txt",
    ]
    kept = [s["text"] for s in steps(ev_c) if s["cached"]]
    assert f"RUN sleep {SLEEP} && echo deps > /deps.txt" in kept  # deps did not re-run
    assert h.read_file(root_b, "app:1", "app/built.txt") == b"alpha\nbeta 2\n"
    assert c.manifest.digest != a.manifest.digest


def test_push_mounts_layers_and_downloads_none(tmp_path, busybox_image, registry, monkeypatch):
    proxy = FaultProxy(registry.port)  # counts every request B makes
    try:
        repo = unique_repo("mount")
        root_a, ctx_a = machine(tmp_path, "a", busybox_image, monkeypatch)
        a, _, _ = build(
            root_a,
            ctx_a,
            tags=[f"{registry.host}/{repo}:a"],
            cache_to=[f"type=registry,ref={registry.host}/{repo}-cache:1,mode=max"],
            push=True,
        )
        layers = {
            str(d.digest) for d in h.image(root_a, f"{registry.host}/{repo}:a").manifest().layers
        }
        root_b, ctx_b = machine(tmp_path, "b", busybox_image, monkeypatch)
        proxy.reset()
        target = f"{proxy.host}/{repo}-b:1"
        b, ev_b, _ = build(
            root_b,
            ctx_b,
            tags=[target],
            push=True,
            cache_from=[f"type=registry,ref={proxy.host}/{repo}-cache:1"],
        )
        assert not executed(ev_b)
        assert _layer_gets(proxy, layers) == []
        mounts = [p for m, p, _, _ in proxy.log if m == "POST" and "mount=" in p]
        assert mounts  # the cached layers were cross-repo mounted
        assert b.manifest.digest == a.manifest.digest
        from store.fsck import fsck
        from store.layout import open_store

        st = open_store(root_b)  # layers left in the registry leave the store valid
        try:
            report = fsck(st)
            assert report.clean, report
        finally:
            st.close()
        import requests

        got = requests.get(
            f"http://{registry.host}/v2/{repo}-b/manifests/1",
            timeout=30,
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert got.headers["Docker-Content-Digest"] == str(a.manifest.digest)
        for d in layers:
            assert (
                requests.head(
                    f"http://{registry.host}/v2/{repo}-b/blobs/{d}", timeout=30
                ).status_code
                == 200
            )
    finally:
        proxy.stop()
