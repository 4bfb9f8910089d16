"""Every image source gives the same analysis: the store, oci:DIR, oci-archive:F,
docker-archive:F, and a registry reference streamed from Debian's real
docker-registry without unpacking anything to disk. And every source is read through
the verified image model: a tampered or missing blob and an oversize document are
refused with one line, and an index is resolved as the store resolves it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from builder.cli import main
from store.image import open_image
from store.layout import open_store
from store.oci.manifest import MAX_MANIFEST_SIZE
from store.oci.mediatype import OCI_MANIFEST
from store.oci.platform import Platform, host_platform
from store.readers.blobs import DOC_LIMIT
from tests.fixtures.registry_images import (
    Blob,
    layout_archive,
    make_image,
    make_index,
    put_in_store,
    sparse_tar,
    write_oci_layout,
)
from tests.fixtures.registry_images import TestImage as Image  # not a test class
from tests.unit.inspect.synth import docker_archive, layer_tar, oci_archive, store_image

TARS = [
    layer_tar([("dir", "bin"), ("file", "bin/sh", 5000), ("file", "etc/os-release", 80)]),
    layer_tar([("file", "tmp/cache.bin", 40000), ("file", "app/app", 12000)]),
    layer_tar([("del", "tmp/cache.bin"), ("file", "app/app", 12500)]),
]
HIST = [
    {"created_by": "ADD rootfs / # buildkit"},
    {"created_by": "RUN /bin/sh -c build # buildkit", "comment": "pybuild:line=2"},
    {
        "created_by": "RUN /bin/sh -c rm /tmp/cache.bin && build # buildkit",
        "comment": "pybuild:line=3",
    },
]


def _doc(capsys: pytest.CaptureFixture[str], name: str) -> dict:
    capsys.readouterr()
    assert main(["inspect", name, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _essence(doc: dict) -> dict:
    return {
        "layers": [
            (
                x["uncompressed_size"],
                x["files_size"],
                x["line"],
                x["added"],
                x["modified"],
                x["deleted"],
            )
            for x in doc["layers"]
        ],
        "wasted": doc["wasted_bytes"],
        "reclaimable": doc["reclaimable_bytes"],
        "eff": doc["efficiency"],
        "pitfalls": [(p["id"], p["lines"], p["bytes"]) for p in doc["pitfalls"]],
    }


@pytest.fixture
def reference(store_root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    store_image(store_root, "src:1", TARS, HIST)
    doc = _doc(capsys, "src:1")
    assert doc["reclaimable_bytes"] == 40000 + 12000
    assert doc["wasted_bytes"] == 40000 + 12000 + 12500  # dive counts app/app's both visits
    return _essence(doc)


def test_oci_archive_and_layout_dir(reference: dict, tmp_path: Path, capsys) -> None:
    arc = oci_archive(tmp_path / "img.tar", TARS, HIST, how="zstd")
    assert _essence(_doc(capsys, f"oci-archive:{arc}")) == reference
    assert _essence(_doc(capsys, f"oci-archive:{arc}:latest")) == reference
    layout = tmp_path / "layout"
    with tarfile.open(arc) as tf:
        # extraction filters came in 3.11.4; Debian 12's Python is 3.11.2
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(layout, **safe)
    assert _essence(_doc(capsys, f"oci:{layout}")) == reference


def test_docker_archive(reference: dict, tmp_path: Path, capsys) -> None:
    arc = docker_archive(tmp_path / "d.tar", TARS, HIST)
    doc = _doc(capsys, f"docker-archive:{arc}")
    assert _essence(doc) == reference
    assert doc["layers"][0]["size"] == len(TARS[0])  # stored uncompressed


def test_registry_streaming(
    reference: dict, registry, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc = oci_archive(tmp_path / "img.tar", TARS, HIST)
    name = f"{registry.host}/inspect/demo:1"
    skopeo = shutil.which("skopeo")
    assert skopeo, "skopeo is not installed"
    subprocess.run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"oci-archive:{arc}:latest",
            f"docker://{name}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    empty_root = tmp_path / "no-store"
    monkeypatch.setenv("PYBUILD_ROOT", str(empty_root))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    before = {p for p in tmp_path.rglob("*")}
    doc = _doc(capsys, name)
    assert _essence(doc) == reference
    # streamed: nothing was unpacked or stored anywhere
    assert not empty_root.exists()
    assert {p for p in tmp_path.rglob("*")} - before == set()  # (sqlite may drop its -wal)


def _push(registry, tmp_path: Path, repo: str) -> str:
    arc = oci_archive(tmp_path / "img.tar", TARS, HIST)
    name = f"{registry.host}/{repo}:1"
    subprocess.run(
        [
            shutil.which("skopeo") or "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"oci-archive:{arc}:latest",
            f"docker://{name}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return f"{repo}:1"


def test_registry_stream_resumes_and_verifies(
    reference: dict, registry, fault_proxy, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from tests.fixtures.registry_proxy import Fault
    from tests.unit.inspect.synth import compress

    repo_tag = _push(registry, tmp_path, "inspect/faults")
    monkeypatch.setenv("PYBUILD_ROOT", str(tmp_path / "no-store"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    blob = compress(TARS[1], "gzip")[0]
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    name = f"{fault_proxy.host}/{repo_tag}"
    # a connection dropped mid-layer is resumed with Range
    fault_proxy.add(Fault("drop", path=re.escape(f"/blobs/{digest}"), at=200))
    assert _essence(_doc(capsys, name)) == reference
    assert any(rng for _, path, _, rng in fault_proxy.log if digest in path)  # resumed
    # a flipped byte fails the analysis with one line naming the blob
    fault_proxy.reset()
    fault_proxy.add(Fault("flip", path=re.escape(f"/blobs/{digest}"), at=100))
    capsys.readouterr()
    rc = main(["inspect", name, "--json"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    assert f"layer 1 ({digest[:19]})" in err and "gzip" in err, err


# --- hostile and damaged sources -------------------------------------------------


def _refused(capsys: pytest.CaptureFixture[str], spec: str) -> str:
    capsys.readouterr()
    rc = main(["inspect", spec, "--json"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1, err  # one line, no traceback
    return err


def _layout(tmp_path: Path) -> tuple[Path, Image]:
    img = make_image([{"app/a.txt": b"a" * 3000}, {"app/b.txt": b"b" * 2000}], gzip_layers=False)
    return write_oci_layout(tmp_path / "layout", img.manifest, list(img.blobs())), img


def _blob_file(root: Path, blob: Blob) -> Path:
    return root / "blobs" / "sha256" / blob.desc.digest.hex


@pytest.mark.parametrize("kind", ["oci", "oci-archive"])
def test_a_tampered_layer_is_refused_with_a_digest_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    root, img = _layout(tmp_path)
    p = _blob_file(root, img.layers[1])
    # still a valid tar of the same size: only the digest can tell
    p.write_bytes(p.read_bytes().replace(b"b" * 10, b"c" * 10, 1))
    spec = f"oci:{root}"
    if kind == "oci-archive":
        spec = f"oci-archive:{layout_archive(root, tmp_path / 'img.tar')}"
    err = _refused(capsys, spec)
    d = img.layers[1].desc.digest
    assert f"layer 1 ({str(d)[:19]})" in err and f"digest mismatch: expected {d}" in err, err


@pytest.mark.parametrize("what", ["manifest", "config"])
def test_a_tampered_manifest_or_config_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    root, img = _layout(tmp_path)
    blob = img.manifest if what == "manifest" else img.config
    p = _blob_file(root, blob)
    data = p.read_bytes()
    # valid JSON still: the config of the same size, the manifest one byte longer
    p.write_bytes(data.replace(b"/bin/sh", b"/bin/xx") if what == "config" else b" " + data)
    err = _refused(capsys, f"oci:{root}")
    want = "digest mismatch: expected" if what == "config" else "size mismatch for"
    assert err.startswith(f"inspect oci:{root}: {want} {blob.desc.digest}"), err


def test_a_missing_layer_blob_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, img = _layout(tmp_path)
    _blob_file(root, img.layers[0]).unlink()
    err = _refused(capsys, f"oci:{root}")
    assert f"layer 0 ({str(img.layers[0].desc.digest)[:19]}): blob not found" in err, err


BIG = 256 << 20
FAKE = "ab" * 32


def _oversize(tmp_path: Path, case: str) -> tuple[str, str]:
    """(spec, the refusal) of an archive with a BIG document, as a hole in the tar."""
    tar = tmp_path / "big.tar"
    if case in ("oci-manifest", "oci-manifest-understated"):
        size = BIG if case == "oci-manifest" else 500
        entry = {"mediaType": OCI_MANIFEST, "digest": f"sha256:{FAKE}", "size": size}
        index = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
        sparse_tar(tar, [("index.json", index), (f"blobs/sha256/{FAKE}", BIG)])
        if case == "oci-manifest":
            return f"oci-archive:{tar}", f"is {BIG} bytes; refusing to read more than"
        return f"oci-archive:{tar}", f"expected 500 bytes, got {BIG}"
    if case == "docker-manifest.json":
        sparse_tar(tar, [("manifest.json", BIG)])
        return f"docker-archive:{tar}", f"manifest.json is too large ({BIG} bytes)"
    entries = [{"Config": f"{FAKE}.json", "RepoTags": ["x:1"], "Layers": []}]
    sparse_tar(tar, [("manifest.json", json.dumps(entries).encode()), (f"{FAKE}.json", BIG)])
    return f"docker-archive:{tar}", f"is {BIG} bytes; refusing to read more than"


@pytest.mark.parametrize(
    "case", ["oci-manifest", "oci-manifest-understated", "docker-manifest.json", "docker-config"]
)
def test_an_oversize_document_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    spec, want = _oversize(tmp_path, case)
    tracemalloc.start()
    try:
        err = _refused(capsys, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert want in err, err
    assert peak < max(MAX_MANIFEST_SIZE, DOC_LIMIT) + (16 << 20), peak  # never read whole


def _index_layout(root: Path, images: list[tuple[Platform, Image]]) -> Blob:
    index = make_index(images)
    blobs = [b for _, img in images for b in (*img.blobs(), img.manifest)]
    write_oci_layout(root, index, blobs)
    return index


def test_an_index_is_resolved_as_the_store_resolves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = host_platform()
    images = [
        (p, make_image([{"which": str(p).encode()}], p))
        for p in (
            Platform("windows", host.architecture),
            Platform(host.os, host.architecture, "v3"),  # compatible, listed first
            Platform(host.os, host.architecture, host.variant),  # the exact variant
        )
    ]
    index = _index_layout(tmp_path / "layout", images)
    want = images[2][1].manifest.desc.digest
    assert _doc(capsys, f"oci:{tmp_path / 'layout'}")["manifest_digest"] == str(want)
    store = open_store(tmp_path / "store")
    try:
        for _, img in images:
            put_in_store(store, img)
        store.blobs.put_bytes(index.data, index.media_type)
        assert open_image(store, index.desc).digest == want
    finally:
        store.close()


def test_an_index_without_the_platform_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Platform("windows", "amd64")
    _index_layout(tmp_path / "layout", [(other, make_image([{"w": b"w"}], other))])
    err = _refused(capsys, f"oci:{tmp_path / 'layout'}")
    assert f"no manifest for platform {host_platform()}" in err, err
