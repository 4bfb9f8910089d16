"""umoci and pybuild agree on layers: `umoci raw unpack` of an image in the pybuild
store (the store root is an OCI layout) gives the same tree as pybuild's snapshots
of the same layers mounted with overlayfs; and pybuild unpacks layers umoci wrote."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from store.image import write_image
from store.layout import open_store
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor, Digest
from tests.integration.layers.helpers import describe, put_layer
from tests.integration.layers.test_roundtrip import CAPS


def _ref_name(root: Path) -> str:
    index = json.loads((root / "index.json").read_text())
    return index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]


@pytest.mark.root
@pytest.mark.interop
@pytest.mark.parametrize("compression", ["gzip", None])  # umoci 0.4.7 has no zstd
def test_umoci_raw_unpack_equals_pybuild_snapshots(
    tmp_path: Path, busybox_tar: Path, compression: str
) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    base, base_diff = put_layer(store, busybox_tar.read_bytes(), "gzip")
    parent = sn.ensure_layers([base], [base_diff])
    with sn.prepare(parent) as a:
        m = a.merged
        (m / "etc/motd").write_text("hello\n")
        os.unlink(m / "bin/ls")  # whiteout
        shutil.rmtree(m / "home")  # opaque dir
        (m / "home").mkdir()
        (m / "home/new").write_text("n")
        os.chmod(m / "etc/passwd", 0o600)
        os.link(m / "etc/motd", m / "etc/motd.hard")
        os.symlink("/bin/busybox", m / "usr/bin/vi2")
        (m / "usr/local/bin/cap").write_bytes(b"#!/bin/sh\n")
        os.chmod(m / "usr/local/bin/cap", 0o4755)
        os.setxattr(m / "usr/local/bin/cap", "security.capability", CAPS)
        os.mkdir(m / "var/empty")
        layer2 = sn.commit(a, compression=compression, source_date_epoch=1_700_000_000)
    cfg = ImageConfig(diff_ids=(base_diff, layer2.diff_id))
    write_image(store, cfg, [base, layer2.descriptor], tags=["layers-interop:1"])

    rootfs = tmp_path / "umoci-rootfs"
    subprocess.run(
        ["umoci", "raw", "unpack", "--image", f"{store.root}:{_ref_name(store.root)}", str(rootfs)],
        check=True,
        capture_output=True,
    )
    with sn.prepare(layer2.chain_id) as view:
        ours = describe(view.merged)
    theirs = describe(rootfs)
    assert set(ours) == set(theirs)
    diffs = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    assert diffs == {}
    assert "bin/ls" not in ours and "home/app/" not in ours and "home/new" in ours
    sn.remove(layer2.chain_id)
    sn.remove(parent)


@pytest.mark.root
@pytest.mark.interop
def test_pybuild_unpacks_layers_umoci_wrote(tmp_path: Path, busybox_tar: Path) -> None:
    layout = tmp_path / "oci"
    run = lambda *a: subprocess.run(["umoci", *a], check=True, capture_output=True)  # noqa: E731
    run("init", "--layout", str(layout))
    run("new", "--image", f"{layout}:t")
    bundle = tmp_path / "bundle"
    run("unpack", "--image", f"{layout}:t", str(bundle))
    rootfs = bundle / "rootfs"
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(rootfs)], check=True)
    run("repack", "--image", f"{layout}:t", str(bundle))
    os.unlink(rootfs / "bin/ls")
    shutil.rmtree(rootfs / "home")
    (rootfs / "home").mkdir()
    (rootfs / "home/x").write_text("x")
    (rootfs / "etc/new").write_text("new")
    run("repack", "--image", f"{layout}:t", str(bundle))
    # umoci's own unpack is the reference (Go's tar rounds mtimes to the second, so
    # the bundle's rootfs itself can differ by one second from any unpack)
    run("raw", "unpack", "--image", f"{layout}:t", str(tmp_path / "ref"))
    want = describe(tmp_path / "ref")

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(
        (layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text()
    )
    config = json.loads((layout / "blobs/sha256" / manifest["config"]["digest"][7:]).read_text())
    store = open_store(tmp_path / "store")
    descs = []
    for d in manifest["layers"]:
        desc = Descriptor.from_json(d)
        with open(layout / "blobs/sha256" / desc.digest.hex, "rb") as f:
            descs.append(store.blobs.put(io.BytesIO(f.read()), desc.media_type))
    diffs = [Digest.parse(x) for x in config["rootfs"]["diff_ids"]]
    top = store.snapshots.ensure_layers(descs, diffs)
    with store.snapshots.prepare(top) as view:
        got = describe(view.merged)
    assert {
        k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)
    } == {}
    store.snapshots.remove(top)
