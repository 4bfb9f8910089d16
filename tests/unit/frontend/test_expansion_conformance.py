"""Word expansion against BuildKit's shell tests (buildkit-shell/): envVarTest (all and
Unix cases), wordsTest and process_word_cases.json, 100%."""

from __future__ import annotations

import json

import pytest

from builder.frontend.expand import ExpansionError, Lexer, expand_word, expand_words
from tests.fixtures.common import conformance_dir

SHELL = conformance_dir() / "buildkit-shell"
ENV_VAR_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_cases() -> list[tuple[str, str]]:
    cases = []
    for raw in (SHELL / "envVarTest").read_text(encoding="utf-8").split("\n"):
        if raw.startswith("#") or not raw.strip():
            continue
        platform, word, expected = (f.strip() for f in raw.strip().split("|"))
        if platform in ("A", "U"):
            cases.append((word, expected))
    return cases


def _words_cases() -> list[tuple[dict, str, list[str]]]:
    env: dict[str, str] = {}
    cases = []
    for raw in (SHELL / "wordsTest").read_text(encoding="utf-8").split("\n"):
        if raw.startswith("#") or not raw:
            continue
        if raw.startswith("ENV "):
            name, _, value = raw[4:].lstrip(" ").partition("=")
            env[name] = value
            continue
        word, expected = raw.split("|")
        cases.append((dict(env), word.strip(), expected.lstrip(" ").split(",")))
    return cases


ENV_VAR_CASES = _env_var_cases()
WORDS_CASES = _words_cases()
PROCESS = json.loads((SHELL / "process_word_cases.json").read_text(encoding="utf-8"))


def test_case_counts() -> None:
    assert len(ENV_VAR_CASES) == 228 and len(WORDS_CASES) == 24


@pytest.mark.parametrize(("word", "expected"), ENV_VAR_CASES)
def test_env_var(word: str, expected: str) -> None:
    if expected == "error":
        with pytest.raises(ExpansionError):
            expand_word(word, ENV_VAR_ENV)
    else:
        assert expand_word(word, ENV_VAR_ENV) == expected


@pytest.mark.parametrize(("env", "word", "expected"), WORDS_CASES)
def test_words(env: dict, word: str, expected: list[str]) -> None:
    try:
        got = expand_words(word, env)
    except ExpansionError:
        got = ["error"]
    assert got == expected


@pytest.mark.parametrize("case", PROCESS["process_word_with_matches"], ids=lambda c: c["input"])
def test_process_word_with_matches(case: dict) -> None:
    if case.get("expected_error"):
        with pytest.raises(ExpansionError):
            Lexer().process(case["input"], case["env"])
        return
    got = Lexer().process(case["input"], case["env"])
    assert got.result == case["expected"]
    assert got.matched == set(case["matched"])
    assert got.unmatched == set(case["unmatched"])


@pytest.mark.parametrize("case", PROCESS["mandatory_env_vars"], ids=lambda c: c["input"])
def test_mandatory_env_vars(case: dict) -> None:
    if case.get("expected_error"):
        with pytest.raises(ExpansionError, match=case["error_contains"]):
            expand_word(case["input"], case["env"])
    else:
        assert expand_word(case["input"], case["env"]) == case["expected"]


@pytest.mark.parametrize("case", PROCESS["platform"], ids=lambda c: c["input"])
def test_platform(case: dict) -> None:
    assert expand_word(case["input"], case["env"]) == case["expected"]


def test_backtick_escape() -> None:
    assert expand_word("a`$b", {"b": "x"}, escape="`") == "a$b"
    assert expand_word("a\\$b", {"b": "x"}, escape="`") == "a\\x"
