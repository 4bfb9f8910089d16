"""The store verbs through the real `pybuild` entry point (subprocess, PYBUILD_ROOT)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import REPO


def pyb(
    root: Path, *args: str | Path, ok: bool = True, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root)}
    out = subprocess.run(
        [sys.executable, "-m", "builder.cli", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        input=stdin,
    )
    if ok:
        assert out.returncode == 0, out.stderr.decode()
    return out


def test_import_tag_images_save_load_rmi_prune_fsck(tmp_path: Path, busybox_tar: Path) -> None:
    root = tmp_path / "store"
    image_id = (
        pyb(
            root,
            "import",
            busybox_tar,
            "bb",
            "-c",
            'CMD ["sh"]',
            "-c",
            "ENV A=1",
            "-c",
            "LABEL x=y",
        )
        .stdout.decode()
        .strip()
    )
    assert image_id.startswith("sha256:") and len(image_id) == 71
    pyb(root, "tag", "bb", "127.0.0.1:5000/bb:2")
    pyb(root, "tag", image_id[7:19], "bb:3")  # by short ID
    rows = [json.loads(x) for x in pyb(root, "images", "--json").stdout.decode().splitlines()]
    assert {(r["repository"], r["tag"]) for r in rows} == {
        ("bb", "latest"),
        ("127.0.0.1:5000/bb", "2"),
        ("bb", "3"),
    }
    assert {r["id"] for r in rows} == {image_id}
    table = pyb(root, "images").stdout.decode()
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert pyb(root, "images", "-q").stdout.decode().split() == [image_id[7:19]]
    cfg = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", f"oci:{root}:bb:latest"],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert cfg["config"]["Cmd"] == ["sh"] and cfg["config"]["Env"] == ["A=1"]
    assert cfg["config"]["Labels"] == {"x": "y"}

    pyb(root, "save", "bb", "-o", tmp_path / "bb.tar")  # default: docker format
    pyb(root, "save", "bb", "bb:3", "-o", tmp_path / "bb-oci.tar", "--format", "oci")
    out = pyb(root, "rmi", image_id, ok=False)  # several tags: refused without -f
    assert out.returncode == 1 and b"3 tags" in out.stderr
    out = pyb(root, "rmi", "-f", image_id).stdout.decode()
    assert out.count("Untagged:") == 3 and "Deleted: " + image_id in out
    assert pyb(root, "images", "-q").stdout == b""

    other = tmp_path / "other"
    assert pyb(other, "load", "-i", tmp_path / "bb.tar").stdout == b"Loaded image: bb:latest\n"
    data = (tmp_path / "bb-oci.tar").read_bytes()
    assert pyb(other, "load", stdin=data).stdout.decode().splitlines() == [
        "Loaded image: bb:latest",
        "Loaded image: bb:3",
    ]
    assert b"store is clean" in pyb(other, "fsck").stdout
    assert "Total reclaimed space" in pyb(other, "prune", "--all").stdout.decode()


def test_one_line_errors_and_exit_codes(tmp_path: Path) -> None:
    root = tmp_path / "store"
    for args, code, text in [
        (("rmi", "nothere"), 1, b"image not found: nothere"),
        (("tag", "nothere", "x"), 1, b"image not found: nothere"),
        (("tag", "a", "Bad:Name"), 1, b"image not found: a"),
        (("save", "nothere", "-o", tmp_path / "x.tar"), 1, b"image not found"),
        (("load", "-i", tmp_path / "missing.tar"), 1, b"invalid archive"),
        (("import", tmp_path / "missing.tar", "x"), 1, b"No such file"),
        (("save", "x"), 2, b"required"),
    ]:
        out = pyb(root, *args, ok=False)
        assert out.returncode == code, (args, out.stderr)
        assert text in out.stderr and len(out.stderr.decode().strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "x.tar").exists()


def test_fsck_json_and_repair_exit_codes(tmp_path: Path, busybox_tar: Path) -> None:
    root = tmp_path / "store"
    pyb(root, "import", busybox_tar, "bb")
    blob = max((root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x55
    blob.write_bytes(bytes(data))
    out = pyb(root, "fsck", "--json", ok=False)
    rep = json.loads(out.stdout)
    assert out.returncode == 1 and not rep["clean"] and any("corrupt" in e for e in rep["errors"])
    assert pyb(root, "fsck", "--repair").returncode == 0
    assert json.loads(pyb(root, "fsck", "--json").stdout)["clean"]


def test_untagged_image_load_and_rmi_by_digest(tmp_path: Path) -> None:
    from store.archive import save
    from store.layout import open_store
    from tests.integration.store_core.helpers import small_image

    src = open_store(tmp_path / "src")
    d = small_image(src, None, seed="untagged")
    save(src, [str(d.digest)], tmp_path / "u.tar", "oci")
    root = tmp_path / "store"
    out = pyb(root, "load", "-i", tmp_path / "u.tar").stdout.decode()
    assert out.startswith("Loaded image ID: sha256:")
    rows = [json.loads(x) for x in pyb(root, "images", "--json").stdout.decode().splitlines()]
    assert [(r["repository"], r["tag"], r["digest"]) for r in rows] == [
        ("<none>", "<none>", str(d.digest))
    ]
    out = pyb(root, "rmi", str(d.digest)).stdout.decode()
    assert f"Untagged: {d.digest}" in out and out.count("Deleted: ") == 3
    assert pyb(root, "images", "-q").stdout == b""
    assert list((root / "blobs" / "sha256").iterdir()) == []
