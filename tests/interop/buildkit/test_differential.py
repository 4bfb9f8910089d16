"""Differential tests: each Dockerfile in cases.py is built by pybuild and by BuildKit
(`DOCKER_BUILDKIT=1 docker build`, then `docker save`); the config fields, the layer
count and the root filesystem trees (path, type, mode, uid, gid, size, content hash,
link target; mtimes ignored) must be equal, and so must the history (created_by and
empty_layer of every entry, modulo BuildKit 0.8's older forms)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h
from tests.interop.buildkit.cases import CASES, Case
from tests.interop.buildkit.conftest import load_base

pytestmark = [pytest.mark.interop, pytest.mark.root]

FIELDS = (
    "Env",
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
)
# made by the runtime for a RUN, never part of the image
RUNTIME_PATHS = ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv")


def _context(case: Case, d: Path) -> Path:
    d.mkdir()
    for rel, content in case.files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        mode = None
        if isinstance(content, tuple):
            content, mode = content
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        if mode is not None:
            os.chmod(p, mode)
    (d / "Dockerfile").write_text(case.dockerfile)
    return d


def docker_image(dockerd, name: str, dest: Path) -> tuple[dict, dict, int]:
    tar = dest / "saved.tar"
    dockerd.docker("save", name, "-o", str(tar))
    tree: dict = {}
    with tarfile.open(tar) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r|*") as tf:
                h._apply(tree, tf)
    return config, tree, len(manifest["Layers"])


def _norm_tree(tree: dict, mount_points: tuple = ()) -> dict:
    out = {}
    for path, e in tree.items():
        if path in RUNTIME_PATHS or (path in mount_points and e["type"] == "5"):
            continue
        e = dict(e)
        if e["type"] == "5":
            e["size"] = 0
        if e["type"] == "1":  # hard link: compare what it points to
            e = {**e, "type": "0"}
            e.pop("link", None)
        out[path] = e
    return out


def _history(config: dict) -> list[tuple[str, bool]]:
    """(created_by, empty_layer) per entry, minus what BuildKit 0.8 (dockerd 20.10)
    writes differently from current BuildKit, which pybuild follows: ARG shows the
    value in use, HEALTHCHECK has StartInterval, COPY/ADD show --chown/--chmod."""
    out = []
    for e in config.get("history") or []:
        by = e.get("created_by") or ""
        if by.startswith(("ARG ", "HEALTHCHECK ")):
            by = by.split(" ", 1)[0]
        elif by.startswith(("COPY ", "ADD ")):
            by = re.sub(r" --(chown|chmod)=\S+", "", by)
        out.append((by, bool(e.get("empty_layer"))))
    return out


def _fields(config: dict) -> dict:
    c = config.get("config") or {}
    return {f: c.get(f) or None for f in FIELDS}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_image_as_buildkit(case: Case, dockerd, docker_busybox, tmp_path):
    ctx = _context(case, tmp_path / "ctx")
    root = tmp_path / "store"
    load_base(docker_busybox, root)
    secrets = {}
    for sid, text in case.secrets.items():
        f = tmp_path / f"secret-{sid}"
        f.write_text(text)
        secrets[sid] = {"src": str(f)}
    run_build(
        root,
        ctx,
        case.dockerfile,
        tags=[f"{case.name}:pybuild"],
        build_args=dict(case.build_args),
        target=case.target,
        labels=dict(case.labels),
        secrets=secrets,
    )
    args = ["build", "--network=none", "-q", "-t", f"{case.name}:buildkit"]
    for sid, src in secrets.items():
        args += ["--secret", f"id={sid},src={src['src']}"]
    for k, v in case.build_args.items():
        args += ["--build-arg", f"{k}={v}"]
    for k, v in case.labels.items():
        args += ["--label", f"{k}={v}"]
    if case.target:
        args += ["--target", case.target]
    dockerd.docker(*args, str(ctx))
    bk_config, bk_tree, bk_layers = docker_image(dockerd, f"{case.name}:buildkit", tmp_path)

    pb_config = h.config(root, f"{case.name}:pybuild")
    pb_tree = h.rootfs(root, f"{case.name}:pybuild")
    assert _fields(pb_config) == _fields(bk_config)
    assert _history(pb_config) == _history(bk_config)
    assert len(pb_config["rootfs"]["diff_ids"]) == bk_layers
    a = _norm_tree(pb_tree, case.mount_points)
    b = _norm_tree(bk_tree, case.mount_points)
    assert sorted(set(a) ^ set(b)) == []
    diffs = {p: (a[p], b[p]) for p in a if a[p] != b[p]}
    assert diffs == {}


def test_docker_loads_pybuild_outputs(dockerd, docker_busybox, tmp_path):
    """`--output type=docker` loads into dockerd as the same image (config digest as
    the image id, same files); skopeo reads `--output type=oci` (dockerd 20.10 cannot
    load OCI archives)."""
    case = next(c for c in CASES if c.name == "links_and_modes")
    ctx = _context(case, tmp_path / "ctx")
    root = tmp_path / "store"
    load_base(docker_busybox, root)
    dock, oci = tmp_path / "out.docker.tar", tmp_path / "out.oci.tar"
    res, _ = run_build(
        root,
        ctx,
        case.dockerfile,
        tags=["pbout:1"],
        outputs=[{"type": "docker", "dest": str(dock)}, {"type": "oci", "dest": str(oci)}],
    )
    dockerd.docker("load", "-i", str(dock))
    got = dockerd.docker("image", "inspect", "pbout:1", "--format", "{{.Id}}").stdout.strip()
    assert got == str(res.image_id)
    _, tree, n = docker_image(dockerd, "pbout:1", tmp_path)
    assert _norm_tree(tree) == _norm_tree(h.rootfs(root, "pbout:1")) and n == 2
    p = subprocess.run(
        ["skopeo", "inspect", "--raw", "--config", f"oci-archive:{oci}"],
        capture_output=True,
        check=True,
    )
    assert hashlib.sha256(p.stdout).hexdigest() == res.image_id.hex
