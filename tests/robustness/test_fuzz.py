"""Hypothesis fuzzing of the five parsers that read untrusted input:
the Dockerfile parser (and planner), the `.dockerignore` matcher, the image reference
parser (and the store's tags), the tar reader (and unpacker), and the manifest decoders.

Each property is "only the module's own one-line error escapes, and whatever parses
round-trips or behaves consistently". Example counts come from the suite's hypothesis
profile (tests/conftest.py): `ci` runs a quick pass; `HYPOTHESIS_PROFILE=nightly` runs
10,000 examples per test."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from builder.errors import BuildError
from builder.frontend.dockerignore import PatternMatcher
from builder.frontend.plan import make_plan
from builder.frontend.syntax import parse
from registry_client.errors import ManifestError
from registry_client.manifest import parse_manifest
from store.errors import InvalidReference, StoreError
from store.oci import tar as ts
from store.oci.manifest import Index, Manifest
from store.oci.reference import Reference, names_domain
from store.refs import tag_name
from store.unpack import UnpackOptions, unpack_tar
from tests.fixtures.registry_images import make_image

# --- Dockerfiles: structure-aware generation ------------------------------------------
KEYWORDS = [
    "FROM",
    "RUN",
    "COPY",
    "ADD",
    "ENV",
    "ARG",
    "WORKDIR",
    "USER",
    "LABEL",
    "CMD",
    "ENTRYPOINT",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "HEALTHCHECK",
    "ONBUILD",
    "STOPSIGNAL",
    "MAINTAINER",
    "from",
    "Run",
    "BOGUS",
]
FLAGS = [
    "",
    "--from=base ",
    "--chown=1:1 ",
    "--chmod=755 ",
    "--mount=type=cache,target=/c ",
    "--mount=type=secret,id=s ",
    "--network=none ",
    "--platform=$X ",
    "--link ",
    "--parents ",
    "--exclude=*.md ",
    "--interval=1s ",
    "--=",
    "--mount=",
    "--from=",
]
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
ARGS = st.lists(
    st.one_of(
        WORDS,
        st.sampled_from(
            [
                "$A",
                "${A:-x}",
                "${A:?}",
                "${A/%x/y}",
                "\\",
                '["sh","-c"]',
                "[",
                "]",
                "<<EOF",
                "EOF",
                "AS b",
                "a=b",
                '"q"',
                "'s'",
                "*",
                "..",
                "/",
                "x y",
                "\\\n",
                "`",
            ]
        ),
    ),
    max_size=5,
)
LINE = st.tuples(st.sampled_from(KEYWORDS), st.sampled_from(FLAGS), ARGS).map(
    lambda t: f"{t[0]} {t[1]}{' '.join(t[2])}"
)
DIRECTIVES = st.sampled_from(
    ["", "# syntax=docker/dockerfile:1\n", "# escape=`\n", "# check=skip=all\n", "# escape=\\\n"]
)
DOCKERFILE = st.tuples(DIRECTIVES, st.lists(LINE, max_size=12)).map(
    lambda t: t[0] + "FROM busybox AS base\n" + "\n".join(t[1]) + "\n"
)


@given(DOCKERFILE, st.dictionaries(st.sampled_from(["A", "X", "B"]), WORDS, max_size=3))
def test_dockerfile_parser_and_planner(text: str, build_args: dict[str, str]) -> None:
    try:
        parse(text, "Dockerfile")
    except BuildError as e:
        assert "\n" not in str(e).strip()
    try:
        make_plan(text, build_args=build_args)
    except BuildError as e:
        assert "\n" not in str(e).strip() and e.exit_code == 2


# --- .dockerignore ------------------------------------------------------------------------
PATTERN = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "*",
            "**",
            "**/*.go",
            "!keep",
            "a/**/b",
            "[a-",
            "\\",
            "!",
            "/",
            "./x",
            "../y",
            "a/*/c",
            "*.[ch]",
            "?",
            "[!x]",
            "[^x]",
            "#c",
            " ",
            "!**/x",
        ]
    ),
)
PATH = st.lists(
    st.sampled_from(["a", "b", "c", "x.go", "keep", ".git", "é", "*", "[", "d.md"]),
    min_size=1,
    max_size=5,
).map("/".join)


@given(st.lists(PATTERN, max_size=8), PATH)
def test_dockerignore_matcher(patterns: list[str], path: str) -> None:
    try:
        m = PatternMatcher(patterns)
    except BuildError as e:
        assert "\n" not in str(e).strip()
        return
    try:
        first = m.matches(path)
    except BuildError:
        return
    assert m.matches(path) == first  # deterministic
    assert PatternMatcher([*patterns, "**"]).matches(path) is True
    if not any(c in path for c in "*?[\\"):  # a plain path is a valid pattern for itself
        assert PatternMatcher([*patterns, "**", f"!{path}"]).matches(path) is False


# --- references ------------------------------------------------------------------------
REF_PIECES = st.sampled_from(
    [
        "docker.io/",
        "localhost:5000/",
        "127.0.0.1:1/",
        "library/",
        "a",
        "b-c",
        "x_y",
        "..",
        ":",
        ":tag",
        "@sha256:",
        "0" * 64,
        "A",
        "/",
        "[::1]:5000/",
        "__",
        "-",
        ".",
        "é",
        "@",
        "sha512:",
        "1" * 128,
    ]
)
REF = st.one_of(st.text(max_size=80), st.lists(REF_PIECES, max_size=8).map("".join))


@given(REF)
def test_reference_parser(text: str) -> None:
    try:
        ref = Reference.parse(text)
    except InvalidReference as e:
        assert "\n" not in str(e).strip()
    else:
        assert Reference.parse(str(ref)) == ref
        # Docker's familiar form of a Hub repository `docker.io/a` reads as a host:
        # only an unambiguous one round-trips (and is a tag that names itself).
        if ref.domain != "docker.io" or not names_domain(ref.familiar()):
            assert Reference.parse(ref.familiar()) == ref
            if ref.digest is None:
                assert tag_name(text) == tag_name(ref.familiar()) == ref.familiar()
    try:
        tag_name(text)
    except InvalidReference as e:
        assert "\n" not in str(e).strip()


# --- tar reader and unpacker ----------------------------------------------------------------
def _seed() -> bytes:
    e = [
        ts.header("d", ts.DIR, mode=0o755),
        ts.header("d/f", ts.REG, size=5, mode=0o644) + b"hello" + ts.padding(5),
        ts.header("d/l", ts.SYM, mode=0o777, linkname="f"),
        ts.header("d/h", ts.LNK, mode=0o644, linkname="d/f"),
        ts.header("d/.wh.gone", ts.REG, mode=0o644),
    ]
    return b"".join(e) + ts.END_OF_ARCHIVE


SEED = _seed()
EDITS = st.lists(
    st.tuples(st.integers(0, len(SEED)), st.integers(0, 16), st.binary(max_size=16)), max_size=6
)


@given(st.one_of(EDITS.map(lambda edits: _apply(SEED, edits)), st.binary(max_size=3000)))
def test_tar_reader_and_unpacker(data: bytes) -> None:
    for mode in ("stream", "scan"):
        reader = ts.TarReader(io.BytesIO(data))
        try:
            for entry in reader.scan() if mode == "scan" else reader:
                del entry
        except StoreError as e:
            assert "\n" not in str(e).strip()
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        (base / "root").mkdir()
        (base / "outside").mkdir()
        try:
            unpack_tar(io.BytesIO(data), base / "root", UnpackOptions(max_bytes=1 << 20))
        except StoreError as e:
            assert "\n" not in str(e).strip()
        assert list((base / "outside").iterdir()) == []


def _apply(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for pos, cut, piece in edits:
        pos %= len(data) + 1
        data = data[:pos] + piece + data[pos + cut :]
    return data


# --- manifests -------------------------------------------------------------------------------
VALID = json.loads(make_image([{"f": b"x"}]).manifest.data)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "manifests",
        "subject",
        "digest",
        "size",
        "annotations",
        "platform",
        "urls",
    ]
)


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    obj = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(0, 4))):
        target = obj
        path = draw(st.lists(KEYS, min_size=1, max_size=3))
        for k in path[:-1]:
            nxt = target.get(k) if isinstance(target, dict) else None
            if isinstance(nxt, list) and nxt:
                nxt = nxt[0]
            if not isinstance(nxt, dict):
                break
            target = nxt
        if isinstance(target, dict):
            target[path[-1]] = draw(JSONISH)
    return json.dumps(obj).encode()


CTYPES = st.sampled_from(
    [
        "",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "text/html",
    ]
)


@given(
    st.one_of(manifests(), st.binary(max_size=400), JSONISH.map(lambda o: json.dumps(o).encode())),
    CTYPES,
)
def test_manifest_decoders(data: bytes, ctype: str) -> None:
    try:
        parsed = parse_manifest(data, ctype)
    except ManifestError as e:
        assert "\n" not in str(e).strip()
    else:
        assert parsed.media_type
        for d in parsed.blobs():
            assert d.digest.algorithm and d.size >= 0
    try:
        obj = json.loads(data)
    except ValueError:
        return
    for cls in (Manifest, Index):
        try:
            cls.from_json(obj)
        except StoreError as e:
            assert "\n" not in str(e).strip()
