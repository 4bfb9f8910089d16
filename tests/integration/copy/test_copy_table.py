"""COPY corner cases on real trees, as root so owners can be checked: each row is
(sources, dest, options) -> the entries expected in the target afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.chown import Owner
from builder.context import CopyError, OutsideContext, SourceNotFound, SourceTree
from builder.copy import CopyOptions, copy_into, parse_chmod
from tests.integration.copy.treeutil import make_tree, read_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)

CTX = {
    "a.txt": "A",
    "b.txt": ("B", 0o600),
    "run.sh": ("#!", 0o755),
    "src/app.py": "print()",
    "src/lib/util.py": "u",
    "src/lib/data.json": "{}",
    "src/link": ("link", "app.py"),
    "src/abs": ("link", "/etc/shadow"),
    "tolink": ("link", "a.txt"),
    "todir": ("link", "src/lib"),
    "outside": ("link", "/etc/hostname"),
    "etc/hostname": "ctx-hostname",
}
TGT = {
    "existing": ("dir", 0o700),
    "file": "old",
    "run": ("dir", 0o755),
    "var/run": ("link", "/run"),
    "esc": ("link", "../../../../tmp"),
    "occupied/app.py": ("dir", 0o755),
}
D755 = ("dir", 0o755, 0, 0, None)


def F(text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> tuple:
    return ("file", mode, uid, gid, text)


CASES = [
    (
        "dir contents",
        ["src"],
        "/app/",
        {},
        {
            "app": D755,
            "app/app.py": F("print()"),
            "app/lib": D755,
            "app/lib/util.py": F("u"),
            "app/link": ("link", 0, 0, 0, "app.py"),
            "app/abs": ("link", 0, 0, 0, "/etc/shadow"),
        },
        ["app/src"],
    ),
    ("file to new path", ["a.txt"], "/x", {}, {"x": F("A")}, ["x/a.txt"]),
    ("file to dir slash", ["a.txt"], "/d/", {}, {"d": D755, "d/a.txt": F("A")}, []),
    (
        "file into existing dir",
        ["a.txt"],
        "/existing",
        {},
        {"existing": ("dir", 0o700, 0, 0, None), "existing/a.txt": F("A")},
        [],
    ),
    ("file replaces file", ["b.txt"], "/file", {}, {"file": F("B", 0o600)}, []),
    ("wildcard", ["*.txt"], "/w/", {}, {"w/a.txt": F("A"), "w/b.txt": F("B", 0o600)}, ["w/run.sh"]),
    ("source symlink followed", ["tolink"], "/l", {}, {"l": F("A")}, []),
    (
        "source dir symlink followed",
        ["todir"],
        "/td/",
        {},
        {"td/util.py": F("u"), "td/data.json": F("{}")},
        ["td/lib"],
    ),
    (
        "relative dest uses workdir",
        ["src/lib/util.py"],
        "rel/",
        {"workdir": "/wd"},
        {"wd": D755, "wd/rel": D755, "wd/rel/util.py": F("u")},
        [],
    ),
    ("dest dot is workdir", ["a.txt"], ".", {"workdir": "/wd2"}, {"wd2/a.txt": F("A")}, []),
    (
        "chown applies to created parents",
        ["src"],
        "/deep/er/",
        {"owner": Owner(1000, 1001)},
        {
            "deep": ("dir", 0o755, 1000, 1001, None),
            "deep/er": ("dir", 0o755, 1000, 1001, None),
            "deep/er/lib": ("dir", 0o755, 1000, 1001, None),
            "deep/er/app.py": F("print()", 0o644, 1000, 1001),
            "deep/er/link": ("link", 0, 1000, 1001, "app.py"),
        },
        [],
    ),
    (
        "chmod files and dirs",
        ["src"],
        "/m/",
        {"chmod": 0o640},
        {
            "m": D755,
            "m/app.py": F("print()", 0o640),
            "m/lib": ("dir", 0o640, 0, 0, None),
            "m/lib/util.py": F("u", 0o640),
        },
        [],
    ),
    (
        "symbolic chmod per entry",
        ["src", "run.sh"],
        "/sy/",
        {"chmod": parse_chmod("go-r,u+x")},
        {
            "sy": D755,
            "sy/app.py": F("print()", 0o700),
            "sy/lib": ("dir", 0o711, 0, 0, None),
            "sy/run.sh": F("#!", 0o711),
        },
        [],
    ),
    (
        "parents with pivot",
        ["src/./lib/util.py"],
        "/p/",
        {"parents": True},
        {"p/lib/util.py": F("u")},
        ["p/src"],
    ),
    (
        "parents without pivot",
        ["src/lib/util.py", "a.txt"],
        "/q/",
        {"parents": True},
        {"q/src/lib/util.py": F("u"), "q/a.txt": F("A")},
        ["q/util.py"],
    ),
    (
        "parents dir keeps the dir",
        ["src/lib"],
        "/r/",
        {"parents": True},
        {"r/src/lib/util.py": F("u")},
        [],
    ),
    (
        "exclude inside dir",
        ["src"],
        "/e/",
        {"excludes": ("**/*.json",)},
        {"e/lib/util.py": F("u")},
        ["e/lib/data.json"],
    ),
    (
        "exclude wildcard match",
        ["*.txt"],
        "/f/",
        {"excludes": ("b.txt",)},
        {"f/a.txt": F("A")},
        ["f/b.txt"],
    ),
    ("wildcard in a middle component", ["src/*/util.py"], "/wc/", {}, {"wc/util.py": F("u")}, []),
    (
        "wildcard matching a dir copies its contents",
        ["*/lib"],
        "/wl/",
        {},
        {"wl/util.py": F("u"), "wl/data.json": F("{}")},
        ["wl/lib"],
    ),
    (
        "parents with wildcard",
        ["src/*/util.py"],
        "/pw/",
        {"parents": True},
        {"pw/src/lib/util.py": F("u")},
        [],
    ),
    (
        "parents with pivot and wildcard",
        ["src/./*/*.json"],
        "/pv/",
        {"parents": True},
        {"pv/lib/data.json": F("{}")},
        ["pv/lib/util.py"],
    ),
    (
        "dest through target symlink",
        ["a.txt"],
        "/var/run/",
        {},
        {"run/a.txt": F("A"), "var/run": ("link", 0, 0, 0, "/run")},
        [],
    ),
    ("escaping target symlink stays in root", ["a.txt"], "/esc/", {}, {"tmp/a.txt": F("A")}, []),
    (
        "absolute source symlink is scoped to the context",
        ["outside"],
        "/o",
        {},
        {"o": F("ctx-hostname")},
        [],
    ),
    (
        "whole context",
        ["."],
        "/all/",
        {},
        {
            "all/a.txt": F("A"),
            "all/etc/hostname": F("ctx-hostname"),
            "all/outside": ("link", 0, 0, 0, "/etc/hostname"),
        },
        ["all/ctx"],
    ),
]


@pytest.mark.parametrize("name,srcs,dest,opts,want,absent", CASES, ids=[c[0] for c in CASES])
def test_copy_case(tmp_path: Path, name, srcs, dest, opts, want, absent) -> None:
    ctx = make_tree(tmp_path / "ctx", CTX)
    target = make_tree(tmp_path / "target", TGT)
    copy_into(SourceTree.context(ctx), srcs, dest, str(target), CopyOptions(**opts))
    got = read_tree(target)
    for path, expected in want.items():
        assert got.get(path) == expected, path
    for path in absent:
        assert path not in got, path
    assert "shadow" not in "".join(str(v[4]) for v in got.values() if v[0] == "file")


def test_copy_into_empty_root_for_link(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", CTX)
    empty = tmp_path / "layer"
    empty.mkdir()
    copy_into(SourceTree.context(ctx), ["a.txt", "src/lib"], "/opt/x/", str(empty), CopyOptions())
    assert read_tree(empty) == {
        "opt": D755,
        "opt/x": D755,
        "opt/x/a.txt": F("A"),
        "opt/x/util.py": F("u"),
        "opt/x/data.json": F("{}"),
    }


ERRORS = [
    (
        ["a.txt", "b.txt"],
        "/x",
        CopyError,
        "COPY failed: When using COPY with more than one source file, the destination must be "
        "a directory and end with a /",
    ),
    (["*.txt"], "/x", CopyError, "destination must be a directory"),
    (
        ["missing.txt"],
        "/x",
        SourceNotFound,
        "COPY failed: file not found in build context or excluded by .dockerignore: "
        "stat missing.txt: file does not exist",
    ),
    (["nomatch*"], "/x/", SourceNotFound, "stat nomatch*: file does not exist"),
    (["../x"], "/x", OutsideContext, "forbidden path outside the build context: ../x"),
    (["src/../../a.txt"], "/x", OutsideContext, "outside the build context"),
    ([], "/x", CopyError, "no source files were specified"),
    (["a.txt"], "/file/", CopyError, "cannot copy to non-directory: /file"),
    (["src"], "/file", CopyError, "cannot copy to non-directory: /file"),
    (["src"], "/occupied/", CopyError, "cannot replace to directory /occupied/app.py with file"),
]


@pytest.mark.parametrize("srcs,dest,exc,msg", ERRORS)
def test_copy_errors(tmp_path: Path, srcs, dest, exc, msg) -> None:
    ctx = make_tree(tmp_path / "ctx", CTX)
    target = make_tree(tmp_path / "target", TGT)
    with pytest.raises(exc) as info:
        copy_into(SourceTree.context(ctx), srcs, dest, str(target), CopyOptions())
    text = str(info.value)
    assert msg in text and "\n" not in text


def test_error_carries_location(tmp_path: Path) -> None:
    from builder.errors import Span

    ctx = make_tree(tmp_path / "ctx", CTX)
    with pytest.raises(SourceNotFound) as info:
        copy_into(SourceTree.context(ctx), ["nope"], "/x", str(tmp_path), CopyOptions())
    located = info.value.located("Dockerfile", Span(7, 1))
    assert str(located).startswith("Dockerfile:7:1: COPY failed: file not found")
    assert located.path == "nope" and located.exit_code == 1


def test_mtime_kept_and_from_keeps_owner(tmp_path: Path) -> None:
    stage = make_tree(tmp_path / "stage", {"usr/bin/tool": ("t", 0o4755), "home/u/f": "f"})
    os.chown(stage / "home/u/f", 1234, 4321)
    os.chmod(stage / "usr/bin/tool", 0o4755)
    os.utime(stage / "home/u/f", ns=(1_000_000_000, 1_500_000_000_123))
    target = tmp_path / "t"
    target.mkdir()
    tree = SourceTree(stage, is_context=False)
    copy_into(
        tree, ["/home", "/usr/bin/tool"], "/dst/", str(target), CopyOptions(preserve_owner=True)
    )
    got = read_tree(target)
    assert got["dst/u/f"] == F("f", 0o644, 1234, 4321)
    assert got["dst/tool"] == F("t", 0o4755)
    assert os.stat(target / "dst/u/f").st_mtime_ns == 1_500_000_000_123


def test_hardlinks_kept_within_one_copy(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {"d/one": "same"})
    os.link(ctx / "d/one", ctx / "d/two")
    target = tmp_path / "t"
    target.mkdir()
    copy_into(SourceTree.context(ctx), ["d"], "/h/", str(target), CopyOptions())
    assert os.stat(target / "h/one").st_ino == os.stat(target / "h/two").st_ino
