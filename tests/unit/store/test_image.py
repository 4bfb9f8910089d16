"""Image model: config round trips (known and unknown fields), manifests, indexes,
schema2 <-> OCI conversion, and the store-backed image."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import InvalidImage
from store.image import StoredImage, resolve_image, write_image
from store.layout import open_store
from store.oci.config import ContainerConfig, Healthcheck, History, ImageConfig, go_json
from store.oci.digest import Descriptor, Digest
from store.oci.image import to_docker, to_oci
from store.oci.manifest import Index, Manifest
from store.oci.mediatype import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
)
from store.oci.platform import Platform

# A config as docker/BuildKit write it, with fields we do not model (kept verbatim).
DOCKER_STYLE = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-02T03:04:05.123456789Z",
    "author": "someone",
    "docker_version": "24.0.7",
    "container": "abc",
    "config": {
        "Hostname": "",
        "User": "app",
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Env": ["PATH=/bin", "A=b=c"],
        "Entrypoint": ["/init"],
        "Cmd": ["serve", "--x"],
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "Labels": {"z": "1", "a": "<&>"},
        "StopSignal": "SIGTERM",
        "ArgsEscaped": True,
        "OnBuild": ["RUN x"],
        "Shell": ["/bin/bash", "-c"],
        "AttachStdin": False,
        "Healthcheck": {
            "Test": ["CMD-SHELL", "curl -f localhost"],
            "Interval": 30000000000,
            "Timeout": 5000000000,
            "StartPeriod": 1000000000,
            "Retries": 3,
        },
    },
    "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    "history": [
        {"created": "2024-01-01T00:00:00Z", "created_by": "ADD file"},
        {"created_by": "ENV A=b", "empty_layer": True, "comment": "buildkit.dockerfile.v0"},
        {"created_by": "RUN x"},
    ],
}


def test_docker_config_round_trips_with_unknown_fields() -> None:
    c = ImageConfig.from_json(DOCKER_STYLE)
    assert c.config.healthcheck == Healthcheck(
        ("CMD-SHELL", "curl -f localhost"), 30 * 10**9, 5 * 10**9, 10**9, 0, 3
    )
    assert c.config.on_build == ("RUN x",) and c.config.shell == ("/bin/bash", "-c")
    assert c.config.stop_signal == "SIGTERM" and c.config.env_dict() == {"PATH": "/bin", "A": "b=c"}
    assert c.extra["docker_version"] == "24.0.7" and c.config.extra == {
        "Hostname": "",
        "AttachStdin": False,
    }
    assert len(c.non_empty_history()) == 2
    assert json.loads(c.to_bytes()) == DOCKER_STYLE
    assert ImageConfig.from_json(json.loads(c.to_bytes())) == c


def test_go_json_escapes_like_go() -> None:
    assert go_json({"a": "<&>\u2028é"}) == b'{"a":"\\u003c\\u0026\\u003e\\u2028\xc3\xa9"}'


words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
configs = st.builds(
    ImageConfig,
    architecture=st.sampled_from(["amd64", "arm64"]),
    os=st.just("linux"),
    config=st.builds(
        ContainerConfig,
        user=st.none() | words,
        env=st.none()
        | st.lists(st.from_regex(r"\A[A-Z_]{1,5}=[a-z]{0,5}\Z"), max_size=3).map(tuple),
        cmd=st.none() | st.lists(words, max_size=3).map(tuple),
        labels=st.none() | st.dictionaries(words, words, max_size=3),
        exposed_ports=st.none()
        | st.lists(st.sampled_from(["80/tcp", "53/udp"]), unique=True).map(
            lambda x: tuple(sorted(x))
        ),
        healthcheck=st.none()
        | st.builds(
            Healthcheck,
            test=st.lists(words, max_size=2).map(tuple),
            interval=st.integers(0, 10**12),
            retries=st.integers(0, 9),
        ),
    ),
    diff_ids=st.lists(st.binary(max_size=4).map(Digest.of_bytes), max_size=3).map(tuple),
    history=st.lists(
        st.builds(History, created_by=st.none() | words, empty_layer=st.booleans()), max_size=3
    ).map(tuple),
    created=st.none() | st.just("2024-01-01T00:00:00Z"),
)


@given(configs)
def test_config_round_trip(c: ImageConfig) -> None:
    assert ImageConfig.from_json(json.loads(c.to_bytes())) == c


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"rootfs": {"type": "other"}},
        {"os": 1},
        {"config": {"Env": ["NOEQUALS"]}},
        {"config": {"Env": [1]}},
        {"config": {"User": 0}},
        {"config": {"Volumes": ["/x"]}},
        {"history": "x"},
        {"rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}},
    ],
)
def test_config_rejects(bad: object) -> None:
    with pytest.raises(InvalidImage):
        ImageConfig.from_json(bad)


def _m(
    layer_type: str = OCI_LAYER_GZIP, cfg_type: str = OCI_CONFIG, mt: str = OCI_MANIFEST
) -> Manifest:
    return Manifest(
        config=Descriptor(cfg_type, Digest.of_bytes(b"c"), 10),
        layers=(Descriptor(layer_type, Digest.of_bytes(b"l"), 20),),
        media_type=mt,
    )


def test_schema2_oci_conversion_round_trip() -> None:
    oci = _m()
    docker = to_docker(oci)
    assert docker.media_type == DOCKER_MANIFEST and docker.config.media_type == DOCKER_CONFIG
    assert docker.layers[0].media_type == DOCKER_LAYER_GZIP
    assert to_oci(docker) == oci
    assert to_docker(to_oci(docker)) == docker
    assert [d.digest for d in docker.layers] == [d.digest for d in oci.layers]  # same blobs
    with pytest.raises(InvalidImage):
        to_docker(_m(OCI_LAYER_ZSTD))


def test_manifest_and_index_json() -> None:
    m = _m()
    assert Manifest.from_json(json.loads(m.to_bytes())) == m
    with pytest.raises(InvalidImage):
        Manifest.from_json({"schemaVersion": 1})
    with pytest.raises(InvalidImage):
        Manifest.from_json({**m.to_json(), "layers": []}, strict=True)
    assert Manifest.from_json({**m.to_json(), "layers": []}).layers == ()
    md = Descriptor(OCI_MANIFEST, Digest.of_bytes(b"m"), 5, platform=Platform("linux", "arm64"))
    md2 = Descriptor(OCI_MANIFEST, Digest.of_bytes(b"n"), 6, platform=Platform("linux", "amd64"))
    idx = Index((md, md2))
    assert Index.from_json(idx.to_json()) == idx
    assert idx.select(Platform("linux", "amd64")) == md2
    with pytest.raises(InvalidImage):
        idx.select(Platform("linux", "s390x"))


def test_an_index_picks_the_same_variant_first_then_the_highest() -> None:
    def d(variant: str, arch: str = "arm64") -> Descriptor:
        return Descriptor(
            OCI_MANIFEST,
            Digest.of_bytes(variant.encode()),
            1,
            platform=Platform("linux", arch, variant),
        )

    idx = Index((d("v9"), d(""), d("v8.2")))
    assert idx.select(Platform("linux", "arm64")) == d("")  # not the first listed
    assert idx.select(Platform("linux", "arm64", "v9")) == d("v9")
    assert Index((d("v6", "arm"), d("v7", "arm"))).select(Platform("linux", "arm", "v7")) == d(
        "v7", "arm"
    )


def _layer(store, files: dict[str, bytes]) -> tuple[Descriptor, Digest]:  # type: ignore[no-untyped-def]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    diff_id = Digest.of_bytes(raw.getvalue())
    return store.blobs.put_bytes(gzip.compress(raw.getvalue()), OCI_LAYER_GZIP), diff_id


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_write_image_and_stored_image(tmp_path: Path, fmt: str) -> None:
    s = open_store(tmp_path)
    l1, d1 = _layer(s, {"a": b"1"})
    l2, d2 = _layer(s, {"b": b"2"})
    cfg = ImageConfig(config=ContainerConfig(cmd=("sh",)), diff_ids=(d1, d2))
    desc = write_image(s, cfg, [l1, l2], fmt=fmt, tags=["app:1", "app:2"])
    img = resolve_image(s, "app:1")
    assert isinstance(img, StoredImage) and img.digest == desc.digest
    assert img.config() == cfg and img.id == img.manifest().config.digest
    assert img.manifest().media_type == (DOCKER_MANIFEST if fmt == "docker" else OCI_MANIFEST)
    layers = img.layers()
    assert [x.diff_id for x in layers] == [d1, d2]
    with tarfile.open(fileobj=layers[1].uncompressed(), mode="r|") as tf:
        assert [m.name for m in tf] == ["b"]
    assert resolve_image(s, img.id.hex[:12]).digest == desc.digest
    with pytest.raises(InvalidImage):
        write_image(s, cfg, [l1])
