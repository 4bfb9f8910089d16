"""Property: `load` of a damaged archive either succeeds or raises a StoreError (one
line for the CLI), and a failure never tags anything."""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.archive import save
from store.archive_load import load
from store.errors import StoreError
from store.layout import open_store
from tests.integration.store_core.helpers import legacy_docker_save, small_image, tar_bytes


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    d = tmp_path_factory.mktemp("seeds")
    s = open_store(d / "s")
    small_image(s, "f:1", layers=2)
    out = []
    for fmt in ("oci", "docker"):
        save(s, ["f:1"], d / f"{fmt}.tar", fmt)
        out.append((d / f"{fmt}.tar").read_bytes())
    out.append(gzip.compress(out[0], mtime=0))
    out.append(legacy_docker_save("legacy:1", [tar_bytes({"a": b"1"}), tar_bytes({"b": b"2"})]))
    return out


def _damaged(good: bytes, cuts: list[tuple[float, int]], truncate: bool) -> bytes:
    """`good` with a byte set at each (relative position, value) of `cuts`, then cut
    at the first position when `truncate`."""
    data = bytearray(good)
    for pos, val in cuts:
        data[min(int(pos * len(data)), len(data) - 1)] = val
    if truncate:
        data = data[: int(cuts[0][0] * len(data))]
    return bytes(data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, 3),
    cuts=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4),
    truncate=st.booleans(),
)
def test_damaged_archives_fail_cleanly(
    seeds: list[bytes], which: int, cuts: list[tuple[float, int]], truncate: bool
) -> None:
    data = _damaged(seeds[which], cuts, truncate)
    with tempfile.TemporaryDirectory() as td:
        s = open_store(Path(td))
        try:
            result = load(s, io.BytesIO(data))
        except StoreError as e:
            assert str(e) and "\n" not in str(e)
            assert s.refs.list() == []
            return
        assert {n for n, _ in s.refs.list()} == {n for n, _ in result if n}


@given(
    kind=st.sampled_from(["plain", "gzip", "zstd", "bzip2", "xz"]),
    cuts=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=3),
    truncate=st.booleans(),
)
def test_damaged_rootfs_imports_fail_cleanly(
    kind: str, cuts: list[tuple[float, int]], truncate: bool
) -> None:
    import bz2
    import lzma

    import zstandard

    from store.rootfs_import import import_rootfs

    raw = tar_bytes({f"d/f{i}": bytes([i]) * (300 * i) for i in range(5)})
    data = _damaged(
        {
            "plain": lambda b: b,
            "gzip": gzip.compress,
            "bzip2": bz2.compress,
            "xz": lzma.compress,
            "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
        }[kind](raw),
        cuts,
        truncate,
    )
    with tempfile.TemporaryDirectory() as td:
        s = open_store(Path(td))
        try:
            import_rootfs(s, io.BytesIO(data), "x:1")
        except StoreError as e:
            assert str(e) and "\n" not in str(e)
            assert s.refs.list() == [] and list(s.blobs.iter_digests()) == []
            return
        assert [n for n, _ in s.refs.list()] == ["x:1"]
