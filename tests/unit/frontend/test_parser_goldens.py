"""BuildKit's parser conformance data (buildkit-parser/): every positive case dumps to
exactly its `result`, every negative case fails with one clear error, and the heredoc,
JSON, word-split and line-number tables hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.errors import DockerfileError
from builder.frontend.dump import dump
from builder.frontend.lineparsers import parse_json_array, parse_words
from builder.frontend.syntax import chomp, heredocs_from_line, parse, parse_heredoc
from tests.fixtures.common import conformance_dir

PARSER = conformance_dir() / "buildkit-parser"
POSITIVE = sorted(p.parent.name for p in (PARSER / "testfiles").glob("*/result"))
NEGATIVE = sorted(p.parent.name for p in (PARSER / "testfiles-negative").glob("*/Dockerfile"))
TABLES = json.loads((PARSER / "go-tables.json").read_text())
HELPERS = json.loads((PARSER / "heredoc" / "helpers.json").read_text())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def test_corpus_counts() -> None:
    assert len(POSITIVE) == 33 and len(NEGATIVE) == 4


@pytest.mark.parametrize("case", POSITIVE)
def test_positive_case_dumps_to_result(case: str) -> None:
    folder = PARSER / "testfiles" / case
    assert dump(parse(_read(folder / "Dockerfile"))) == _read(folder / "result")


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case_fails(case: str) -> None:
    with pytest.raises(DockerfileError) as err:
        parse(_read(PARSER / "testfiles-negative" / case / "Dockerfile"), "Dockerfile")
    text = str(err.value)
    assert text.startswith("Dockerfile:") and "\n" not in text


def test_line_numbers() -> None:
    t = TABLES["testfile_line"]
    df = parse(_read(PARSER / t["file"]))
    assert len(df.nodes) == t["children"]
    assert [[n.span.line, n.span.end_line] for n in df.nodes] == t["child_lines"]
    assert df.nodes[0].span.line == t["root_start_line"]
    assert df.nodes[-1].span.end_line == t["root_end_line"]


@pytest.mark.parametrize("case", TABLES["json_array_valid"], ids=lambda c: c["input"])
def test_json_array_valid(case: dict) -> None:
    assert parse_json_array(case["input"]) == case["expected"]


@pytest.mark.parametrize("text", TABLES["json_array_invalid_not_string_array"])
def test_json_array_not_string_array(text: str) -> None:
    with pytest.raises(ValueError, match="arrays must be comprised of strings only"):
        parse_json_array(text)
    with pytest.raises(DockerfileError, match="comprised of strings only"):
        parse(f"FROM a\nCMD {text}\n")


@pytest.mark.parametrize("case", TABLES["parse_words"], ids=lambda c: c["input"])
def test_parse_words(case: dict) -> None:
    assert parse_words(case["input"]) == case["expected"]


def _heredoc_json(h) -> dict:
    return {
        "Name": h.name,
        "FileDescriptor": h.fd,
        "Expand": h.expand,
        "Chomp": h.chomp,
        "Content": h.content,
    }


def test_heredoc_extracts() -> None:
    df = parse(_read(PARSER / "heredoc" / "extracts" / "Dockerfile"))
    for case in json.loads(_read(PARSER / "heredoc" / "extracts" / "expected.json")):
        node = df.nodes[case["child_index"]]
        got = [_heredoc_json(h) for h in node.heredocs] or None
        assert got == case["heredocs"], case["go_comment"]


def test_heredoc_json_form() -> None:
    df = parse(_read(PARSER / "heredoc" / "json-form" / "Dockerfile"))
    for case in json.loads(_read(PARSER / "heredoc" / "json-form" / "expected.json")):
        node = df.nodes[case["child_index"]]
        assert ([_heredoc_json(h) for h in node.heredocs] or None) == case["heredocs"]


def test_heredoc_helpers() -> None:
    for case in HELPERS["chomp"]:
        assert chomp(case["input"]) == case["expected"]
    words = HELPERS["parse_heredoc_word"]
    for word in words["valid_name_EOF"]:
        h = parse_heredoc(word)
        assert h is not None and h.name == "EOF", word
    for word in words["invalid_error"]:
        with pytest.raises(DockerfileError):
            parse_heredoc(word)
    for word in words["not_a_heredoc"]:
        assert parse_heredoc(word) is None, word
    for case in HELPERS["heredocs_from_line"]:
        names = [h.name for h in heredocs_from_line(case["line"])] or None
        assert names == case["heredoc_names"], case["line"]
