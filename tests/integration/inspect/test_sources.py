"""Every image source gives the same analysis: the store, oci:DIR, oci-archive:F,
docker-archive:F, and a registry reference streamed from Debian's real
docker-registry without unpacking anything to disk."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from builder.cli import main
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
        "eff": doc["efficiency"],
        "pitfalls": [(p["id"], p["lines"], p["bytes"]) for p in doc["pitfalls"]],
    }


@pytest.fixture
def reference(store_root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    store_image(store_root, "src:1", TARS, HIST)
    doc = _doc(capsys, "src:1")
    assert doc["wasted_bytes"] == 40000 + 12000
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
