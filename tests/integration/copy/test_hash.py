"""Source hashes for the cache key: stable, sensitive to content/mode/owner, blind to
mtime, and stat-only on a warm rebuild through the store's file-hash cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from builder.chown import Owner
from builder.context import SourceTree
from builder.copy import CopyOptions, source_hash
from builder.filehash import FileHashCache, miss_reason
from tests.integration.copy.treeutil import make_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)

SPEC = {
    "src/app.py": "print(1)",
    "src/lib/u.py": "u",
    "README": "r",
    "src/link": ("link", "app.py"),
    "run.sh": ("#!/bin/sh", 0o755),
}


def _h(ctx: Path, srcs=("src", "run.sh"), **opts) -> tuple[str, dict]:
    sh = source_hash(SourceTree.context(ctx), list(srcs), CopyOptions(**opts), FileHashCache())
    return sh.digest, dict(sh.manifest)


def test_stable_across_runs_and_copies(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", SPEC)
    b = make_tree(tmp_path / "b", SPEC)
    assert _h(a) == _h(a)
    assert _h(a)[0] == _h(b)[0]  # other inodes, other mtimes, same digest
    assert _h(a)[0].startswith("sha256:") and len(_h(a)[0]) == 71


@pytest.mark.parametrize(
    "change,reason",
    [
        (lambda c: (c / "src/app.py").write_text("print(2)"), "src/app.py changed"),
        (lambda c: os.chmod(c / "run.sh", 0o700), "run.sh changed"),
        (lambda c: os.lchown(c / "src/lib/u.py", 5, 5), ""),  # context owners become 0:0
        (lambda c: (c / "src/new.py").write_text("n"), "new file src/new.py"),
        (lambda c: os.unlink(c / "src/lib/u.py"), "src/lib/u.py removed"),
        (
            lambda c: (os.unlink(c / "src/link"), os.symlink("lib", c / "src/link")),
            "src/link changed",
        ),
        (lambda c: os.utime(c / "src/app.py", (1, 1)), ""),
        (lambda c: os.setxattr(c / "src/app.py", "user.note", b"x"), "src/app.py changed"),
        (lambda c: (c / "README").write_text("not copied"), ""),
    ],
)
def test_sensitivity(tmp_path: Path, change, reason: str) -> None:
    ctx = make_tree(tmp_path / "ctx", SPEC)
    d1, m1 = _h(ctx)
    change(ctx)
    d2, m2 = _h(ctx)
    assert (d1 != d2) == bool(reason)
    assert miss_reason(m1, m2) == reason


def test_owner_and_chmod_options_change_the_hash(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", SPEC)
    base = _h(ctx)[0]
    assert _h(ctx, owner=Owner(1000, 1000))[0] != base
    assert _h(ctx, owner=Owner(1000, 1000))[0] != _h(ctx, owner=Owner(1000, 1001))[0]
    assert _h(ctx, chmod=0o644)[0] != base
    assert _h(ctx, excludes=("**/*.py",))[0] != base
    # a --from stage keeps owners, so a source chown is visible there
    stage = SourceTree(ctx, is_context=False)
    h1 = source_hash(stage, ["src"], CopyOptions(preserve_owner=True), FileHashCache()).digest
    os.lchown(ctx / "src/app.py", 7, 7)
    h2 = source_hash(stage, ["src"], CopyOptions(preserve_owner=True), FileHashCache()).digest
    assert h1 != h2


def test_dockerignore_changes_what_is_hashed(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {**SPEC, "src/debug.log": "x"})
    d1, m1 = _h(ctx)
    (ctx / ".dockerignore").write_text("**/*.log\n")
    d2, m2 = _h(ctx)
    assert miss_reason(m1, m2) == "src/debug.log removed"
    (ctx / "src/debug.log").write_text("changed but ignored")
    assert _h(ctx)[0] == d2


def test_warm_rebuild_is_stat_only(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {f"d{i % 7}/f{i}.txt": f"content {i}" for i in range(300)})
    for p in ctx.rglob("*.txt"):  # as an older checkout is; fresh files are racy
        os.utime(p, (1_600_000_000, 1_600_000_000))
    store = tmp_path / "store"
    opened: list[str] = []
    prefix = str(ctx) + "/"

    def hook(event: str, args: tuple) -> None:  # audit hooks cannot be removed: keep it cheap
        if event == "open" and isinstance(args[0], str) and args[0].startswith(prefix):
            if os.path.isfile(args[0]):
                opened.append(args[0])

    sys.addaudithook(hook)
    with FileHashCache(store) as cold:
        first = source_hash(SourceTree.context(ctx), ["."], CopyOptions(), cold)
    assert cold.misses == 300 and cold.opens == 300 and len(opened) == 300
    opened.clear()
    with FileHashCache(store) as warm:  # a new process would open the store the same way
        second = source_hash(SourceTree.context(ctx), ["."], CopyOptions(), warm)
    assert second == first
    assert (warm.hits, warm.misses, warm.opens, warm.bytes_read) == (300, 0, 0, 0)
    assert opened == []
    (ctx / "d3/f3.txt").write_text("edited")
    opened.clear()
    with FileHashCache(store) as again:
        third = source_hash(SourceTree.context(ctx), ["."], CopyOptions(), again)
    assert again.opens == 1 and opened == [str(ctx / "d3/f3.txt")]
    assert miss_reason(first.manifest, third.manifest) == "d3/f3.txt changed"
    # the just-edited file is racily clean: hashed again until it is older
    with FileHashCache(store) as racy:
        assert source_hash(SourceTree.context(ctx), ["."], CopyOptions(), racy) == third
    assert racy.opens == 1
    os.utime(ctx / "d3/f3.txt", (1_600_000_000, 1_600_000_000))
    with FileHashCache(store) as settled:
        source_hash(SourceTree.context(ctx), ["."], CopyOptions(), settled)
    with FileHashCache(store) as quiet:
        source_hash(SourceTree.context(ctx), ["."], CopyOptions(), quiet)
    assert (settled.opens, quiet.opens) == (1, 0)


def test_warm_rebuild_reads_xattrs_only_of_inodes_whose_ctime_moved(
    tmp_path: Path, monkeypatch
) -> None:
    from builder import filehash

    monkeypatch.setattr(filehash, "RACY_NS", 0)  # ctime cannot be set back: none is racy
    ctx = make_tree(tmp_path / "ctx", {f"d{i % 7}/f{i}.txt": f"content {i}" for i in range(300)})
    store = tmp_path / "store"

    def run() -> tuple[object, int]:
        with FileHashCache(store) as c:
            sh = source_hash(SourceTree.context(ctx), ["."], CopyOptions(), c)
        return sh, c.xattr_reads

    first, reads = run()
    assert reads == 300 + 8  # every file, the 7 dirs and the root
    again, reads = run()
    assert again == first and reads == 0
    os.setxattr(ctx / "d3/f3.txt", "user.note", b"x")  # moves the ctime, not the mtime
    tagged, reads = run()
    assert reads == 1
    assert miss_reason(first.manifest, tagged.manifest) == "d3/f3.txt changed"
    os.removexattr(ctx / "d3/f3.txt", "user.note")
    back, reads = run()
    assert reads == 1 and back == first


@pytest.mark.parametrize(
    "path",
    ["/a/b", "/a//b", "/a/./b", "/a/../b", "/a/.hidden", "/a/b/", "rel/x", "./x", "/", "//x"],
)
def test_cache_keys_are_absolute_clean_paths(path: str) -> None:
    from builder.filehash import _key

    assert _key(path) == os.path.abspath(path)
