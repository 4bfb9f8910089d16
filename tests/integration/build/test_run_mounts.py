"""RUN --mount (cache, secret, bind from the context and a stage, tmpfs) and --network."""

from __future__ import annotations

import pytest

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root


def test_cache_mount_persists_across_builds_and_stays_out_of_layers(build_store, tmp_path):
    df = (
        "FROM busybox\nARG N\n"
        "RUN --mount=type=cache,target=/cache,id=c1 echo $N >> /cache/log && "
        "cp /cache/log /seen\n"
    )
    run_build(build_store, tmp_path, df, tags=["cm:1"], build_args={"N": "1"})
    run_build(build_store, tmp_path, df, tags=["cm:2"], build_args={"N": "2"})
    assert h.read_file(build_store, "cm:2", "seen") == b"1\n2\n"
    assert (
        "cache" not in h.rootfs(build_store, "cm:2")
        or h.rootfs(build_store, "cm:2")["cache"]["type"] == "5"
    )
    assert not any(p.startswith("cache/") for p in h.rootfs(build_store, "cm:2"))
    # cache dirs, like snapshots, are spread over the disk on ext4 (store.fsplace)
    from store.fsplace import topdir_flag

    assert topdir_flag(build_store / "cache-mounts") is (
        None if topdir_flag(build_store) is None else True
    )


@pytest.mark.parametrize("sharing", ["shared", "private", "locked"])
def test_cache_mount_sharing_modes(build_store, tmp_path, sharing):
    df = (
        f"FROM busybox\nRUN --mount=type=cache,target=/c,sharing={sharing} "
        "touch /c/x && ls /c > /list\n"
    )
    run_build(build_store, tmp_path, df, tags=["share:1"])
    assert b"x" in h.read_file(build_store, "share:1", "list")


def test_cache_mount_from_a_stage_is_seeded_once_then_persists(build_store, tmp_path):
    df = (
        "FROM busybox AS seed\nARG SEED=a\nRUN mkdir -p /s/deps && echo $SEED > /s/deps/v "
        "&& chown 5:6 /s/deps/v\n"
        "FROM busybox\nARG N\n"
        "RUN --mount=type=cache,target=/c,id=dep,from=seed,source=/s/deps "
        "echo $N >> /c/v && cp /c/v /seen && stat -c %u:%g /c/v > /owner\n"
    )
    run_build(build_store, tmp_path, df, tags=["cs:1"], build_args={"N": "1"})
    assert h.read_file(build_store, "cs:1", "seen") == b"a\n1\n"
    assert h.read_file(build_store, "cs:1", "owner") == b"5:6\n"
    run_build(build_store, tmp_path, df, tags=["cs:2"], build_args={"N": "2"})
    assert h.read_file(build_store, "cs:2", "seen") == b"a\n1\n2\n"
    assert not any(p.startswith("c/") for p in h.rootfs(build_store, "cs:2"))
    # another seed is another cache (BuildKit keys it by id and source), and re-runs
    _, out = run_build(build_store, tmp_path, df, tags=["cs:3"], build_args={"N": "3", "SEED": "b"})
    assert h.read_file(build_store, "cs:3", "seen") == b"b\n3\n"


def test_secret_mount_never_in_a_layer(build_store, tmp_path):
    secret = tmp_path / "token.txt"
    secret.write_text("s3cr3t")
    df = "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /len\n"
    run_build(build_store, tmp_path, df, tags=["sec:1"], secrets={"tok": {"src": str(secret)}})
    assert h.read_file(build_store, "sec:1", "len").strip() == b"6"
    tree = h.rootfs(build_store, "sec:1")
    assert "run/secrets/tok" not in tree and "run/secrets" not in tree
    store_bytes = b"".join(
        p.read_bytes() for p in (build_store / "blobs").rglob("*") if p.is_file()
    )
    assert b"s3cr3t" not in store_bytes


def test_bind_mounts_from_context_and_stage_and_tmpfs(build_store, tmp_path):
    (tmp_path / "input.txt").write_text("from context\n")
    df = (
        "FROM busybox AS gen\nRUN echo from stage > /made\n"
        "FROM busybox\n"
        "RUN --mount=type=bind,target=/ctx cat /ctx/input.txt > /a\n"
        "RUN --mount=type=bind,from=gen,source=/made,target=/m cat /m > /b\n"
        "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && "
        "cat /scratch/t > /c\n"
    )
    run_build(build_store, tmp_path, df, tags=["bind:1"])
    assert h.read_file(build_store, "bind:1", "a") == b"from context\n"
    assert h.read_file(build_store, "bind:1", "b") == b"from stage\n"
    assert h.read_file(build_store, "bind:1", "c") == b"t\n"
    tree = h.rootfs(build_store, "bind:1")
    assert "ctx/input.txt" not in tree and "scratch/t" not in tree and "m" not in tree


def test_network_none_has_only_loopback(build_store, tmp_path):
    df = "FROM busybox\nRUN --network=none ls /sys/class/net > /nets\n"
    run_build(build_store, tmp_path, df, tags=["net:1"])
    assert h.read_file(build_store, "net:1", "nets").split() == [b"lo"]
