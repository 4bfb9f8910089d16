"""Concurrent pybuild processes on one store: four processes load and tag at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from store.archive import save
from store.fsck import fsck
from store.image import resolve_image
from store.layout import open_store
from tests.fixtures.common import REPO
from tests.integration.store_core.helpers import small_image

ROUNDS = 3


def test_four_processes_load_and_tag(tmp_path: Path, busybox_tar: Path) -> None:
    src = open_store(tmp_path / "src")
    from store.rootfs_import import import_rootfs

    import_rootfs(src, busybox_tar, "shared:1")
    archives = []
    for w in range(4):
        small_image(src, f"own{w}:1", seed=f"w{w}", layers=3)
        out = tmp_path / f"w{w}.tar"
        save(src, [f"own{w}:1", "shared:1"], out, "oci" if w % 2 else "docker")
        archives.append(out)
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKER_ROUNDS": str(ROUNDS)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.store_core.worker",
                "load-tag",
                str(root),
                f"p{w}",
                str(archives[w]),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for w in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    s = open_store(root)
    names = {n for n, _ in s.refs.list()}
    want = {"shared:1"} | {f"own{w}:1" for w in range(4)}
    want |= {
        f"p{w}/{n.replace(':', '-')}:{i}"
        for w in range(4)
        for i in range(ROUNDS)
        for n in (f"own{w}:1", "shared:1")
    }
    assert names == want
    for n in names:
        img = resolve_image(s, n)
        base = n.split("/")[-1].rsplit(":", 1)[0].replace("-", ":") if "/" in n else n
        assert img.id == resolve_image(src, base).id
    rep = fsck(s)
    assert rep.clean, rep.errors
