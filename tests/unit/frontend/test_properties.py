"""Property tests (hypothesis, profile from tests/conftest.py): arbitrary text and
mutations of the corpus Dockerfiles never raise anything but pybuild's own errors, and
`dump(parse(x))` is stable: parsing the same text twice gives the same dump, and the
dump does not depend on the file name or on a trailing newline after the last line."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from builder.errors import BuildError
from builder.frontend.dockerignore import PatternMatcher, read_ignore_file
from builder.frontend.dump import dump
from builder.frontend.expand import expand_word, expand_words
from builder.frontend.plan import make_plan
from builder.frontend.syntax import parse
from tests.fixtures.common import conformance_dir

CORPUS = [
    p.read_text(encoding="utf-8")
    for p in sorted((conformance_dir() / "buildkit-parser" / "testfiles").glob("*/Dockerfile"))
]
PIECES = [
    "\\\n",
    "`\n",
    "\n",
    "#",
    " ",
    "\t",
    "<<EOF",
    "\nEOF\n",
    "<<-'X'",
    "[",
    "]",
    '"',
    "'",
    "${",
    "}",
    "$A",
    "--mount=type=cache,target=/x ",
    "--from=0 ",
    "FROM ",
    "RUN ",
    "COPY ",
    "ONBUILD ",
    "ENV ",
    "ARG ",
    "# escape=`\n",
    "AS ",
    "\x00",
    "é",
    '=""',
    "\r\n",
]

text_st = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
mutation_st = st.tuples(
    st.sampled_from(range(len(CORPUS))),
    st.lists(
        st.tuples(st.integers(0, 4000), st.integers(0, 20), st.sampled_from(PIECES)), max_size=6
    ),
)


def _mutate(case: tuple[int, list]) -> str:
    text = CORPUS[case[0]]
    for pos, cut, piece in case[1]:
        pos %= len(text) + 1
        text = text[:pos] + piece + text[pos + cut :]
    return text


def _check(text: str) -> None:
    try:
        first = dump(parse(text, "a/Dockerfile"))
    except BuildError as e:
        assert "\n" not in str(e)
    else:
        assert dump(parse(text, "other")) == first
        if not text.endswith(("\\", "`", "\n")) and "<<" not in text:
            assert dump(parse(text + "\n")) == first
    try:
        make_plan(text, build_args={"A": "1"})
    except BuildError as e:
        assert "\n" not in str(e) and e.exit_code == 2


@given(text_st)
def test_arbitrary_text_only_raises_build_errors(text: str) -> None:
    _check(text)


@given(mutation_st)
def test_corpus_mutations_only_raise_build_errors(case: tuple[int, list]) -> None:
    _check(_mutate(case))


@given(
    st.text(max_size=60), st.dictionaries(st.sampled_from(["A", "B", "PWD"]), st.text(max_size=5))
)
def test_expansion_only_raises_expansion_errors(word: str, env: dict[str, str]) -> None:
    try:
        single = expand_word(word, env)
        words = expand_words(word, env)
    except BuildError:
        return
    assert isinstance(single, str) and all(isinstance(w, str) and w for w in words)


@given(st.lists(st.text(max_size=20), max_size=5), st.text(max_size=30))
def test_dockerignore_only_raises_its_errors(patterns: list[str], path: str) -> None:
    try:
        PatternMatcher(read_ignore_file("\n".join(patterns))).matches(path)
    except BuildError:
        pass


def test_corpus_is_loaded() -> None:
    assert len(CORPUS) == 33 and all(isinstance(t, str) for t in CORPUS)
    assert Path(__file__).name == "test_properties.py"
