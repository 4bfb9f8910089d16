"""store/oci/reference.py: references parsed and normalised as Docker's
distribution/reference does (ParseNormalizedNamed, regexp.go), checked against the
distribution-spec regexps; round trips are property-tested."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import InvalidReference
from store.oci.digest import Digest
from store.oci.reference import NAME_RE, TAG_RE, Reference, names_domain

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "text,domain,repo,tag,digest",
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("library/busybox", "docker.io", "library/busybox", "latest", None),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
        ("index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", None),
        ("foo/bar", "docker.io", "foo/bar", "latest", None),
        ("ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app:1", "localhost:5000", "app", "1", None),
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),
        ("127.0.0.1:5000/a/b/c:tag", "127.0.0.1:5000", "a/b/c", "tag", None),
        ("[::1]:5000/app:2", "[::1]:5000", "app", "2", None),
        ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", None),
        ("Registry.Example/app", "Registry.Example", "app", "latest", None),
        ("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None),
        ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None),
        (f"busybox@{D}", "docker.io", "library/busybox", "", D),
        (f"busybox:1@{D}", "docker.io", "library/busybox", "1", D),
        (f"127.0.0.1:5000/x@{D}", "127.0.0.1:5000", "x", "", D),
        ("ab-c__d/e_f.g--h:T_a.g-1", "docker.io", "ab-c__d/e_f.g--h", "T_a.g-1", None),
    ],
)
def test_parse_cases(text, domain, repo, tag, digest):
    r = Reference.parse(text)
    assert (r.domain, r.repository, r.tag) == (domain, repo, tag)
    assert (str(r.digest) if r.digest else None) == digest
    assert Reference.parse(str(r)) == r
    assert Reference.parse(r.familiar()) == r


@pytest.mark.parametrize(
    "text",
    [
        "",
        "case/UPPER",
        "UPPER",
        "busybox:",
        "busybox:-bad",
        "busybox@",
        "a//b",
        "a/",
        "/a",
        "-a/b",
        "a b",
        ":justtag",
        "@" + D,
        "busybox@sha256:123",
        "busybox@sha256:" + "A" * 64,
        "busybox@md5:" + "a" * 32,
        "a:" + "t" * 129,
        "host:port:bad/x",
        "bad_host_/a",
        "bad_host:5000:x/y:1",
        "a..b",
        "a__-b",
        "aa/asdf$$^/aa",
        "[fe80::1%eth0]:5000/repo",
        "[2001:db8::1]:5000",
    ],
)
def test_parse_rejects(text):
    with pytest.raises(InvalidReference) as ei:
        Reference.parse(text)
    assert ei.value.exit_code == 2 and "\n" not in str(ei.value)


# --- the cases where the store's and the registry client's parsers disagreed --------


@pytest.mark.parametrize("text", ["busybox:ü", "app:1é", "app:٣"])
def test_a_tag_is_ascii(text):
    """Go's `\\w` in regexp.go's tag is ASCII; the store's Python `\\w` let Unicode in."""
    with pytest.raises(InvalidReference, match="invalid tag"):
        Reference.parse(text)


def test_upper_case_first_component_is_a_domain():
    """splitDockerDomain: an upper-case first component is a host, so `Foo/bar` names
    the registry `Foo` (the store read it as a Docker Hub name and refused it)."""
    r = Reference.parse("Foo/bar")
    assert (r.domain, r.repository, r.tag) == ("Foo", "bar", "latest")
    assert r.familiar() == "Foo/bar:latest" and names_domain("Foo/bar")


@pytest.mark.parametrize(
    "text", ["localhost:5000/Foo", "UPPER/Case", "Bad:Name", "ghcr.io/Org/app", "foo/Bar:1"]
)
def test_upper_case_repository_is_refused(text):
    with pytest.raises(InvalidReference) as ei:
        Reference.parse(text)
    assert str(ei.value) == f"invalid reference {text!r}: repository name must be lowercase"


def test_only_index_docker_io_is_docker_hub():
    """Docker reads `index.docker.io` as `docker.io` and no other host; the registry
    client also folded `registry-1.docker.io` into it."""
    assert Reference.parse("index.docker.io/foo/bar:x").domain == "docker.io"
    r = Reference.parse("registry-1.docker.io/foo/bar:x")
    assert (r.domain, r.familiar()) == ("registry-1.docker.io", "registry-1.docker.io/foo/bar:x")


def test_the_length_limit_is_on_the_repository_alone():
    """RepositoryNameTotalLengthMax (255) bounds the path without the domain: the store
    counted the domain, the registry client skipped the check on Docker Hub."""
    assert Reference.parse("example.com/" + "a" * 255).repository == "a" * 255
    assert Reference.parse("a" * 247).repository == "library/" + "a" * 247
    for text in ("example.com/" + "a" * 256, "a" * 248, "x/" + "a" * 254):
        with pytest.raises(InvalidReference, match="not be more than 255 characters"):
            Reference.parse(text)


def test_a_digest_must_be_one_docker_can_verify():
    """go-digest refuses algorithms it has no hash for; the store took any."""
    with pytest.raises(InvalidReference, match="unsupported digest algorithm 'md5'"):
        Reference.parse("app@md5:" + "a" * 32)


def test_a_64_hex_name_is_refused():
    """ParseNormalizedNamed: a bare 64-hex string is an image ID, never a name."""
    with pytest.raises(InvalidReference, match="64-byte hexadecimal"):
        Reference.parse("0123456789abcdef" * 4)
    assert Reference.parse("0123456789abcdef" * 4 + "0").repository.startswith("library/")


@pytest.mark.parametrize("text", [" busybox", "busybox ", "busybox\n"])
def test_no_whitespace_is_stripped(text):
    with pytest.raises(InvalidReference):
        Reference.parse(text)


def test_an_ipv6_host_is_hex_and_colons():
    """regexp.go's ipv6address has no dots (no IPv4-mapped forms), no zone."""
    with pytest.raises(InvalidReference, match="invalid registry host"):
        Reference.parse("[::ffff:1.2.3.4]:5000/app")


# --- views and construction ----------------------------------------------------------


def test_names_and_familiar_forms():
    r = Reference.parse("busybox")
    assert str(r) == "docker.io/library/busybox:latest"
    assert r.name == "docker.io/library/busybox" and r.familiar_name == "busybox"
    assert r.familiar() == "busybox:latest"
    assert Reference.parse("foo/bar:1").familiar() == "foo/bar:1"
    assert Reference.parse("library/a/b").familiar() == "library/a/b:latest"
    assert Reference.parse("docker.io/library/a:1").familiar() == "a:1"
    assert Reference.parse("127.0.0.1:5000/a/b:1").familiar() == "127.0.0.1:5000/a/b:1"
    assert Reference.parse(f"app:1@{D}").familiar() == f"app:1@{D}"


def test_a_dotted_hub_namespace_is_ambiguous_in_familiar_form():
    """As in Docker: the Hub repository `docker.io/a` prints as `docker.io/a`, which
    reads back as the official image `a`; only the full form round-trips."""
    r = Reference.parse("docker.io/docker.io/a")
    assert (r.domain, r.repository, r.familiar()) == (
        "docker.io",
        "docker.io/a",
        "docker.io/a:latest",
    )
    assert Reference.parse(str(r)) == r != Reference.parse(r.familiar())


def test_with_tag_and_with_digest():
    d = Digest.parse(D)
    r = Reference.parse("ghcr.io/org/app:v1")
    assert str(r.with_digest(d)) == f"ghcr.io/org/app:v1@{D}"
    assert r.with_digest(d).with_tag("v2") == Reference("ghcr.io", "org/app", "v2")
    for bad in ("", "-x", "é", "t" * 129):
        with pytest.raises(InvalidReference, match="invalid tag"):
            r.with_tag(bad)


@pytest.mark.parametrize(
    "fields",
    [
        ("docker.io", "busybox", "latest"),  # not normalised: library/busybox
        ("index.docker.io", "library/busybox", "latest"),
        ("ghcr.io", "org/app", ""),  # neither tag nor digest
        ("ghcr.io", "Org/app", "1"),
        ("bad_host", "app", "1"),
        ("ghcr.io", "app", "-1"),
    ],
)
def test_fields_must_be_valid_and_normalised(fields):
    with pytest.raises(InvalidReference):
        Reference(*fields)


def test_names_domain():
    assert names_domain("localhost/x") and names_domain("docker.io/library/x")
    assert names_domain("a:5000/x") and names_domain("Upper/x")
    assert not names_domain("localhost") and not names_domain("foo/bar")
    assert not names_domain("ghcr.io")


# --- properties ------------------------------------------------------------------------


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
        "index.docker.io/",
        "localhost/",
        "localhost:5000/",
        "127.0.0.1:5000/",
        "ghcr.io/",
        "a.b.c:443/",
        "[::1]:80/",
        "Upper/",
    ]
)


@given(
    host=_HOST,
    path=st.lists(_COMPONENT, min_size=1, max_size=3),
    tag=st.one_of(st.none(), _TAG),
    digest=st.one_of(st.none(), st.binary(min_size=32, max_size=32).map(bytes.hex)),
)
def test_round_trip_and_familiar(host, path, tag, digest):
    if host in ("", "docker.io/", "index.docker.io/"):
        # A dotted first part would be read as a host (Docker's familiar form has the
        # same ambiguity), so keep Docker Hub names undotted there.
        path = [path[0].replace(".", "-")] + path[1:]
    text = (
        host + "/".join(path) + (f":{tag}" if tag else "") + (f"@sha256:{digest}" if digest else "")
    )
    r = Reference.parse(text)
    assert Reference.parse(str(r)) == r
    assert Reference.parse(r.familiar()) == r
    assert r.tag == (tag or ("" if digest else "latest"))
    assert str(r).startswith(r.domain + "/") and not r.familiar().startswith("docker.io/")


@given(path=st.lists(_COMPONENT, min_size=1, max_size=3), tag=_TAG)
def test_spec_regexps_agree(conformance, path, tag):
    name_rx, tag_rx = _spec_regex(conformance, "name"), _spec_regex(conformance, "tag")
    r = Reference.parse("127.0.0.1:5000/" + "/".join(path) + ":" + tag)
    assert name_rx.fullmatch(r.repository) and tag_rx.fullmatch(r.tag)


@given(st.text(max_size=40))
def test_parse_never_crashes(text):
    try:
        r = Reference.parse(text)
    except InvalidReference as e:
        assert "\n" not in str(e)
        return
    assert Reference.parse(str(r)) == r


def test_regexps_are_the_specs(conformance):
    assert NAME_RE.pattern == _spec_regex(conformance, "name").pattern
    assert TAG_RE.pattern == _spec_regex(conformance, "tag").pattern
