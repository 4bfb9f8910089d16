"""Reference parsing and normalisation, as docker does it, validated with the
distribution-spec regexps; round trips are property-tested."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_client.errors import InvalidReference
from registry_client.reference import Reference
from store.refs import tag_name

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "text,registry,repo,tag,digest",
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("library/busybox", "docker.io", "library/busybox", "latest", None),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
        ("index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", None),
        ("registry-1.docker.io/foo/bar:x", "docker.io", "foo/bar", "x", None),
        ("foo/bar", "docker.io", "foo/bar", "latest", None),
        ("ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app:1", "localhost:5000", "app", "1", None),
        ("127.0.0.1:5000/a/b/c:tag", "127.0.0.1:5000", "a/b/c", "tag", None),
        ("[::1]:5000/app:2", "[::1]:5000", "app", "2", None),
        ("Registry.Example/app", "Registry.Example", "app", "latest", None),
        (f"busybox@{D}", "docker.io", "library/busybox", "", D),
        (f"busybox:1@{D}", "docker.io", "library/busybox", "1", D),
        (f"127.0.0.1:5000/x@{D}", "127.0.0.1:5000", "x", "", D),
        ("ab-c__d/e_f.g--h:T_a.g-1", "docker.io", "ab-c__d/e_f.g--h", "T_a.g-1", None),
    ],
)
def test_parse_cases(text, registry, repo, tag, digest):
    r = Reference.parse(text)
    assert (r.registry, r.repository, r.tag) == (registry, repo, tag)
    assert (str(r.digest) if r.digest else None) == digest
    assert Reference.parse(str(r)) == r


@pytest.mark.parametrize(
    "text",
    [
        "",
        "case/UPPER",
        "UPPER",
        "busybox:",
        "busybox:-bad",
        "a//b",
        "a/",
        "/a",
        "-a/b",
        "busybox@sha256:123",
        "busybox@md5:" + "a" * 32,
        "a:" + "t" * 129,
        "host:port:bad/x",
        "bad_host_/a",
        "a..b",
        "a__-b",
    ],
)
def test_parse_rejects(text):
    with pytest.raises(InvalidReference) as ei:
        Reference.parse(text)
    assert ei.value.exit_code == 2 and "\n" not in str(ei.value)


def test_docker_hub_api_host_and_familiar():
    r = Reference.parse("busybox")
    assert str(r) == "docker.io/library/busybox:latest"
    assert r.api_host == "registry-1.docker.io"
    assert r.familiar() == "busybox:latest"
    assert Reference.parse("127.0.0.1:5000/a:1").api_host == "127.0.0.1:5000"
    assert Reference.parse("foo/bar:1").familiar() == "foo/bar:1"
    assert Reference.parse("library/a/b").familiar() == "library/a/b:latest"
    assert r.scope("pull,push") == "repository:library/busybox:pull,push"


def _spec_regex(conformance, what: str) -> re.Pattern[str]:
    for line in (conformance / "distribution-spec" / "regexps.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, rx = line.partition("\t")
            if key == what:
                return re.compile(rx)
    raise AssertionError(what)


_COMPONENT = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}\Z")
_TAG = st.from_regex(r"\A[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}\Z")
_HOST = st.sampled_from(
    [
        "",
        "docker.io/",
        "localhost/",
        "localhost:5000/",
        "127.0.0.1:5000/",
        "ghcr.io/",
        "a.b.c:443/",
        "[::1]:80/",
    ]
)


@given(
    host=_HOST,
    path=st.lists(_COMPONENT, min_size=1, max_size=3),
    tag=st.one_of(st.none(), _TAG),
    digest=st.one_of(st.none(), st.binary(min_size=32, max_size=32).map(bytes.hex)),
)
def test_round_trip_and_familiar_matches_store(host, path, tag, digest):
    if host in ("", "docker.io/"):
        # A dotted first part would be read as a host (docker's familiar form has the
        # same ambiguity), so keep Docker Hub names undotted there.
        path = [path[0].replace(".", "-")] + path[1:]
    text = (
        host + "/".join(path) + (f":{tag}" if tag else "") + (f"@sha256:{digest}" if digest else "")
    )
    r = Reference.parse(text)
    assert Reference.parse(str(r)) == r
    assert Reference.parse(r.familiar()) == r
    if digest is None:
        assert r.familiar() == tag_name(text)


@given(path=st.lists(_COMPONENT, min_size=1, max_size=3), tag=_TAG)
def test_spec_regexps_agree(conformance, path, tag):
    name_rx, tag_rx = _spec_regex(conformance, "name"), _spec_regex(conformance, "tag")
    r = Reference.parse("127.0.0.1:5000/" + "/".join(path) + ":" + tag)
    assert name_rx.fullmatch(r.repository) and tag_rx.fullmatch(r.tag)


@given(st.text(max_size=40))
def test_parse_never_crashes(text):
    try:
        r = Reference.parse(text)
    except InvalidReference:
        return
    assert Reference.parse(str(r)) == r


def test_regexps_are_the_specs(conformance):
    from registry_client.reference import NAME_RE, TAG_RE

    assert NAME_RE.pattern == _spec_regex(conformance, "name").pattern
    assert TAG_RE.pattern == _spec_regex(conformance, "tag").pattern
