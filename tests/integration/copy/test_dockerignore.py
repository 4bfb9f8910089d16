"""`.dockerignore` applied to COPY: ignored paths do not exist, `!` exceptions
re-include, and <Dockerfile>.dockerignore wins over .dockerignore."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.context import SourceNotFound, SourceTree
from builder.copy import CopyOptions, copy_into
from tests.integration.copy.treeutil import make_tree, read_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)

SPEC = {
    "app.py": "a",
    "x.log": "x",
    "important.log": "i",
    "sub/deep.log": "d",
    "build/out.bin": "o",
    "build/keep/k.txt": "k",
    "node_modules/m/index.js": "m",
    "docs/a.md": "a",
    "to-ignored": ("link", "x.log"),
    ".dockerignore": "# comment\n*.log\n!important.log\n**/deep.log\nbuild\n!build/keep\n"
    "node_modules\n",
}


def test_copy_all_applies_ignore_and_exceptions(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", SPEC)
    target = tmp_path / "t"
    target.mkdir()
    copy_into(SourceTree.context(ctx), ["."], "/c/", str(target), CopyOptions())
    got = sorted(p for p, v in read_tree(target).items() if v[0] != "dir")
    assert got == [
        "c/.dockerignore",
        "c/app.py",
        "c/build/keep/k.txt",
        "c/docs/a.md",
        "c/important.log",
        "c/to-ignored",
    ]
    assert "c/node_modules" not in read_tree(target)


@pytest.mark.parametrize(
    "src",
    [
        "x.log",
        "sub/deep.log",
        "node_modules/m/index.js",
        "build/out.bin",
        "to-ignored",
        "*.log.nothing",
    ],
)
def test_ignored_sources_are_not_found(tmp_path: Path, src: str) -> None:
    ctx = make_tree(tmp_path / "ctx", SPEC)
    with pytest.raises(SourceNotFound) as info:
        copy_into(SourceTree.context(ctx), [src], "/x", str(tmp_path), CopyOptions())
    assert "excluded by .dockerignore" in str(info.value)


def test_wildcard_skips_ignored(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", SPEC)
    target = tmp_path / "t"
    target.mkdir()
    copy_into(SourceTree.context(ctx), ["*.log"], "/w/", str(target), CopyOptions())
    assert sorted(read_tree(target)) == ["w", "w/important.log"]


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    ctx = make_tree(
        tmp_path / "ctx",
        {**SPEC, "build.Dockerfile": "FROM scratch\n", "build.Dockerfile.dockerignore": "docs\n"},
    )
    tree = SourceTree.context(ctx, ctx / "build.Dockerfile")
    target = tmp_path / "t"
    target.mkdir()
    copy_into(tree, ["x.log"], "/x.log", str(target), CopyOptions())  # not ignored now
    with pytest.raises(SourceNotFound):
        copy_into(tree, ["docs/a.md"], "/a.md", str(target), CopyOptions())
