"""prune running in a loop while other processes load and tag: nothing they load is
lost (leases, and content newer than the gc run, are kept)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from store.archive import save
from store.fsck import fsck
from store.gc import gc
from store.image import resolve_image
from store.layout import open_store
from tests.fixtures.common import REPO
from tests.integration.store_core.helpers import small_image


def test_prune_races_with_loads(tmp_path: Path) -> None:
    src = open_store(tmp_path / "src")
    archives = []
    for w in range(2):
        for r in range(3):
            small_image(src, f"w{w}r{r}:1", seed=f"{w}-{r}", layers=3)
            archives.append(tmp_path / f"w{w}r{r}.tar")
            save(src, [f"w{w}r{r}:1"], archives[-1], "oci")
    root = tmp_path / "store"
    open_store(root)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKER_ROUNDS": "1"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.store_core.worker",
                "load",
                str(root),
                *map(str, archives[w * 3 : (w + 1) * 3]),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for w in range(2)
    ]
    s = open_store(root)
    runs = 0
    while any(p.poll() is None for p in procs) or runs < 3:
        gc(s)
        runs += 1
    for p in procs:
        assert p.wait() == 0, p.stderr.read().decode() if p.stderr else ""
    names = {n for n, _ in s.refs.list()}
    assert names == {f"w{w}r{r}:1" for w in range(2) for r in range(3)}
    for n in names:
        img = resolve_image(s, n)
        assert all(s.blobs.exists(d.digest) for d in img.blobs())
        assert img.id == resolve_image(src, n).id
    assert fsck(s).clean and runs >= 3
