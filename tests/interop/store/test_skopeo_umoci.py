"""Skopeo and umoci read the store (it is an OCI layout) and what `save` writes;
pybuild loads what skopeo writes; every JSON document pybuild writes validates
against the image-spec schemas."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from store.archive import save
from store.archive_load import load
from store.fsck import fsck
from store.image import resolve_image
from store.layout import Store, open_store
from store.oci.digest import Digest
from store.rootfs_import import import_rootfs
from store.unpack import unpack
from tests.fixtures.base_image import write_busybox_layout
from tests.integration.store_core.helpers import members, small_image
from tests.unit.store.oci_schema import schema_errors


def sh(*args: str | Path) -> str:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert out.returncode == 0, f"{args}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Store:
    s = open_store(tmp_path_factory.mktemp("interop") / "store")
    import_rootfs(s, busybox_tar, "bb:1")
    small_image(s, "127.0.0.1:5000/team/small:2", layers=3)
    return s


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                extra: object = (
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    st.st_mtime_ns // 10**9,
                )
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            else:
                extra = None
            out[rel] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                extra,
            )
    return out


def test_schemas_validate_everything_pybuild_writes(store: Store, tmp_path: Path) -> None:
    root = store.root
    assert (
        schema_errors(
            "application/vnd.oci.layout.header.v1+json",
            json.loads((root / "oci-layout").read_text()),
        )
        == []
    )
    assert (
        schema_errors(
            "application/vnd.oci.image.index.v1+json", json.loads((root / "index.json").read_text())
        )
        == []
    )
    for name, _ in store.refs.list():
        img = resolve_image(store, name)
        assert schema_errors(img.manifest().media_type, store.blobs.read_json(img.descriptor)) == []
        assert (
            schema_errors(
                "application/vnd.oci.image.config.v1+json",
                store.blobs.read_json(img.manifest().config),
            )
            == []
        )
    for fmt in ("oci", "docker"):
        save(store, ["bb:1", "127.0.0.1:5000/team/small:2"], tmp_path / f"{fmt}.tar", fmt)
        files = members(tmp_path / f"{fmt}.tar")
        assert (
            schema_errors(
                "application/vnd.oci.image.index.v1+json", json.loads(files["index.json"])
            )
            == []
        )
        for m in json.loads(files["index.json"])["manifests"]:
            doc = json.loads(files[f"blobs/sha256/{m['digest'].split(':')[1]}"])
            assert schema_errors(m["mediaType"], doc) == []


@pytest.mark.parametrize("ref", ["bb:1", "127.0.0.1:5000/team/small:2"])
def test_skopeo_reads_the_store(store: Store, tmp_path: Path, ref: str) -> None:
    img = resolve_image(store, ref)
    raw = sh("skopeo", "inspect", "--raw", f"oci:{store.root}:{ref}")
    assert Digest.of_bytes(raw.encode()) == img.digest
    sh("skopeo", "copy", "-q", f"oci:{store.root}:{ref}", f"oci:{tmp_path}/out:copy")
    sh("skopeo", "copy", "-q", f"oci:{store.root}:{ref}", f"docker-archive:{tmp_path}/d.tar:x/y:1")
    # skopeo's copy, loaded back, is the same image (same config, same diff_ids).
    s2 = open_store(tmp_path / "s2")
    ((name, _),) = load(s2, tmp_path / "d.tar")
    assert name == "x/y:1"
    assert resolve_image(s2, name).id == img.id


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_skopeo_reads_saved_archives(store: Store, tmp_path: Path, fmt: str) -> None:
    save(store, ["bb:1"], tmp_path / "a.tar", fmt)
    src = (
        f"oci-archive:{tmp_path}/a.tar:bb:1" if fmt == "oci" else f"docker-archive:{tmp_path}/a.tar"
    )
    info = json.loads(sh("skopeo", "inspect", "--config", src))
    assert info["rootfs"]["diff_ids"] == [
        str(d) for d in resolve_image(store, "bb:1").config().diff_ids
    ]
    sh("skopeo", "copy", "-q", src, f"oci:{tmp_path}/lay:z")


def test_pybuild_loads_what_skopeo_writes(tmp_path: Path) -> None:
    write_busybox_layout(tmp_path / "layout")
    sh(
        "skopeo",
        "copy",
        "-q",
        f"oci:{tmp_path}/layout:busybox",
        f"oci-archive:{tmp_path}/oa.tar:busybox:oa",
    )
    sh(
        "skopeo",
        "copy",
        "-q",
        f"oci:{tmp_path}/layout:busybox",
        f"docker-archive:{tmp_path}/da.tar:busybox:da",
    )
    s = open_store(tmp_path / "s")
    assert [n for n, _ in load(s, tmp_path / "oa.tar")] == ["busybox:oa"]
    assert [n for n, _ in load(s, tmp_path / "da.tar")] == ["busybox:da"]
    a, b = resolve_image(s, "busybox:oa"), resolve_image(s, "busybox:da")
    assert a.id == b.id  # same config bytes through both archive kinds
    assert fsck(s).clean


@pytest.mark.parametrize("ref", ["bb:1", "127.0.0.1:5000/team/small:2"])
def test_umoci_unpacks_the_store_like_pybuild(store: Store, tmp_path: Path, ref: str) -> None:
    before = sorted(str(p) for p in store.root.rglob("*"))
    sh("umoci", "raw", "unpack", "--image", f"{store.root}:{ref}", tmp_path / "umoci")
    assert sorted(str(p) for p in store.root.rglob("*")) == before  # read-only use
    ours = tmp_path / "ours"
    ours.mkdir()
    for layer in resolve_image(store, ref).layers():
        with layer.compressed() as f:
            unpack(f, ours)  # type: ignore[arg-type]
    theirs, mine = _tree(tmp_path / "umoci"), _tree(ours)
    assert theirs.keys() == mine.keys()
    diff = {k: (theirs[k], mine[k]) for k in theirs if theirs[k] != mine[k]}
    assert diff == {}


def _layer_tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """(name, data or None for a directory, mode) -> deterministic tar bytes."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.mode = 1700000000, mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_umoci_tree_equals_pybuild_snapshot_with_whiteouts(tmp_path: Path) -> None:
    """Layers with a whiteout, a whiteout inside a dir and an opaque dir: umoci's
    unpack equals the merged overlay of the store's snapshots of the same image."""
    import gzip

    from store.image import write_image
    from store.oci.config import ContainerConfig, ImageConfig
    from store.oci.mediatype import OCI_LAYER_GZIP

    s = open_store(tmp_path / "store")
    tars = [
        _layer_tar(
            [
                ("a", None, 0o755),
                ("a/x", b"x", 0o644),
                ("a/y", b"y", 0o600),
                ("f", b"file", 0o644),
                ("o", None, 0o750),
                ("o/p", b"p", 0o644),
                ("o/q", None, 0o755),
                ("o/q/deep", b"d", 0o644),
            ]
        ),
        _layer_tar(
            [
                ("a", None, 0o755),
                ("a/.wh.x", b"", 0o644),
                (".wh.f", b"", 0o644),
                ("o", None, 0o711),
                ("o/.wh..wh..opq", b"", 0o644),
                ("o/new", b"n", 0o640),
                ("z", b"zz", 0o755),
            ]
        ),
        _layer_tar([("f", b"recreated", 0o600)]),
    ]
    layers = [s.blobs.put_bytes(gzip.compress(t, mtime=0), OCI_LAYER_GZIP) for t in tars]
    cfg = ImageConfig(
        config=ContainerConfig(cmd=("sh",)), diff_ids=tuple(Digest.of_bytes(t) for t in tars)
    )
    write_image(s, cfg, layers, tags=["wh:1"])
    sh("umoci", "raw", "unpack", "--image", f"{s.root}:wh:1", tmp_path / "umoci")
    top = s.snapshots.ensure_layers(layers, list(cfg.diff_ids))
    with s.snapshots.prepare(top) as active:
        mine = _tree(active.merged)
    theirs = _tree(tmp_path / "umoci")
    assert sorted(theirs) == ["a", "a/y", "f", "o", "o/new", "z"]
    assert theirs == mine
    s.snapshots.remove(top)
