"""Property: copying a whole random context reproduces it (content, mode, links,
dirs) with owners 0:0, and the source hash depends only on what lands."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.context import SourceTree
from builder.copy import CopyOptions, copy_into, source_hash
from builder.filehash import FileHashCache
from tests.integration.copy.treeutil import make_tree, read_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)

names = st.sampled_from(["a", "b", "c d", "ü", ".hid", "x.txt", "[x]", "*"])
paths = st.lists(names, min_size=1, max_size=3).map("/".join)
values = st.one_of(
    st.text(max_size=20),
    st.tuples(  # (content, mode); a content of "link" would read as a symlink spec
        st.text(max_size=5).filter(lambda t: t != "link"),
        st.sampled_from([0o600, 0o644, 0o755, 0o4755, 0o1777]),
    ),
    st.tuples(st.just("link"), st.sampled_from(["a", "/etc/passwd", "../../x", "b/c"])),
)


def _valid(spec: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for p, v in spec.items():  # no path may be both a file and a parent
        if any(q.startswith(p + "/") or p.startswith(q + "/") for q in out):
            continue
        out[p] = v
    return out


@given(st.dictionaries(paths, values, min_size=1, max_size=8).map(_valid))
def test_copy_whole_context_roundtrip(spec: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_tree(Path(tmp) / "ctx", spec)
        for p in (ctx / k for k in spec):
            if not p.is_symlink():
                os.chown(p, 1234, 5678)
                os.chmod(p, spec_mode(spec, p, ctx))
        target = Path(tmp) / "t"
        target.mkdir()
        copy_into(SourceTree.context(ctx), ["."], "/", str(target), CopyOptions())
        want = {k: (t, m, 0, 0, c) for k, (t, m, _, _, c) in read_tree(ctx).items()}
        assert read_tree(target) == want
        h = [
            source_hash(SourceTree.context(d), ["."], CopyOptions(), FileHashCache()).digest
            for d in (ctx, target)
        ]
        assert h[0] == h[1]


def spec_mode(spec: dict[str, object], p: Path, ctx: Path) -> int:
    v = spec[str(p.relative_to(ctx))]
    return v[1] if isinstance(v, tuple) else 0o644
