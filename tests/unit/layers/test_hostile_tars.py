"""Every tar of the hostile corpus is refused with its specific error, naming the
entry, and nothing outside the unpack root changes (plain, gzip and zstd)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from store.compress import compressor
from store.unpack import UnpackOptions, unpack, unpack_tar
from tests.unit.layers.hostile import load_corpus, make_base, tree_state

CORPUS = load_corpus()
NAMES = [t.name for t in CORPUS.hostile_tars(Path("/nonexistent/outside"))]


def _case(name: str, outside: Path):
    return next(t for t in CORPUS.hostile_tars(outside) if t.name == name)


def test_corpus_is_big_enough_and_covers_the_issue_list() -> None:
    assert len(NAMES) >= 15
    for must in (
        "dotdot-file",
        "abs-symlink-write",
        "symlink-chain",
        "hardlink-abs-host",
        "char-device-rootless",
        "file-dup",
        "whiteout-dotdot",
        "pax-path-override",
        "giant-size-header",
    ):
        assert must in NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_hostile_tar_is_refused_and_host_untouched(
    tmp_path: Path, name: str, compression: str | None
) -> None:
    root, outside = make_base(tmp_path)
    case = _case(name, outside)
    before_out = tree_state(outside)
    before_base = sorted(p.name for p in tmp_path.iterdir())
    blob = io.BytesIO()
    w = compressor(compression, blob)
    w.write(case.data)
    w.close()
    blob.seek(0)
    opts = UnpackOptions(**case.options)  # type: ignore[arg-type]
    with pytest.raises(case.error) as info:
        unpack(blob, root, opts)
    err = info.value
    assert case.why in err.why, str(err)
    assert getattr(err, "entry", getattr(err, "path", None)) == case.entry, str(err)
    assert str(err).count("\n") == 0
    assert tree_state(outside) == before_out
    assert sorted(p.name for p in tmp_path.iterdir()) == before_base


def test_symlink_targets_are_kept_verbatim_but_never_followed(tmp_path: Path) -> None:
    # The same shapes as the corpus, minus the write through: these must succeed.
    root, outside = make_base(tmp_path)
    ts = CORPUS.ts
    data = CORPUS._tar(
        CORPUS._e("link", ts.SYM, linkname=str(outside)),
        CORPUS._e("rel", ts.SYM, linkname="../outside/sentinel"),
        CORPUS._e("./abs/file", data=b"ok"),
        CORPUS._e("/abs2", data=b"ok"),
    )
    before = tree_state(outside)
    unpack_tar(io.BytesIO(data), root, UnpackOptions())
    assert (root / "link").is_symlink() and str((root / "link").readlink()) == str(outside)
    assert (root / "abs/file").read_bytes() == b"ok" and (root / "abs2").read_bytes() == b"ok"
    assert tree_state(outside) == before
