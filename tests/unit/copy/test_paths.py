"""Pure pieces of the copy layer: Go filepath.Match, lexical cleaning, scoped
resolution, --chmod, --chown lookups, and miss reasons."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.chown import ChownError, Owner, resolve_chown
from builder.context import SourceTree, clean_rel, go_match
from builder.copy import CopyError, is_dir_dest, parse_chmod
from builder.filehash import SourceHash, entry_hash, miss_reason

# (pattern, name, matches) as Go's filepath.Match answers them
MATCH = [
    ("*", "abc", True),
    ("*", "", True),
    ("a*", "abc", True),
    ("a*", "bac", False),
    ("*.txt", "a.txt", True),
    ("*.txt", ".txt", True),
    ("*.txt", "a.txt.gz", False),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("[abc]x", "bx", True),
    ("[^abc]x", "bx", False),
    ("[^abc]x", "dx", True),
    ("[a-c]*", "cat", True),
    ("[a-c]*", "dog", False),
    ("arr[[]0].txt", "arr[0].txt", True),
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("a*b", "a/b", False),
]


@pytest.mark.parametrize("pattern,name,want", MATCH)
def test_go_match(pattern: str, name: str, want: bool) -> None:
    assert go_match(pattern, name) is want


@pytest.mark.parametrize(
    "path,want",
    [
        ("a/b", "a/b"),
        ("./a//b/", "a/b"),
        ("/a/../b", "b"),
        ("a/..", ""),
        ("..", None),
        ("a/../../b", None),
        (".", ""),
        ("/", ""),
    ],
)
def test_clean_rel(path: str, want: str | None) -> None:
    assert clean_rel(path) == want


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c.d"]), max_size=8))
def test_clean_rel_never_escapes(parts: list[str]) -> None:
    out = clean_rel("/".join(parts))
    assert out is None or (".." not in out.split("/") and not out.startswith("/"))


def test_scoped_resolution(tmp_path: Path) -> None:
    (tmp_path / "real/sub").mkdir(parents=True)
    os.symlink("/real", tmp_path / "abs")
    os.symlink("../../../../real/sub", tmp_path / "climb")
    os.symlink("/etc/passwd", tmp_path / "host")
    tree = SourceTree(tmp_path, is_context=False)
    assert tree.resolve("abs/sub") == "real/sub"
    assert tree.resolve("climb") == "real/sub"
    assert tree.resolve("host") == "etc/passwd"  # never the host's
    assert tree.resolve("host", follow_final=False) == "host"
    assert tree.resolve("/../missing/../x/y") == "x/y"


@pytest.mark.parametrize(
    "text,want", [("755", 0o755), ("0644", 0o644), ("4755", 0o4755), ("7", 0o7)]
)
def test_parse_chmod(text: str, want: int) -> None:
    assert parse_chmod(text) == want


@pytest.mark.parametrize("text", ["999", "", "0o755", "12345", "u+q", "z+x", "u+x,", "u+xu"])
def test_parse_chmod_rejects(text: str) -> None:
    with pytest.raises(CopyError, match="invalid --chmod"):
        parse_chmod(text)


# (symbolic, source mode, is_dir, result) as chmod(1) with umask 0 computes them
SYMBOLIC = [
    ("u+x", 0o644, False, 0o744),
    ("go-w", 0o666, False, 0o644),
    ("a=r", 0o755, False, 0o444),
    ("=rw", 0o700, False, 0o666),
    ("u=rwx,go=rx", 0o600, False, 0o755),
    ("a+X", 0o644, False, 0o644),
    ("a+X", 0o744, False, 0o755),
    ("a+X", 0o700, True, 0o711),
    ("u+s", 0o755, False, 0o4755),
    ("g+s", 0o755, True, 0o2755),
    ("+t", 0o777, True, 0o1777),
    ("o=u", 0o750, False, 0o757),
    ("g-rwx,o-rwx", 0o777, False, 0o700),
    ("u-s", 0o4755, False, 0o755),
]


@pytest.mark.parametrize("text,mode,is_dir,want", SYMBOLIC)
def test_symbolic_chmod(text: str, mode: int, is_dir: bool, want: int) -> None:
    sym = parse_chmod(text)
    assert not isinstance(sym, int) and str(sym) == text
    assert oct(sym.apply(mode, is_dir)) == oct(want)


@pytest.mark.parametrize(
    "dest,want",
    [("/a/", True), ("a", False), (".", True), ("", True), ("a/.", True), ("/a", False)],
)
def test_is_dir_dest(dest: str, want: bool) -> None:
    assert is_dir_dest(dest) is want


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n# c\napp:x:1000:1500::/home/app:/bin/sh\n"
    )
    (tmp_path / "etc/group").write_text("root:x:0:\nstaff:x:50:app\n")
    return tmp_path


@pytest.mark.parametrize(
    "spec,want",
    [
        ("app", Owner(1000, 1500)),
        ("app:staff", Owner(1000, 50)),
        ("1000", Owner(1000, 1000)),
        ("1000:50", Owner(1000, 50)),
        ("42:staff", Owner(42, 50)),
        ("root:root", Owner(0, 0)),
    ],
)
def test_resolve_chown(rootfs: Path, spec: str, want: Owner) -> None:
    assert resolve_chown(rootfs, spec) == want


@pytest.mark.parametrize(
    "spec,msg",
    [
        ("nobody", "unable to find user nobody: no matching entries in passwd file"),
        ("app:nogroup", "unable to find group nogroup: no matching entries in group file"),
        ("app:", "invalid --chown"),
        (":x", "invalid --chown"),
    ],
)
def test_resolve_chown_errors(rootfs: Path, spec: str, msg: str) -> None:
    with pytest.raises(ChownError, match=msg):
        resolve_chown(rootfs, spec)


def test_chown_reads_passwd_scoped(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/passwd", tmp_path / "etc/passwd")  # host's file must not be used
    with pytest.raises(ChownError):
        resolve_chown(tmp_path, "root")
    assert resolve_chown(tmp_path, "0") == Owner(0, 0)
    os.unlink(tmp_path / "etc/passwd")
    os.symlink("/shared/passwd", tmp_path / "etc/passwd")  # resolves inside the rootfs
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared/passwd").write_text("svc:x:77:88::/:/bin/false\n")
    assert resolve_chown(tmp_path, "svc") == Owner(77, 88)


@pytest.mark.parametrize(
    "old,new,want",
    [
        ({"a": "1"}, {"a": "2"}, "a changed"),
        (
            {"a": "1", "b": "1", "c": "1"},
            {"a": "2", "b": "2", "c": "2"},
            "3 files changed (a, b, c)",
        ),
        ({"a": "1"}, {"a": "1", "x": "1"}, "new file x"),
        ({"a": "1", "x": "1"}, {"a": "1"}, "x removed"),
        ({"a": "1", "b": "1"}, {"b": "2", "n": "0"}, "b changed, new file n, a removed"),
        (
            {f"f{i}": "1" for i in range(5)},
            {f"f{i}": "2" for i in range(5)},
            "5 files changed (f0, f1, f2, ...)",
        ),
        ({"a": "1"}, {"a": "1"}, ""),
    ],
)
def test_miss_reason(old: dict, new: dict, want: str) -> None:
    assert miss_reason(old, new) == want


def test_entry_hash_ignores_nothing_it_should_not() -> None:
    base = entry_hash("file", 0o644, 0, 0, content="c", dest="x")
    assert base == entry_hash("file", 0o100644, 0, 0, content="c", dest="x")
    for other in (
        entry_hash("file", 0o600, 0, 0, content="c", dest="x"),
        entry_hash("file", 0o644, 1, 0, content="c", dest="x"),
        entry_hash("file", 0o644, 0, 1, content="c", dest="x"),
        entry_hash("file", 0o644, 0, 0, content="d", dest="x"),
        entry_hash("symlink", 0o644, 0, 0, link="c", dest="x"),
        entry_hash("file", 0o644, 0, 0, content="c", dest="y"),
    ):
        assert other != base
    assert SourceHash.of([("a", base)]).digest != SourceHash.of([("b", base)]).digest


ignore_patterns = st.lists(
    st.sampled_from(
        [
            "*.log",
            "!keep.log",
            "build",
            "!build/keep",
            "**/tmp",
            "a/*/c",
            "!a/b",
            "**",
            "!**/*.md",
            "a",
            "a/b/c.log",
            "*/b",
            "!*/b/keep",
            "[ab]*",
            "docs/**/*.txt",
        ]
    ),
    max_size=6,
)
ignore_paths = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            "c",
            "keep.log",
            "x.log",
            "build",
            "keep",
            "tmp",
            "r.md",
            "docs",
            "c.log",
            "y.txt",
        ]
    ),
    min_size=1,
    max_size=5,
).map("/".join)


@given(ignore_patterns, st.lists(ignore_paths, min_size=1, max_size=10))
def test_memoised_ignore_equals_pattern_matcher(patterns: list[str], paths: list[str]) -> None:
    from builder.frontend.dockerignore import PatternMatcher

    tree = SourceTree.with_patterns("/nonexistent", patterns)
    ref = PatternMatcher(patterns)
    for p in paths:  # a shared memo across paths, as in a walk
        assert tree.ignored(p) == ref.matches(p), (patterns, p)
