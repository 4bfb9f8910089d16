"""Outputs: tags, -q and --iidfile (the config digest, as docker prints it),
--output type=oci|docker archives, and --push to a real registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

from tests.fixtures.build import run_build
from tests.fixtures.common import REPO
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

DF = "FROM busybox\nRUN echo hi > /hi\nLABEL a=b\n"


def _cli(root, *args):
    env = {"PYBUILD_ROOT": str(root), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )


def test_quiet_and_iidfile_print_the_config_digest(build_store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DF)
    iid = tmp_path / "iid"
    p = _cli(build_store, "build", "-q", "--iidfile", str(iid), "-t", "q:1", "-t", "q:2", str(ctx))
    assert p.returncode == 0, p.stderr
    printed = p.stdout.strip()
    assert printed.startswith("sha256:") and iid.read_text() == printed
    img = h.image(build_store, "q:1")
    assert str(img.manifest().config.digest) == printed
    assert str(h.image(build_store, "q:2").digest) == str(img.digest)
    assert p.stderr == ""


def test_output_oci_and_docker_archives(build_store, tmp_path):
    oci, dock = tmp_path / "img.oci.tar", tmp_path / "img.docker.tar"
    run_build(
        build_store,
        tmp_path,
        DF,
        tags=["out:1"],
        outputs=[{"type": "oci", "dest": str(oci)}, {"type": "docker", "dest": str(dock)}],
    )
    with tarfile.open(oci) as tf:
        names = tf.getnames()
        assert "oci-layout" in names and "index.json" in names
    with tarfile.open(dock) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["out:1"]
        assert len(manifest[0]["Layers"]) == 2


def test_push_to_registry(build_store, tmp_path, registry):
    name = f"{registry.host}/team/app:1"
    run_build(build_store, tmp_path, DF, tags=[name], push=True)
    from registry_client.pull import pull_image
    from store.layout import open_store

    other = tmp_path / "other"
    res = pull_image(open_store(other), name)
    assert res.manifest.digest == h.image(build_store, name).digest


def test_cache_to_and_from_a_registry(tmp_path, busybox_image, registry, monkeypatch):
    """CI machine A exports its cache; machine B (an empty store, another context
    path) imports it and executes nothing."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")  # the same base on both
    cache_ref = f"{registry.host}/team/app-cache:buildcache"
    df = "FROM busybox\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g && cat /proc/sys/kernel/random/uuid > /u\n"
    results = []
    for machine in ("a", "b"):
        root, ctx = tmp_path / f"store-{machine}", tmp_path / f"ctx-{machine}"
        ctx.mkdir()
        (ctx / "f.txt").write_text("same content\n")
        busybox_image.load(root)
        kw = {"cache_to": [cache_ref]} if machine == "a" else {"cache_from": [cache_ref]}
        res, out = run_build(
            root,
            ctx,
            df,
            tags=["app:1"],
            progress="json",
            insecure_registries=[registry.host],
            **kw,
        )
        results.append((root, res, out))
    (ra, a, _), (rb, b, out_b) = results
    ev = h.events(out_b)
    started = [
        e
        for e in ev
        if e["event"] == "step_started" and not e["text"].startswith(("FROM", "pull", "fetching"))
    ]
    cached = {e["id"] for e in ev if e["event"] == "step_cached"}
    assert started and all(e["id"] in cached for e in started)
    assert h.read_file(ra, "app:1", "u") == h.read_file(rb, "app:1", "u")


def test_base_pulled_when_missing_and_with_pull(tmp_path, busybox_image, registry):
    from registry_client.push import push_image
    from store.layout import open_store

    src = tmp_path / "src"
    busybox_image.load(src)
    s = open_store(src)
    ref = f"{registry.host}/library/busybox:1"
    push_image(s, s.refs.get("busybox:latest"), ref)
    root = tmp_path / "empty"
    df = f"FROM {ref}\nRUN echo pulled > /p\n"
    _, out = run_build(root, tmp_path, df, tags=["p:1"], progress="json")
    texts = [e["text"] for e in h.events(out) if e["event"] == "step_started"]
    assert f"pull {ref}" in texts
    assert h.read_file(root, "p:1", "p") == b"pulled\n"
    _, out = run_build(root, tmp_path, df, tags=["p:2"], progress="json")
    assert f"pull {ref}" not in [e["text"] for e in h.events(out) if e["event"] == "step_started"]
    _, out = run_build(root, tmp_path, df, tags=["p:3"], progress="json", pull=True)
    assert f"pull {ref}" in [e["text"] for e in h.events(out) if e["event"] == "step_started"]


FS_DF = """\
FROM busybox AS build
RUN mkdir -p /out/sub && echo data > /out/sub/f && ln -s sub/f /out/link \\
 && ln /out/sub/f /out/hard && chown 7:8 /out/sub/f && chmod 640 /out/sub/f \\
 && echo gone > /out/gone
RUN rm /out/gone
FROM scratch
COPY --from=build /out /
"""


def _tree_of_dir(d):
    import hashlib
    import os
    import stat

    out = {}
    for dirpath, dirnames, filenames in os.walk(d):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, d)
            e = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(st.st_mode):
                e["sha"] = hashlib.sha256(open(p, "rb").read()).hexdigest()
                e["nlink"] = st.st_nlink
            elif stat.S_ISLNK(st.st_mode):
                e["link"] = os.readlink(p)
            out[rel] = e
    return out


def test_output_local_writes_the_target_stage_files(build_store, tmp_path):
    dest = tmp_path / "out"
    run_build(
        build_store, tmp_path, FS_DF, tags=["fs:1"], outputs=[{"type": "local", "dest": str(dest)}]
    )
    got = _tree_of_dir(dest)
    assert sorted(got) == ["hard", "link", "sub", "sub/f"]
    # owned by who ran the build, as docker build -o writes them; modes kept
    assert got["sub/f"]["uid"] == os.getuid() and got["sub/f"]["gid"] == os.getgid()
    assert got["sub/f"]["mode"] == 0o640 and got["sub/f"]["nlink"] == 2
    assert got["hard"]["sha"] == got["sub/f"]["sha"]
    assert got["link"]["link"] == "sub/f"
    # the same files as the image's merged layers
    img = h.rootfs(build_store, "fs:1")
    assert sorted(img) == sorted(got)
    for p, e in img.items():
        assert e["mode"] == got[p]["mode"]


def test_output_tar_and_cli_shorthands(build_store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(FS_DF)
    tar = tmp_path / "fs.tar"
    p = _cli(build_store, "build", "-q", "--output", f"type=tar,dest={tar}", str(ctx))
    assert p.returncode == 0, p.stderr
    with tarfile.open(tar) as tf:
        members = {m.name.rstrip("/"): m for m in tf}
        assert sorted(members) == ["hard", "link", "sub", "sub/f"]
        assert members["sub/f"].uid == 7 and members["sub/f"].mode == 0o640
        assert members["hard"].islnk() or members["sub/f"].islnk()
        assert members["link"].issym() and members["link"].linkname == "sub/f"
    p = subprocess.run(
        [sys.executable, "-m", "builder.cli", "build", "--progress", "quiet", "-o", "-", str(ctx)],
        capture_output=True,
        env={"PYBUILD_ROOT": str(build_store), "PATH": "/usr/bin:/bin"},
        cwd=REPO,
    )
    assert p.returncode == 0, p.stderr
    import io

    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert sorted(m.name.rstrip("/") for m in tf) == ["hard", "link", "sub", "sub/f"]
    assert len(p.stdout) % 512 == 0  # the tar alone: no image id after it
    d = tmp_path / "shorthand"
    p = _cli(build_store, "build", "-q", "-o", str(d), str(ctx))
    assert p.returncode == 0, p.stderr
    assert (d / "sub" / "f").read_text() == "data\n"
    p = _cli(build_store, "build", "-q", "--output", "type=local", str(ctx))
    assert p.returncode == 2 and "needs dest=DIR" in p.stderr
