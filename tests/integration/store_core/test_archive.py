"""save/load/import against real tars: round trips, docker's legacy layout, and
hostile archives that must leave the store as it was."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from store.archive import save
from store.archive_load import load
from store.errors import (
    DigestMismatch,
    InvalidArchive,
    InvalidImage,
    StoreError,
    UnsafeArchiveEntry,
)
from store.fsck import fsck
from store.image import resolve_image
from store.layout import open_store
from store.oci.digest import Digest
from store.oci.mediatype import OCI_LAYER, OCI_LAYER_GZIP
from store.rootfs_import import import_rootfs
from tests.integration.store_core.helpers import (
    legacy_docker_save,
    members,
    small_image,
    tar_bytes,
    visible_state,
)


def _layer_names(store, ref: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    out = []
    for layer in resolve_image(store, ref).layers():
        with layer.uncompressed() as f, tarfile.open(fileobj=f, mode="r|") as tf:
            out.append(sorted(m.name for m in tf))
    return out


def test_oci_round_trip_keeps_digests(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a")
    d = small_image(a, "app:1", layers=3)
    save(a, ["app:1"], tmp_path / "x.tar", "oci")
    files = members(tmp_path / "x.tar")
    idx = json.loads(files["index.json"])
    assert idx["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "docker.io/library/app:1",
        "org.opencontainers.image.ref.name": "app:1",
    }
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert Digest.of_bytes(data).hex == name.rsplit("/", 1)[1]
    b = open_store(tmp_path / "b")
    assert load(b, tmp_path / "x.tar") == [("app:1", d.__class__(d.media_type, d.digest, d.size))]
    assert b.refs.get("app:1").digest == d.digest
    assert _layer_names(b, "app:1") == _layer_names(a, "app:1")
    assert fsck(b).clean


def test_docker_round_trip_keeps_image_id(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a")
    small_image(a, "127.0.0.1:5000/team/app:2", layers=2)
    small_image(a, "other", seed="y")
    save(a, ["127.0.0.1:5000/team/app:2", "other"], tmp_path / "d.tar", "docker")
    files = members(tmp_path / "d.tar")
    mj = json.loads(files["manifest.json"])
    assert [e["RepoTags"] for e in mj] == [["127.0.0.1:5000/team/app:2"], ["other:latest"]]
    for e in mj:  # layers in a docker archive are plain tars named by diff_id
        for lp in e["Layers"]:
            assert Digest.of_bytes(files[lp]).hex == lp.rsplit("/", 1)[1]
            tarfile.open(fileobj=io.BytesIO(files[lp])).getnames()
    b = open_store(tmp_path / "b")
    names = [n for n, _ in load(b, tmp_path / "d.tar")]
    assert names == ["127.0.0.1:5000/team/app:2", "other:latest"]
    for ref in ("127.0.0.1:5000/team/app:2", "other"):
        assert resolve_image(b, ref).id == resolve_image(a, ref).id
        assert _layer_names(b, ref) == _layer_names(a, ref)
        assert {x.descriptor.media_type for x in resolve_image(b, ref).layers()} == {OCI_LAYER}
    assert fsck(b).clean


def test_load_legacy_docker_save_with_symlinked_layer(tmp_path: Path) -> None:
    same = tar_bytes({"etc/x": b"1"})
    data = legacy_docker_save("legacy:1", [same, tar_bytes({"y": b"2"}), same])
    s = open_store(tmp_path)
    assert [n for n, _ in load(s, io.BytesIO(data))] == ["legacy:1"]
    img = resolve_image(s, "legacy:1")
    assert [x.descriptor.digest for x in img.layers()] == list(img.config().diff_ids)
    assert img.layers()[0].descriptor.digest == img.layers()[2].descriptor.digest
    assert fsck(s).clean


def test_load_untagged_and_gzip_compressed_archive(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a")
    small_image(a, None, seed="u")
    d = a.refs.entries()[0]
    save(a, [str(d.digest)], tmp_path / "u.tar", "oci")
    gz = gzip.compress((tmp_path / "u.tar").read_bytes())
    b = open_store(tmp_path / "b")
    assert load(b, io.BytesIO(gz)) == [(None, d.__class__(d.media_type, d.digest, d.size))]
    assert b.refs.list() == [] and [e.digest for e in b.refs.entries()] == [d.digest]


def _oci_archive(files: dict[str, bytes]) -> bytes:
    return tar_bytes({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', **files})


@pytest.mark.parametrize(
    "case",
    [
        "dotdot",
        "absolute",
        "wrong_blob",
        "missing_blob",
        "not_tar",
        "no_index",
        "bad_diff_id",
        "bad_json",
        "link_escape",
    ],
)
def test_hostile_archives_change_nothing_visible(tmp_path: Path, case: str) -> None:
    s = open_store(tmp_path)
    small_image(s, "keep:1")
    before_refs = s.refs.list()
    good = tar_bytes({"a": b"a"})
    good_gz = gzip.compress(good)
    gd = Digest.of_bytes(good_gz)
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [str(Digest.of_bytes(b"other"))]},
        }
    ).encode()
    cd = Digest.of_bytes(cfg)
    man = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": str(cd),
                "size": len(cfg),
            },
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": str(gd), "size": len(good_gz)}],
        }
    ).encode()
    md = Digest.of_bytes(man)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": str(md),
                    "size": len(man),
                    "annotations": {"org.opencontainers.image.ref.name": "evil:1"},
                }
            ],
        }
    ).encode()
    blobs = {
        f"blobs/sha256/{gd.hex}": good_gz,
        f"blobs/sha256/{cd.hex}": cfg,
        f"blobs/sha256/{md.hex}": man,
    }
    link = tarfile.TarInfo("blobs/sha256/" + "e" * 64)
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    data, err = {
        "dotdot": (tar_bytes({"../evil": b"x"}), InvalidArchive),
        "absolute": (tar_bytes({"/etc/evil": b"x"}), InvalidArchive),
        "wrong_blob": (
            _oci_archive({f"blobs/sha256/{'0' * 64}": b"not that", "index.json": index}),
            DigestMismatch,
        ),
        "missing_blob": (_oci_archive({"index.json": index}), InvalidArchive),
        "not_tar": (b"this is not a tar file at all" * 100, InvalidArchive),
        "no_index": (_oci_archive(blobs), InvalidArchive),
        "bad_diff_id": (_oci_archive({**blobs, "index.json": index}), InvalidImage),
        "bad_json": (_oci_archive({"index.json": b"{nope"}), InvalidArchive),
        "link_escape": (tar_bytes({"index.json": index}, extra=[link]), InvalidArchive),
    }[case]
    with pytest.raises(err):
        load(s, io.BytesIO(data))
    assert s.refs.list() == before_refs
    assert visible_state(s)[1] == []
    assert all(s.blobs.exists(d.digest) for _, d in s.refs.list())


def test_import_rootfs_like_docker_import(tmp_path: Path, busybox_tar: Path) -> None:
    s = open_store(tmp_path)
    d = import_rootfs(s, busybox_tar, "bb:imported", message="hi")
    img = resolve_image(s, "bb:imported")
    assert img.digest == d.digest
    (layer,) = img.layers()
    assert layer.descriptor.media_type == OCI_LAYER_GZIP
    with layer.uncompressed() as f:
        assert (
            Digest.of_bytes(f.read()) == layer.diff_id == Digest.of_bytes(busybox_tar.read_bytes())
        )
    assert img.config().history[0].comment == "hi"
    # Compressed inputs give the same layer content.
    for comp in (gzip.compress, lambda b: zstandard.ZstdCompressor().compress(b)):
        d2 = import_rootfs(s, io.BytesIO(comp(busybox_tar.read_bytes())), "bb:again")
        assert resolve_image(s, str(d2.digest)).config().diff_ids == img.config().diff_ids
    assert fsck(s).clean


@pytest.mark.parametrize("entry", ["abs", "dotdot", "hardlink"])
def test_import_rejects_hostile_rootfs(tmp_path: Path, entry: str) -> None:
    s = open_store(tmp_path)
    extra = tarfile.TarInfo({"abs": "/etc/shadow", "dotdot": "a/../../x", "hardlink": "h"}[entry])
    if entry == "hardlink":
        extra.type, extra.linkname = tarfile.LNKTYPE, "../../etc/shadow"
    data = tar_bytes({"ok": b"fine"}, extra=[extra])
    with pytest.raises(UnsafeArchiveEntry):
        import_rootfs(s, io.BytesIO(data), "evil")
    assert visible_state(s) == (set(), [])
    with pytest.raises(StoreError):
        import_rootfs(s, io.BytesIO(b""), "empty")
    assert s.refs.list() == []


def test_load_index_with_only_some_platforms(tmp_path: Path) -> None:
    """A multi-platform index whose store/archive holds one platform saves whole (OCI)
    and loads; the absent platform is not an fsck error."""
    from store.oci.digest import Descriptor
    from store.oci.manifest import Index
    from store.oci.mediatype import OCI_INDEX, OCI_MANIFEST
    from store.oci.platform import Platform

    a = open_store(tmp_path / "a")
    d = small_image(a, "one:1")
    missing = Descriptor(
        OCI_MANIFEST, Digest.of_bytes(b"arm64 manifest"), 500, platform=Platform("linux", "arm64")
    )
    here = Descriptor(d.media_type, d.digest, d.size, platform=d.platform)
    idx = a.blobs.put_bytes(json.dumps(Index((missing, here)).to_json()).encode(), OCI_INDEX)
    a.refs.set("multi:1", idx)
    save(a, ["multi:1"], tmp_path / "m.tar", "oci")
    b = open_store(tmp_path / "b")
    assert [n for n, _ in load(b, tmp_path / "m.tar")] == ["multi:1"]
    assert resolve_image(b, "multi:1").digest == d.digest
    assert b.refs.get("multi:1").digest == idx.digest and fsck(b).clean


def test_docker_save_refuses_a_layer_that_is_not_its_diff_id(tmp_path: Path) -> None:
    from store.image import write_image
    from store.oci.config import ContainerConfig, History, ImageConfig

    s = open_store(tmp_path / "s")
    raw = tar_bytes({"a": b"the layer"})
    desc = s.blobs.put_bytes(gzip.compress(raw, mtime=0), OCI_LAYER_GZIP)
    lying = Digest.of_bytes(tar_bytes({"a": b"another layer"}))
    cfg = ImageConfig(
        config=ContainerConfig(cmd=("sh",)),
        diff_ids=(lying,),
        created="2024-01-01T00:00:00Z",
        history=(History(created_by="layer"),),
    )
    write_image(s, cfg, [desc], tags=["liar:1"])
    with pytest.raises(StoreError) as e:  # found before or while the layer is written
        save(s, ["liar:1"], tmp_path / "d.tar", "docker")
    assert str(lying) in str(e.value)
    assert not (tmp_path / "d.tar").exists()
