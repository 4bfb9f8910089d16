"""Crash safety of registry transfers: SIGKILL `pybuild pull`, `pybuild
push` and a build's `--cache-to` export at random moments. After every kill the store
is valid (fsck clean), and the next run completes, reusing what already landed (blobs
in the store are not fetched again; blobs in the registry are not uploaded again)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import requests

from registry_client import pull_image, push_image
from store.gc import gc
from store.layout import open_store
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import make_image, put_in_store
from tests.robustness.conftest import TRIALS, kill_at_random, pybuild
from tests.robustness.helpers import assert_no_mounts, assert_store_valid

LAYER_BYTES = 1 << 20  # random, so gzip cannot shrink the transfer


def _image(seed: int):
    r = random.Random(seed)
    return make_image([{f"l{i}/data": r.randbytes(LAYER_BYTES)} for i in range(3)])


def _present_in_registry(host: str, repo: str, digests: list[str]) -> set[str]:
    return {
        d
        for d in digests
        if requests.head(f"http://{host}/v2/{repo}/blobs/{d}", timeout=10).status_code == 200
    }


def test_sigkill_during_pull(registry, tmp_path: Path, rng: random.Random) -> None:
    img = _image(1)
    src = open_store(tmp_path / "src")
    put_in_store(src, img, "src:1")
    ref = f"{registry.host}/{unique_repo('crash-pull')}:1"
    push_image(src, img.manifest.desc, ref)
    src.close()
    root = tmp_path / "store"
    reused = 0
    for _ in range(TRIALS):
        kill_at_random(root, ["pull", "--progress", "quiet", ref], rng, 0.5)
        assert_store_valid(root)
        assert_no_mounts(root)
        st = open_store(root)
        had = {b.desc.digest for b in img.blobs() if st.blobs.exists(b.desc.digest)}
        res = pull_image(st, ref)
        assert res.manifest.digest == img.manifest.desc.digest
        assert not had & set(res.fetched), "blobs already in the store were fetched again"
        reused += bool(had)
        for name, _ in st.refs.list():
            st.refs.delete(name)
        gc(st)  # next trial pulls again from scratch
        st.close()
        assert_store_valid(root)
    assert reused > 0, "no kill happened after a blob landed; widen the delays"


def test_sigkill_during_push(registry, tmp_path: Path, rng: random.Random) -> None:
    img = _image(2)
    root = tmp_path / "store"
    st = open_store(root)
    put_in_store(st, img, "img:1")
    st.close()
    digests = [str(b.desc.digest) for b in img.blobs()]
    reused = 0
    for _ in range(TRIALS):
        repo = unique_repo("crash-push")
        ref = f"{registry.host}/{repo}:1"
        kill_at_random(root, ["push", "--progress", "quiet", "img:1", ref], rng, 0.4)
        assert_store_valid(root)
        there = _present_in_registry(registry.host, repo, digests)
        st = open_store(root)
        res = push_image(st, img.manifest.desc, ref)
        st.close()
        assert not there & {str(d) for d in res.uploaded}, "uploaded a blob the registry had"
        reused += bool(there)
        got = requests.get(
            f"http://{registry.host}/v2/{repo}/manifests/1",
            timeout=10,
            headers={"Accept": img.manifest.media_type},
        )
        assert got.status_code == 200 and got.content == img.manifest.data
        assert _present_in_registry(registry.host, repo, digests) == set(digests)
    assert reused > 0, "no kill happened after a blob was uploaded; widen the delays"


def test_sigkill_during_cache_export(
    store_root: Path,
    busybox_image,
    registry,
    tmp_path: Path,
    rng: random.Random,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")  # the same base in both stores
    root = store_root
    busybox_image.load(root)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN head -c 300000 /dev/urandom > /r\nRUN echo two > /two\n"
    )
    cache = f"{registry.host}/{unique_repo('crash-cache')}"
    pybuild(root, "build", "--network", "none", "-t", "c:1", str(ctx))
    for n in range(TRIALS):
        args = [
            "build",
            "--progress",
            "quiet",
            "--network",
            "none",
            "-t",
            "c:1",
            "--cache-to",
            f"{cache}:{n}",
            str(ctx),
        ]
        kill_at_random(root, args, rng, 0.8)
        assert_store_valid(root)
        assert_no_mounts(root)
    pybuild(root, *args)
    assert_store_valid(root)
    # The export that finished is usable: a fresh store builds from it with cache hits.
    fresh = tmp_path / "fresh"
    busybox_image.load(fresh)
    res = pybuild(
        fresh,
        "build",
        "--progress",
        "plain",
        "--network",
        "none",
        "-t",
        "c:2",
        "--cache-from",
        f"{cache}:{TRIALS - 1}",
        str(ctx),
    )
    text = res.stdout + res.stderr
    assert "#2 CACHED" in text and "#3 CACHED" in text, text
