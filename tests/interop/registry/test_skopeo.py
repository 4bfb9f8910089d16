"""Interop with skopeo against the real registry: skopeo reads what pybuild pushes,
and pybuild pulls what skopeo pushes (single image, schema2, multi-platform index)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from registry_client import pull_image, push_image
from store.layout import open_store
from store.oci.digest import Digest
from store.oci.mediatype import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX
from store.oci.platform import Platform
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import (
    gzip_bytes,
    make_image,
    make_index,
    put_in_store,
    write_oci_layout,
)


def skopeo(*args: str) -> str:
    out = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def busybox_layer(busybox_tar: Path) -> bytes:
    return gzip_bytes(busybox_tar.read_bytes())


def _busybox_image(busybox_layer: bytes, platform: Platform | None = None, extra: bytes = b""):
    """A marker layer, then the real busybox rootfs layer."""
    return make_image([{"etc/marker": extra or b"x"}], platform, raw_layers=[busybox_layer])


def test_skopeo_reads_what_pybuild_pushes(registry, registry_store, busybox_layer, tmp_path):
    img = _busybox_image(busybox_layer)
    desc = put_in_store(registry_store, img)
    ref = f"{registry.host}/{unique_repo()}:1"
    push_image(registry_store, desc, ref)
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))
    assert info["Digest"] == str(desc.digest)
    assert info["Layers"] == [str(b.desc.digest) for b in img.layers]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    assert Digest.of_bytes(raw.encode()) == desc.digest
    out = tmp_path / "copied"
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:x")
    for b in img.blobs():
        assert (out / "blobs" / "sha256" / b.desc.digest.hex).read_bytes() == b.data


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_pybuild_pulls_what_skopeo_pushes(fmt, registry, busybox_layer, tmp_path):
    img = _busybox_image(busybox_layer, extra=fmt.encode())
    layout = write_oci_layout(tmp_path / "layout", img.manifest, list(img.blobs()), "v1")
    ref = f"{registry.host}/{unique_repo()}:{fmt}"
    skopeo(
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--format",
        fmt,
        f"oci:{layout}:v1",
        f"docker://{ref}",
    )
    want = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))["Digest"]
    st = open_store(tmp_path / "store")
    res = pull_image(st, ref)
    assert str(res.manifest.digest) == want
    if fmt == "v2s2":
        assert res.manifest.media_type == DOCKER_MANIFEST
    man = st.blobs.read_json(res.manifest)
    for layer in man["layers"]:
        assert st.blobs.exists(Digest.parse(layer["digest"]))
    assert st.blobs.path(Digest.parse(man["layers"][-1]["digest"])).read_bytes() == busybox_layer
    st.close()


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_multi_platform_index_from_skopeo(fmt, registry, busybox_layer, tmp_path):
    plats = [
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
        Platform("linux", "arm", "v7"),
    ]
    images = [(p, _busybox_image(busybox_layer, p, extra=str(p).encode())) for p in plats]
    index = make_index(images)
    blobs = [b for _, im in images for b in (*im.blobs(), im.manifest)]
    layout = write_oci_layout(tmp_path / "layout", index, blobs, "multi")
    ref = f"{registry.host}/{unique_repo()}:multi"
    # oci: the index as it is; v2s2: skopeo converts it to a Docker manifest list.
    opts = ["--preserve-digests"] if fmt == "oci" else ["--format", "v2s2"]
    skopeo(
        "copy",
        "-q",
        "--all",
        *opts,
        "--dest-tls-verify=false",
        f"oci:{layout}:multi",
        f"docker://{ref}",
    )
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}"))
    assert raw["mediaType"] == (OCI_INDEX if fmt == "oci" else DOCKER_MANIFEST_LIST)
    for p, im in images:
        st = open_store(tmp_path / f"s-{p.architecture}{p.variant}")
        res = pull_image(st, ref, platform=str(p))
        if fmt == "oci":
            assert res.manifest.digest == im.manifest.desc.digest
            assert res.index_digest == index.desc.digest
        else:
            assert res.manifest.media_type == DOCKER_MANIFEST
        assert (
            res.manifest.platform is not None
            and res.manifest.platform.architecture == p.architecture
        )
        marker = im.layers[0]  # the layer that names the platform
        assert st.blobs.path(marker.desc.digest).read_bytes() == marker.data
        st.close()


def test_skopeo_copies_an_index_pybuild_pushed(registry, registry_store, tmp_path):
    import io

    plats = [Platform("linux", "amd64"), Platform("linux", "arm64", "v8")]
    images = [(p, make_image([{"p": str(p).encode()}], p)) for p in plats]
    index = make_index(images)
    for _, im in images:
        put_in_store(registry_store, im)
    registry_store.blobs.put(io.BytesIO(index.data), index.media_type)
    ref = f"{registry.host}/{unique_repo()}:idx"
    push_image(registry_store, index.desc, ref)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    assert raw.encode() == index.data
    out = tmp_path / "all"
    skopeo("copy", "-q", "--all", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:x")
    for _, im in images:
        for b in (*im.blobs(), im.manifest):
            assert (out / "blobs" / "sha256" / b.desc.digest.hex).read_bytes() == b.data
