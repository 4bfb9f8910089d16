"""Pull and push against the real docker-registry (plain HTTP on loopback)."""

from __future__ import annotations

import io

import pytest

from registry_client import pull_image, push_image
from registry_client.client import RegistryClient
from registry_client.errors import RegistryError
from registry_client.progress import ProgressEvent
from registry_client.push import PushOptions
from store.layout import open_store
from store.oci.digest import Digest
from store.oci.platform import Platform
from store.oci.reference import Reference
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import make_image, make_index, put_in_store


def _image(seed: str, n: int = 2):
    return make_image([{f"f{i}.txt": f"{seed}-{i}".encode() * 100} for i in range(n)])


def test_push_then_pull_round_trip(registry, registry_store, tmp_path):
    img = _image("round")
    desc = put_in_store(registry_store, img, "app:1")
    ref = f"{registry.host}/{unique_repo()}:1"
    events: list[ProgressEvent] = []
    res = push_image(registry_store, desc, ref, progress=events.append)
    assert res.digest == img.manifest.desc.digest
    assert set(res.uploaded) == {b.desc.digest for b in img.blobs()}
    assert {e.action for e in events} >= {"start", "done", "manifest"}

    other = open_store(tmp_path / "other")
    pevents: list[ProgressEvent] = []
    got = pull_image(other, ref, progress=pevents.append)
    assert got.manifest.digest == img.manifest.desc.digest
    for b in img.blobs():
        assert other.blobs.path(b.desc.digest).read_bytes() == b.data
    assert other.refs.get(Reference.parse(ref).familiar()).digest == img.manifest.desc.digest
    assert [e.digest for e in pevents if e.action == "done"] != []
    progress = [e for e in pevents if e.action == "progress"]
    assert progress and all(e.total > 0 for e in progress)

    # Pull again: everything is skipped, nothing fetched.
    again = pull_image(other, ref)
    assert again.fetched == () and set(again.skipped) == {b.desc.digest for b in img.blobs()}
    other.close()


def test_push_skips_existing_blobs_and_several_tags(registry, registry_store):
    img = _image("tags")
    desc = put_in_store(registry_store, img)
    repo = unique_repo()
    ref = Reference.parse(f"{registry.host}/{repo}:a")
    push_image(registry_store, desc, ref)
    res = push_image(registry_store, desc, ref, tags=["b", "c"])
    assert res.uploaded == () and set(res.existed) == {b.desc.digest for b in img.blobs()}
    client = RegistryClient()
    assert sorted(client.list_tags(ref)) == ["a", "b", "c"]
    assert client.head_manifest(ref.with_tag("c")) == img.manifest.desc.digest


def test_pull_by_digest(registry, registry_store, tmp_path):
    img = _image("bydigest")
    desc = put_in_store(registry_store, img)
    repo = f"{registry.host}/{unique_repo()}"
    push_image(registry_store, desc, f"{repo}:x")
    other = open_store(tmp_path / "o")
    res = pull_image(other, f"{repo}@{desc.digest}")
    assert res.manifest.digest == desc.digest
    assert other.refs.get(str(desc.digest)).digest == desc.digest
    other.close()


def test_chunked_upload_honours_min_chunk(registry, registry_store, tmp_path):
    big = make_image([{"big.bin": bytes(range(256)) * 4000}, {"b.txt": b"x"}])
    desc = put_in_store(registry_store, big)
    ref = f"{registry.host}/{unique_repo()}:chunked"
    opts = PushOptions(chunked_threshold=1000, chunk_size=4096)
    res = push_image(registry_store, desc, ref, options=opts)
    assert len(res.uploaded) == 3
    other = open_store(tmp_path / "o")
    pull_image(other, ref)
    layer = big.layers[0]
    assert other.blobs.path(layer.desc.digest).read_bytes() == layer.data
    other.close()


def test_cross_repo_mount(registry, registry_store):
    img = _image("mount")
    desc = put_in_store(registry_store, img)
    a = f"{registry.host}/{unique_repo('src')}:1"
    b = f"{registry.host}/{unique_repo('dst')}:1"
    push_image(registry_store, desc, a)
    events: list[ProgressEvent] = []
    res = push_image(registry_store, desc, b, progress=events.append)
    assert set(res.mounted) == {b_.desc.digest for b_ in img.blobs()}
    assert res.uploaded == ()
    src_repo = a.split("/", 1)[1].rsplit(":", 1)[0]
    mounts = [e for e in events if e.action == "mount"]
    assert len(mounts) == len(img.blobs())
    assert all(e.message == f"from {src_repo}" for e in mounts)


def test_multi_platform_index_push_and_pull(registry, registry_store, tmp_path):
    amd = make_image([{"arch": b"amd64"}], Platform("linux", "amd64"))
    arm = make_image([{"arch": b"arm64v8"}], Platform("linux", "arm64", "v8"))
    armv7 = make_image([{"arch": b"armv7"}], Platform("linux", "arm", "v7"))
    plats = [
        (Platform("linux", "amd64"), amd),
        (Platform("linux", "arm64", "v8"), arm),
        (Platform("linux", "arm", "v7"), armv7),
    ]
    index = make_index(plats)
    for _, im in plats:
        put_in_store(registry_store, im)
    registry_store.blobs.put(io.BytesIO(index.data), index.media_type)
    ref = f"{registry.host}/{unique_repo()}:multi"
    res = push_image(registry_store, index.desc, ref)
    assert res.digest == index.desc.digest
    for want, image in (("linux/arm64", arm), ("linux/arm/v7", armv7), ("linux/amd64", amd)):
        st = open_store(tmp_path / want.replace("/", "_"))
        got = pull_image(st, ref, platform=want)
        assert got.manifest.digest == image.manifest.desc.digest
        assert got.index_digest == index.desc.digest
        assert st.blobs.exists(image.layers[0].desc.digest)
        st.close()
    with pytest.raises(RegistryError, match="no image for platform linux/s390x"):
        pull_image(open_store(tmp_path / "s390x"), ref, platform="linux/s390x")


def test_errors_are_one_line_with_codes(registry, registry_store):
    ref = f"{registry.host}/{unique_repo()}:missing"
    with pytest.raises(RegistryError) as ei:
        pull_image(registry_store, ref)
    e = ei.value
    assert e.status == 404 and set(e.codes) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}
    assert str(e).startswith(f"pull {ref}: 404 ")
    assert "\n" not in str(e) and e.method == "GET" and "/manifests/missing" in e.url


def test_manifest_digest_is_verified_for_pinned_pull(registry, registry_store):
    img = _image("pinned")
    desc = put_in_store(registry_store, img)
    repo = f"{registry.host}/{unique_repo()}"
    push_image(registry_store, desc, f"{repo}:1")
    wrong = Digest.of_bytes(b"not the manifest")
    with pytest.raises(RegistryError):
        pull_image(registry_store, f"{repo}@{wrong}")


def test_blob_level_api_for_caches(registry, registry_store, tmp_path):
    """push_blobs + put_manifest, then fetch_blobs: what --cache-to/--cache-from use."""
    from registry_client.pull import fetch_blobs
    from registry_client.push import push_blobs

    img = _image("cache", 3)
    put_in_store(registry_store, img)
    ref = Reference.parse(f"{registry.host}/{unique_repo('cache')}:buildcache")
    client = RegistryClient()
    res = push_blobs(registry_store, ref, [b.desc for b in img.blobs()], client=client)
    assert res.digest is None and len(res.uploaded) == 4
    assert (
        client.put_manifest(ref, img.manifest.data, img.manifest.media_type)
        == img.manifest.desc.digest
    )
    other = open_store(tmp_path / "o")
    fetched, skipped = fetch_blobs(other, ref, [b.desc for b in img.layers], client=client)
    assert set(fetched) == {b.desc.digest for b in img.layers} and skipped == ()
    assert fetch_blobs(other, ref, [img.layers[0].desc], client=client) == (
        (),
        (img.layers[0].desc.digest,),
    )
    other.close()


def test_unknown_repository_tags_is_name_unknown(registry):
    ref = Reference.parse(f"{registry.host}/{unique_repo('nobody')}:x")
    with pytest.raises(RegistryError) as ei:
        RegistryClient().list_tags(ref)
    assert ei.value.status == 404 and ei.value.codes == ("NAME_UNKNOWN",)
    assert "\n" not in str(ei.value) and ei.value.method == "GET"


def test_concurrent_pulls_into_one_store(registry, registry_store, tmp_path):
    import threading

    img = make_image([{f"c{i}": bytes([i]) * 50000} for i in range(4)])
    desc = put_in_store(registry_store, img)
    ref = f"{registry.host}/{unique_repo()}:conc"
    push_image(registry_store, desc, ref)
    shared = open_store(tmp_path / "shared")
    client = RegistryClient()  # one client (pool, tokens) shared by the threads
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(pull_image(shared, ref, client=client))
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 3
    for b in img.blobs():
        assert shared.blobs.path(b.desc.digest).read_bytes() == b.data
    assert list(shared.blobs.iter_ingests()) == []
    assert shared.refs.get(Reference.parse(ref).familiar()).digest == desc.digest
    shared.close()
