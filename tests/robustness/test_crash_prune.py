"""Crash safety of `pybuild prune`: SIGKILL it at random moments while it
deletes garbage blobs and snapshots. Every kill leaves fsck clean and the tagged images
whole; the next prune finishes the job, and the next build is all cache hits."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest

from store.gc import gc
from store.layout import open_store
from store.oci.digest import Digest
from tests.fixtures.registry_images import make_image, put_in_store
from tests.robustness.conftest import TRIALS, kill_at_random, pybuild, time_after_ready
from tests.robustness.helpers import assert_no_mounts, assert_store_valid


def _make_garbage(root: Path, seed: int) -> set[str]:
    """An untagged image whose layers are also unpacked as snapshots; returns its blobs."""
    r = random.Random(seed)
    img = make_image([{f"g{i}/{j}": r.randbytes(4096) for j in range(40)} for i in range(3)])
    st = open_store(root)
    try:
        put_in_store(st, img)
        diff_ids = json.loads(img.config.data)["rootfs"]["diff_ids"]
        top = st.snapshots.ensure_layers(
            [b.desc for b in img.layers], [Digest.parse(d) for d in diff_ids]
        )
        st.snapshots.remove(top)  # no holder: garbage for gc
    finally:
        st.close()
    return {str(b.desc.digest) for b in (*img.blobs(), img.manifest)}


def test_sigkill_during_prune(build_store: Path, tmp_path: Path, rng: random.Random) -> None:
    root = build_store
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo kept > /kept\n")
    pybuild(root, "build", "--network", "none", "-t", "kept:1", str(ctx))
    # the window kills should hit: the median of three prunes of fresh garbage (one run
    # alone can be slow or fast on a shared disk), of which kills take the first 80%
    runs = []
    for seed in (-1, -2, -3):
        _make_garbage(root, seed)
        runs.append(time_after_ready(root, ["prune"]))
    window = max(0.01, 0.8 * statistics.median(runs))
    interrupted = 0
    for n in range(TRIALS):
        garbage = _make_garbage(root, n)
        k = kill_at_random(root, ["prune"], rng, window)
        interrupted += not k.finished
        assert_store_valid(root)
        assert_no_mounts(root)
        st = open_store(root)
        gc(st)  # the next prune completes
        left = {str(d) for d in st.blobs.iter_digests()} & garbage
        st.close()
        assert not left, f"garbage survived a completed prune: {left}"
        if n % 5 != 4:
            continue  # a build every fifth trial keeps the test cheap
        out = pybuild(
            root, "build", "--progress", "plain", "--network", "none", "-t", "kept:1", str(ctx)
        )
        assert "#2 CACHED" in out.stdout + out.stderr
    assert interrupted >= TRIALS // 3, f"only {interrupted} prunes were killed mid-run"


def test_sigkill_during_unpack_and_snapshot_removal(
    tmp_path: Path, rng: random.Random, capsys: pytest.CaptureFixture[str]
) -> None:
    """A build's base image is unpacked into snapshots on first use, and prune deletes
    snapshots: kill both mid-way (half the trials each). fsck stays clean (the next
    start removes half-unpacked and half-deleted dirs, and says so)."""
    r = random.Random(7)
    img = make_image([{f"u{i}/{j}": r.randbytes(2048) for j in range(300)} for i in range(3)])
    root = tmp_path / "store"
    st = open_store(root)
    put_in_store(st, img)
    st.close()
    diff_ids = [Digest.parse(d) for d in json.loads(img.config.data)["rootfs"]["diff_ids"]]
    window = 0.6  # the run fails after unpacking (the image has no /x): kills land before
    for _ in range(max(2, TRIALS // 2)):
        st = open_store(root)
        put_in_store(st, img, "u:1")  # prune --all took it last trial
        st.close()
        kill_at_random(root, ["run", "--rm", "--network", "none", "u:1", "x"], rng, window)
        assert_store_valid(root)
        st = open_store(root)  # finish the unpack, then make the snapshots garbage
        top = st.snapshots.ensure_layers([b.desc for b in img.layers], diff_ids)
        st.snapshots.remove(top)
        st.refs.delete("u:1")
        st.close()
        kill_at_random(root, ["prune", "--all"], rng, 0.4)
        assert_store_valid(root)
        assert_no_mounts(root)
        st = open_store(root)
        gc(st, all=True)
        st.close()
        assert_store_valid(root)
    cleaned = capsys.readouterr().err.count("left by a kill")
    print(f"{cleaned} leftovers cleaned up")
    assert cleaned > 0, "no kill landed mid-unpack or mid-removal; widen the windows"
