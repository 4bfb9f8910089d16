"""`.dockerignore` against moby/patternmatcher's tests (dockerignore/): cases.tsv,
multi_cases.json and readall.json, 100%; plus the pruning helper and file lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.frontend.dockerignore import (
    DockerignoreError,
    PatternMatcher,
    find_ignore_file,
    read_ignore_file,
)
from tests.fixtures.common import conformance_dir

IGNORE = conformance_dir() / "dockerignore"


def _cases() -> list[tuple[str, str, str]]:
    rows = (IGNORE / "cases.tsv").read_text(encoding="utf-8").split("\n")[1:]
    return [tuple(r.split("\t")) for r in rows if r]


CASES = _cases()


def test_case_count() -> None:
    assert len(CASES) == 128


@pytest.mark.parametrize(("pattern", "path", "expected"), CASES)
def test_single_pattern(pattern: str, path: str, expected: str) -> None:
    if expected == "error":
        with pytest.raises(DockerignoreError):
            PatternMatcher([pattern]).matches(path)
    else:
        assert PatternMatcher([pattern]).matches(path) is (expected == "true")


@pytest.mark.parametrize(
    "case",
    json.loads((IGNORE / "multi_cases.json").read_text()),
    ids=lambda c: " ".join(c["patterns"]) + " ~ " + c["path"],
)
def test_multi_patterns(case: dict) -> None:
    assert PatternMatcher(case["patterns"]).matches(case["path"]) is case["expected_match"]


@pytest.mark.parametrize(
    "case", json.loads((IGNORE / "readall.json").read_text()), ids=lambda c: c["description"]
)
def test_read_all(case: dict) -> None:
    assert read_ignore_file(case["input"]) == case["expected"]


def test_bom_and_crlf() -> None:
    assert read_ignore_file("\ufeffa\r\n./b/\r\n#c\n /d \n") == ["a", "b", "d"]


def test_could_reinclude_below() -> None:
    pm = PatternMatcher(["node_modules", "build", "!build/keep/*.txt"])
    assert pm.matches("node_modules/x/y.js") and pm.matches("build/out.o")
    assert not pm.matches("build/keep/a.txt")
    assert not pm.could_reinclude_below("node_modules")
    assert pm.could_reinclude_below("build")
    assert pm.could_reinclude_below("build/keep")
    assert not pm.could_reinclude_below("build/other")
    assert PatternMatcher(["*", "!**/*.go"]).could_reinclude_below("a/b/c")


def test_find_ignore_file_prefers_dockerfile_specific(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    assert find_ignore_file(ctx, ctx / "Dockerfile") is None
    (ctx / ".dockerignore").write_text("a\n")
    assert find_ignore_file(ctx, ctx / "Dockerfile") == ctx / ".dockerignore"
    (ctx / "app.Dockerfile.dockerignore").write_text("b\n")
    assert find_ignore_file(ctx, ctx / "app.Dockerfile") == ctx / "app.Dockerfile.dockerignore"
    assert find_ignore_file(ctx, ctx / "Dockerfile") == ctx / ".dockerignore"
