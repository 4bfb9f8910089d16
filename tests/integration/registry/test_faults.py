"""Faults a real registry cannot produce, injected by a proxy in front of it: dropped
connections mid-blob (resumed with Range), 500/429 once (retried, Retry-After
honoured), a flipped byte (rejected, nothing stored), oversized and schema1 manifests."""

from __future__ import annotations

import random
import time

import pytest

from registry_client import pull_image, push_image
from registry_client.client import RegistryClient
from registry_client.errors import SPEC_CODES, BlobVerificationError, ManifestError, RegistryError
from registry_client.push import PushOptions
from registry_client.transport import TransportOptions
from store.layout import open_store
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import make_image, put_in_store
from tests.fixtures.registry_proxy import Fault


def _fast_client() -> RegistryClient:
    return RegistryClient(options=TransportOptions(backoff=0.05, retries=3))


@pytest.fixture
def pushed(registry, registry_store):
    """An image with one ~600 kB layer, pushed to the real registry; the proxy repo path."""
    img = make_image([{"big.bin": bytes(range(256)) * 2400 + b"tail"}, {"s.txt": b"small"}])
    desc = put_in_store(registry_store, img)
    repo = unique_repo("faults")
    push_image(registry_store, desc, f"{registry.host}/{repo}:1")
    return img, repo


@pytest.mark.parametrize("times", [1, 3])
def test_dropped_connection_mid_blob_resumes(times, fault_proxy, pushed, tmp_path):
    img, repo = pushed
    layer = img.layers[0]
    # Each of the first `times` responses for the blob is cut after a quarter of the
    # blob's size, so the client resumes at 25%, 50%, 75%.
    fault_proxy.add(
        Fault("drop", f"/blobs/{layer.desc.digest}", at=len(layer.data) // 4, times=times)
    )
    st = open_store(tmp_path / "s")
    events = []
    res = pull_image(
        st, f"{fault_proxy.host}/{repo}:1", client=_fast_client(), progress=events.append
    )
    assert st.blobs.path(layer.desc.digest).read_bytes() == layer.data
    assert layer.desc.digest in res.fetched
    ranges = [r for m, p, _, r in fault_proxy.log if str(layer.desc.digest) in p and r]
    starts = [int(r.removeprefix("bytes=").rstrip("-")) for r in ranges]
    assert len(starts) == times and starts == sorted(starts) and starts[0] > 0
    assert starts == [(i + 1) * (len(layer.data) // 4) for i in range(times)]
    assert sum(e.action == "retry" and "resuming" in e.message for e in events) == times
    st.close()


def test_resume_when_the_registry_ignores_range(fault_proxy, pushed, tmp_path):
    img, repo = pushed
    layer = img.layers[0]
    fault_proxy.add(Fault("drop", f"/blobs/{layer.desc.digest}", at=len(layer.data) // 2))
    fault_proxy.add(Fault("norange", f"/blobs/{layer.desc.digest}"))
    st = open_store(tmp_path / "s")
    pull_image(st, f"{fault_proxy.host}/{repo}:1", client=_fast_client())
    # The full body came back (200): the client skipped what it had, kept the rest.
    assert st.blobs.path(layer.desc.digest).read_bytes() == layer.data
    assert [a for a in fault_proxy.answers if str(layer.desc.digest) in a[1]][-1][2] == 200
    st.close()


@pytest.mark.parametrize("status", [500, 429, 408])
def test_transient_status_is_retried(status, fault_proxy, pushed, tmp_path):
    img, repo = pushed
    fault_proxy.add(
        Fault("status", "/manifests/", status=status, retry_after="1" if status == 429 else "")
    )
    fault_proxy.add(Fault("status", f"/blobs/{img.layers[1].desc.digest}", status=status))
    st = open_store(tmp_path / "s")
    retries = []
    client = _fast_client()
    client.on_retry = retries.append
    t0 = time.monotonic()
    res = pull_image(st, f"{fault_proxy.host}/{repo}:1", client=client)
    assert res.manifest.digest == img.manifest.desc.digest
    assert len(retries) == 2 and all(str(status) in r for r in retries)
    if status == 429:
        assert time.monotonic() - t0 >= 1.0  # Retry-After: 1 was honoured
    st.close()


def test_persistent_429_gives_toomanyrequests(fault_proxy, pushed, tmp_path):
    _, repo = pushed
    fault_proxy.add(Fault("status", "/manifests/", status=429, times=100))
    ref = f"{fault_proxy.host}/{repo}:1"
    with pytest.raises(RegistryError) as ei:
        pull_image(open_store(tmp_path / "s"), ref, client=_fast_client())
    assert str(ei.value).startswith(f"pull {ref}: 429 TOOMANYREQUESTS")


def test_flipped_byte_is_rejected_and_nothing_stored(fault_proxy, pushed, tmp_path):
    img, repo = pushed
    layer = img.layers[0]
    fault_proxy.add(Fault("flip", f"/blobs/{layer.desc.digest}", at=1000))
    st = open_store(tmp_path / "s")
    with pytest.raises(BlobVerificationError) as ei:
        pull_image(st, f"{fault_proxy.host}/{repo}:1", client=_fast_client())
    assert str(layer.desc.digest) in str(ei.value) and "mismatch" in str(ei.value)
    assert ei.value.digest == str(layer.desc.digest)
    assert not st.blobs.exists(layer.desc.digest)
    assert not st.blobs.exists(img.manifest.desc.digest)
    assert list(st.blobs.iter_ingests()) == []
    assert st.refs.list() == []
    st.close()


def test_oversized_manifest_is_refused(fault_proxy, pushed, tmp_path):
    _, repo = pushed
    fault_proxy.add(Fault("oversize", "/manifests/"))
    st = open_store(tmp_path / "s")
    with pytest.raises(ManifestError, match="exceeds the 4194304-byte limit"):
        pull_image(st, f"{fault_proxy.host}/{repo}:1", client=_fast_client())
    assert st.refs.list() == []


def test_schema1_manifest_is_refused(fault_proxy, pushed, tmp_path):
    _, repo = pushed
    fault_proxy.add(Fault("schema1", "/manifests/"))
    with pytest.raises(ManifestError, match="schema1 manifests are deprecated"):
        pull_image(
            open_store(tmp_path / "s"), f"{fault_proxy.host}/{repo}:1", client=_fast_client()
        )


@pytest.mark.parametrize("relative", [True, False])
def test_push_through_proxy_locations_and_retry(relative, fault_proxy, registry_store, tmp_path):
    # Relative or absolute Location headers; a 500 on the first upload PUT is retried.
    img = make_image([{"p.txt": b"through the proxy"}, {"big": random.Random(7).randbytes(16384)}])
    desc = put_in_store(registry_store, img)
    fault_proxy.relative_locations = relative
    fault_proxy.add(Fault("status", "/blobs/uploads/", method="PUT", status=500))
    ref = f"{fault_proxy.host}/{unique_repo()}:1"
    res = push_image(
        registry_store,
        desc,
        ref,
        client=_fast_client(),
        options=PushOptions(chunked_threshold=1000, chunk_size=4096),
    )
    assert res.digest == desc.digest and len(res.uploaded) == 3
    patches = [p for m, p, _, _ in fault_proxy.log if m == "PATCH"]
    assert len(patches) >= 4  # the 16 kB layer went in 4 kB chunks
    st = open_store(tmp_path / "s")
    assert pull_image(st, ref, client=_fast_client()).manifest.digest == desc.digest
    st.close()


@pytest.mark.parametrize("status,sessions", [(416, 2), (503, 1), (501, 0)])
def test_a_failed_upload_restarts_only_when_the_policy_says(
    status, sessions, fault_proxy, registry_store
):
    """A chunk refused with a lost offset (416) starts a new upload session; a
    transient status (503) is retried as a request, in the same session; a status that
    will not change (501) fails the push at once."""
    img = make_image([{"big": random.Random(11).randbytes(16384)}])
    desc = put_in_store(registry_store, img)
    fault_proxy.add(Fault("status", "/blobs/uploads/", method="PATCH", status=status))
    ref = f"{fault_proxy.host}/{unique_repo()}:1"
    push = lambda: push_image(  # noqa: E731
        registry_store,
        desc,
        ref,
        client=RegistryClient(options=TransportOptions(backoff=0.01, retries=3)),
        options=PushOptions(chunked_threshold=1000, chunk_size=4096),
    )
    if sessions:
        assert push().digest == desc.digest
        started = [p for m, p, _, _ in fault_proxy.log if m == "POST" and "/blobs/uploads/" in p]
        assert len(started) == sessions + 1  # and the config's
    else:
        with pytest.raises(RegistryError) as ei:
            push()
        assert ei.value.status == 501
        assert [m for m, p, _, _ in fault_proxy.log if m == "PATCH"] == ["PATCH"]


def test_chunk_min_length_is_honoured(fault_proxy, registry_store):
    img = make_image([{"big": random.Random(9).randbytes(40000)}])
    desc = put_in_store(registry_store, img)
    fault_proxy.add(
        Fault(
            "header",
            "/blobs/uploads/$",
            method="POST",
            times=10,
            header=("OCI-Chunk-Min-Length", "16384"),
        )
    )
    res = push_image(
        registry_store,
        desc,
        f"{fault_proxy.host}/{unique_repo()}:1",
        client=_fast_client(),
        options=PushOptions(chunked_threshold=1000, chunk_size=1024),
    )
    assert res.digest == desc.digest
    patches = [p for m, p, _, _ in fault_proxy.log if m == "PATCH"]
    # The ~40 kB layer: 16 kB chunks (the registry's floor), not 1 kB ones.
    assert len(patches) == 3


@pytest.mark.parametrize(
    "status,code,word",
    [
        (403, "DENIED", "requested access to the resource is denied"),
        (400, "MANIFEST_INVALID", "manifest invalid"),
    ],
)
def test_manifest_put_errors_are_one_line(status, code, word, fault_proxy, registry_store):
    desc = put_in_store(registry_store, make_image([{"d": code.encode()}]))
    fault_proxy.add(Fault("status", "/manifests/", method="PUT", status=status, code=code))
    ref = f"{fault_proxy.host}/{unique_repo()}:1"
    with pytest.raises(RegistryError) as ei:
        push_image(registry_store, desc, ref, client=_fast_client())
    assert str(ei.value) == f"push {ref}: {status} {code} (injected)"
    assert ei.value.method == "PUT" and ei.value.url.endswith("/manifests/1")
    assert SPEC_CODES[code] == word


def test_missing_blob_is_blob_unknown(fault_proxy, pushed, tmp_path):
    img, repo = pushed
    layer = img.layers[1]
    fault_proxy.add(Fault("status", f"/blobs/{layer.desc.digest}", status=404, code="BLOB_UNKNOWN"))
    ref = f"{fault_proxy.host}/{repo}:1"
    st = open_store(tmp_path / "s")
    with pytest.raises(RegistryError) as ei:
        pull_image(st, ref, client=_fast_client())
    assert str(ei.value) == f"pull {ref}: 404 BLOB_UNKNOWN (injected)"
    assert ei.value.url.endswith(f"/blobs/{layer.desc.digest}")
    assert not st.blobs.exists(img.manifest.desc.digest) and st.refs.list() == []
    st.close()


def test_unreachable_registry_is_one_clear_line(registry_store):
    from tests.fixtures.registry import free_port

    port = free_port()  # nothing listens here
    ref = f"127.0.0.1:{port}/x:1"
    retries: list[str] = []
    client = _fast_client()
    client.on_retry = retries.append
    with pytest.raises(RegistryError) as ei:
        pull_image(registry_store, ref, client=client)
    assert str(ei.value) == f"pull {ref}: cannot connect to 127.0.0.1:{port}: connection refused"
    assert len(retries) == 2  # refused connections get two quick retries, not the full budget
