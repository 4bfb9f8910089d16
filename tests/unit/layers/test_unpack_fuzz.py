"""Property tests: on arbitrary or mutated tar bytes the unpacker raises nothing but
StoreError subclasses, and never creates or changes anything outside its root."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from store.errors import StoreError
from store.oci import tar as ts
from store.unpack import UnpackOptions, unpack, unpack_tar
from tests.unit.layers.hostile import load_corpus, make_base, tree_state

CORPUS = load_corpus()
_OUTSIDE_PLACEHOLDER = Path("/tmp/pybuild-fuzz-outside")


def _seed_tar() -> bytes:
    e = CORPUS._e
    return CORPUS._tar(
        e("d/", ts.DIR, mode=0o755),
        e("d/f", data=b"hello" * 50, mode=0o4755, xattrs={"user.k": b"v"}),
        e("d/h", ts.LNK, linkname="d/f"),
        e("s", ts.SYM, linkname="../outside"),
        e("d/.wh.gone"),
        e("o/.wh..wh..opq"),
        e("p", ts.FIFO),
        e("x" * 150, data=b"long"),
        e("ünï", data=b"u"),
    )


SEEDS = [_seed_tar()] + [t.data for t in CORPUS.hostile_tars(_OUTSIDE_PLACEHOLDER)]


def _check(data: bytes, compressed: bool = False, **opts: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root, outside = make_base(base)
        before = tree_state(outside)
        try:
            if compressed:
                unpack(io.BytesIO(data), root, UnpackOptions(**opts))  # type: ignore[arg-type]
            else:
                unpack_tar(io.BytesIO(data), root, UnpackOptions(**opts))  # type: ignore[arg-type]
        except StoreError as e:
            assert "\n" not in str(e)
        assert tree_state(outside) == before
        assert sorted(p.name for p in base.iterdir()) == ["outside", "root"]


@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(data)
    _check(b"\x1f\x8b" + data, compressed=True)
    _check(b"\x28\xb5\x2f\xfd" + data, compressed=True)


@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=12),
    st.integers(0, 1 << 16),
)
def test_mutated_tars(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, val in flips:
        data[pos % len(data)] = val
    _check(bytes(data))
    _check(bytes(data[: cut % (len(data) + 1)]), max_bytes=4096)


_NAME = st.lists(
    st.sampled_from(
        ["a", "b", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh.", ".wh...", "outside", "sentinel"]
    ),
    min_size=1,
    max_size=4,
)


@given(
    st.lists(
        st.tuples(
            _NAME,
            st.sampled_from([ts.REG, ts.DIR, ts.SYM, ts.LNK, ts.FIFO, ts.CHR]),
            st.sampled_from(["", "a", "../outside", "/", "../outside/sentinel", "a/b", "/tmp"]),
        ),
        max_size=8,
    ),
    st.booleans(),
)
def test_structured_hostile_entries(entries: list, rootless: bool) -> None:
    parts = []
    for name, typ, link in entries:
        parts.append(
            CORPUS._e("/".join(name), typ, data=b"data" if typ == ts.REG else b"", linkname=link)
        )
    _check(CORPUS._tar(*parts), rootless=rootless)
