"""The in-place readers (store.readers): an archive read where it is gives the image
`load` would store, with the same digests, and is refused where load refuses it."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from store.archive import save
from store.archive_load import load
from store.errors import AmbiguousImage, DigestMismatch, ImageNotFound, InvalidArchive
from store.image import resolve_image
from store.layout import open_store
from store.oci.image import Image, Layer
from store.readers.archive import TarMembers, oci_archive_image
from store.readers.docker_archive import docker_archive_image
from store.readers.image import BlobImage
from store.rootfs_import import import_rootfs
from tests.integration.store_core.helpers import legacy_docker_save, small_image, tar_bytes


def _read_all(img: BlobImage) -> list[bytes]:
    """Each layer's tar, decompressed, read to its end (where it is verified)."""
    out = []
    for layer in img.layers():
        with layer.uncompressed() as f:
            out.append(b"".join(iter(lambda f=f: f.read(1 << 16), b"")))
    return out


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_an_archive_reads_as_load_stores_it(tmp_path: Path, fmt: str) -> None:
    a = open_store(tmp_path / "a")
    small_image(a, "app:1", layers=3)
    save(a, ["app:1"], tmp_path / "x.tar", fmt)
    b = open_store(tmp_path / "b")
    [(_, loaded)] = load(b, tmp_path / "x.tar")
    members = TarMembers(tmp_path / "x.tar")
    try:
        open_ = oci_archive_image if fmt == "oci" else docker_archive_image
        img = open_(members, "app:1")
        assert isinstance(img, Image) and all(isinstance(x, Layer) for x in img.layers())
        stored = resolve_image(b, "app:1")
        assert img.digest == loaded.digest == stored.digest
        assert img.manifest() == stored.manifest() and img.config() == stored.config()
        want = []
        for x in stored.layers():
            with x.uncompressed() as f:
                want.append(f.read())
        assert _read_all(img) == want
    finally:
        members.close()


def test_legacy_docker_save_with_a_symlinked_layer(tmp_path: Path) -> None:
    same = tar_bytes({"etc/x": b"1"})
    (tmp_path / "l.tar").write_bytes(
        legacy_docker_save("legacy:1", [same, tar_bytes({"y": b"2"}), same])
    )
    s = open_store(tmp_path / "s")
    [(_, loaded)] = load(s, tmp_path / "l.tar")
    with TarMembers(tmp_path / "l.tar") as members:
        img = docker_archive_image(members, None)
        assert img.digest == loaded.digest
        assert [x.descriptor.digest for x in img.layers()] == list(img.config().diff_ids)
        assert _read_all(img)[2] == same


def _tampered_legacy(tmp_path: Path, layer: bytes) -> Path:
    """A legacy docker save whose config names the diff_id of a tar, holding `layer`."""
    good = tar_bytes({"a": b"a" * 100})
    data = legacy_docker_save("t:1", [good])
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(tmp_path / "t.tar", "w") as tf:
        for ti in src:
            f = src.extractfile(ti) if ti.isfile() else None
            if ti.name.endswith("/layer.tar"):
                ti.size, f = len(layer), io.BytesIO(layer)
            tf.addfile(ti, f)
    return tmp_path / "t.tar"


def test_a_layer_named_by_no_digest_is_verified_against_its_diff_id(tmp_path: Path) -> None:
    path = _tampered_legacy(tmp_path, tar_bytes({"a": b"b" * 100}))
    with TarMembers(path) as members, pytest.raises(DigestMismatch):
        _read_all(docker_archive_image(members, "t:1"))


def test_a_compressed_layer_named_by_no_digest_is_refused(tmp_path: Path) -> None:
    path = _tampered_legacy(tmp_path, gzip.compress(tar_bytes({"a": b"a" * 100}), mtime=0))
    with TarMembers(path) as members, pytest.raises(InvalidArchive, match="is compressed"):
        docker_archive_image(members, None)


def test_an_image_is_named_or_alone(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a")
    small_image(a, "one:1")
    small_image(a, "two:1", seed="y")
    for fmt, open_ in (("oci", oci_archive_image), ("docker", docker_archive_image)):
        save(a, ["one:1", "two:1"], tmp_path / f"{fmt}.tar", fmt)
        with TarMembers(tmp_path / f"{fmt}.tar") as members:
            assert open_(members, "two:1").manifest().config.digest == resolve_image(a, "two:1").id
            with pytest.raises(AmbiguousImage, match="holds 2 images; name one with :REF"):
                open_(members, None)
            with pytest.raises(ImageNotFound):
                open_(members, "three:1")


@pytest.mark.parametrize("name", ["../escape.json", "/etc/passwd"])
def test_a_member_name_outside_the_archive_is_refused(tmp_path: Path, name: str) -> None:
    doc = f'[{{"Config": "{name}", "RepoTags": [], "Layers": []}}]'.encode()
    (tmp_path / "h.tar").write_bytes(tar_bytes({"manifest.json": doc}))
    with TarMembers(tmp_path / "h.tar") as members:
        with pytest.raises(InvalidArchive, match="escapes the archive"):
            docker_archive_image(members, None)


def test_a_huge_tar_metadata_record_is_refused_unread(tmp_path: Path) -> None:
    # tarfile alone reads a PAX record whole into memory: 64 MiB here, a hole on disk
    with open(tmp_path / "pax.tar", "wb") as f:
        doc = tarfile.TarInfo("index.json")
        doc.size = 2
        f.write(doc.tobuf(tarfile.USTAR_FORMAT) + b"{}".ljust(512, b"\0"))
        ti = tarfile.TarInfo("././@PaxHeader")
        ti.type, ti.size = tarfile.XHDTYPE, 64 << 20
        f.write(ti.tobuf(tarfile.USTAR_FORMAT))
        f.seek(ti.size, io.SEEK_CUR)
        f.write(bytes(1024))
    with pytest.raises(InvalidArchive, match="tar metadata record of 67108864 bytes"):
        TarMembers(tmp_path / "pax.tar")
    with pytest.raises(InvalidArchive, match="tar metadata record of 67108864 bytes"):
        load(open_store(tmp_path / "s"), tmp_path / "pax.tar")
    st = open_store(tmp_path / "imported")
    with pytest.raises(InvalidArchive, match="tar metadata record of 67108864 bytes"):
        import_rootfs(st, tmp_path / "pax.tar", "rootfs:1")
    assert st.refs.entries() == [] and list(st.blobs.iter_digests()) == []
