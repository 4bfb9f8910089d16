"""`--output type=local` and `type=tar` against BuildKit's (dockerd 20.10's `docker build
-o`): the same files with the same modes, owners, link targets and contents."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile

import pytest

from tests.fixtures.build import run_build
from tests.interop.buildkit.conftest import load_base

pytestmark = [pytest.mark.interop, pytest.mark.root]

DF = """\
FROM busybox AS build
RUN mkdir -p /out/sub /out/empty && echo data > /out/sub/f && ln -s sub/f /out/link \\
 && ln /out/sub/f /out/hard && chown 7:8 /out/sub/f && chmod 640 /out/sub/f \\
 && chmod 1777 /out/empty && echo gone > /out/gone
RUN rm /out/gone
FROM scratch
COPY --from=build /out /
COPY a.txt /copied/
"""


def _dir_tree(d):
    out = {}
    for dirpath, dirnames, filenames in os.walk(d):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            e = {
                "mode": stat.S_IMODE(st.st_mode),
                "type": stat.S_IFMT(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
            if stat.S_ISREG(st.st_mode):
                e["sha"] = hashlib.sha256(open(p, "rb").read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                e["link"] = os.readlink(p)
            out[os.path.relpath(p, d)] = e
    return out


def _tar_tree(path):
    out = {}
    with tarfile.open(path) as tf:
        for m in tf:
            e = {
                "mode": m.mode & 0o7777,
                "dir": m.isdir(),
                "uid": m.uid,
                "gid": m.gid,
                "link": m.linkname if m.issym() else "",
            }
            if m.isreg():
                e["sha"] = hashlib.sha256(tf.extractfile(m).read()).hexdigest()
            out[m.name.strip("./").rstrip("/")] = e
    # a hard link entry names its target: compare contents, not which entry is first
    with tarfile.open(path) as tf:
        for m in tf:
            if m.islnk():
                out[m.name.strip("./")]["sha"] = out[m.linkname.strip("./")].get("sha")
    return out


def test_local_and_tar_outputs_match_buildkit(dockerd, docker_busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DF)
    (ctx / "a.txt").write_text("a\n")
    root = tmp_path / "store"
    load_base(docker_busybox, root)
    pb_dir, pb_tar = tmp_path / "pb-out", tmp_path / "pb.tar"
    run_build(
        root,
        ctx,
        DF,
        outputs=[{"type": "local", "dest": str(pb_dir)}, {"type": "tar", "dest": str(pb_tar)}],
    )
    bk_dir, bk_tar = tmp_path / "bk-out", tmp_path / "bk.tar"
    dockerd.docker("build", "--network=none", "-o", f"type=local,dest={bk_dir}", str(ctx))
    dockerd.docker("build", "--network=none", "-o", f"type=tar,dest={bk_tar}", str(ctx))
    a, b = _dir_tree(pb_dir), _dir_tree(bk_dir)
    assert sorted(a) == sorted(b)
    diff = {p: (a[p], b[p]) for p in a if a[p] != b[p]}
    assert diff == {}, diff
    a, b = _tar_tree(pb_tar), _tar_tree(bk_tar)
    assert sorted(a) == sorted(b)
    diff = {p: (a[p], b[p]) for p in a if a[p] != b[p]}
    assert diff == {}, diff
