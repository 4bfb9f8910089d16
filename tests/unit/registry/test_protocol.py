"""Pure pieces of the protocol: WWW-Authenticate parsing, Retry-After, error lines,
manifest parsing and platform selection, scheme choice, credentials files."""

from __future__ import annotations

import base64
import json
import time
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_client.auth import parse_challenges
from registry_client.credentials import (
    Credentials,
    erase_credentials,
    get_credentials,
    store_credentials,
)
from registry_client.errors import SPEC_CODES, ManifestError, RegistryError
from registry_client.manifest import ACCEPT, parse_manifest, select_platform
from registry_client.retry import Backoff, parse_retry_after, restarts_upload, transient
from registry_client.transport import Transport, TransportOptions, is_loopback
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from store.oci.platform import Platform


def test_bearer_challenge():
    (c,) = parse_challenges(
        'Bearer realm="https://auth.docker.io/token",'
        'service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:samalba/my-app:pull,push",
    }
    assert c.scopes == ("repository:samalba/my-app:pull,push",)


def test_basic_and_multiple_challenges():
    cs = parse_challenges(
        'Basic realm="Registry Realm", Bearer realm="https://x/t", '
        'service=reg, error="insufficient_scope"'
    )
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[0].params == {"realm": "Registry Realm"}
    assert cs[1].params["service"] == "reg" and cs[1].params["error"] == "insufficient_scope"
    (q,) = parse_challenges(r'Bearer realm="a \"quoted\" realm"')
    assert q.params["realm"] == 'a "quoted" realm'


@given(st.text(max_size=80))
def test_challenge_parser_never_crashes(text):
    for c in parse_challenges(text):
        assert c.scheme == c.scheme.lower()


def test_one_retry_policy_for_requests_and_uploads():
    for status in (None, 408, 429, 500, 502, 503, 504):
        assert transient(status) and restarts_upload(status)
    assert restarts_upload(416) and not transient(416)  # the session lost its offset
    for status in (400, 401, 403, 404, 501, 505, 507):
        assert not transient(status) and not restarts_upload(status)
    b = Backoff(base=1.0, cap=4.0)
    assert all(0.5 <= b.delay(0) <= 1.5 for _ in range(50))
    assert b.delay(10) == 4.0 and b.delay(0, retry_after="30") == 12.0


def test_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 31


@pytest.mark.parametrize(
    "status,codes,line",
    [
        (
            401,
            ("UNAUTHORIZED",),
            "push 127.0.0.1:5000/app:1: 401 UNAUTHORIZED (authentication required)",
        ),
        (
            403,
            ("DENIED",),
            "push 127.0.0.1:5000/app:1: 403 DENIED (requested access to the resource is denied)",
        ),
        (
            404,
            ("MANIFEST_UNKNOWN",),
            "push 127.0.0.1:5000/app:1: 404 MANIFEST_UNKNOWN (manifest unknown to registry)",
        ),
        (
            404,
            ("NAME_UNKNOWN",),
            "push 127.0.0.1:5000/app:1: 404 NAME_UNKNOWN (repository name not known to registry)",
        ),
        (
            404,
            ("BLOB_UNKNOWN",),
            "push 127.0.0.1:5000/app:1: 404 BLOB_UNKNOWN (blob unknown to registry)",
        ),
        (
            400,
            ("MANIFEST_INVALID",),
            "push 127.0.0.1:5000/app:1: 400 MANIFEST_INVALID (manifest invalid)",
        ),
        (
            429,
            ("TOOMANYREQUESTS",),
            "push 127.0.0.1:5000/app:1: 429 TOOMANYREQUESTS (too many requests)",
        ),
    ],
)
def test_error_lines(status, codes, line):
    e = RegistryError(
        "PUT http://127.0.0.1:5000/v2/app/manifests/1",
        status=status,
        codes=codes,
        method="PUT",
        url="http://127.0.0.1:5000/v2/app/manifests/1",
        detail=SPEC_CODES[codes[0]],
    )
    told = e.in_context("push 127.0.0.1:5000/app:1")
    assert str(told) == line
    assert (told.status, told.codes, told.method) == (status, codes, "PUT")
    assert told.url.endswith("/manifests/1") and told.exit_code == 1


def test_spec_error_codes_table(conformance):
    rows = [
        ln.split("\t")
        for ln in (conformance / "distribution-spec" / "error-codes.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert {r[1]: r[2] for r in rows} == SPEC_CODES


def _desc(mt: str, data: bytes, platform: Platform | None = None) -> dict:
    return Descriptor(mt, Digest.of_bytes(data), len(data), platform=platform).to_json()


def test_accept_list_and_manifest_parsing():
    for mt in (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST):
        assert mt in ACCEPT
    m = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": _desc("application/vnd.docker.container.image.v1+json", b"c"),
        "layers": [_desc("application/vnd.docker.image.rootfs.diff.tar.gzip", b"l")],
    }
    p = parse_manifest(json.dumps(m).encode())
    assert not p.is_index and [d.digest for d in p.blobs()] == [
        Digest.of_bytes(b"c"),
        Digest.of_bytes(b"l"),
    ]
    # mediaType may be absent in OCI: the Content-Type or the shape decides.
    del m["mediaType"]
    assert parse_manifest(json.dumps(m).encode(), OCI_MANIFEST).media_type == OCI_MANIFEST


@pytest.mark.parametrize(
    "body,ctype,match",
    [
        (b'{"schemaVersion":1,"fsLayers":[]}', "", "schema1"),
        (b"{}", "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema1"),
        (b"not json", "", "not JSON"),
        (b"[]", "", "not a JSON object"),
        (b'{"schemaVersion":2,"mediaType":"text/plain"}', "", "unsupported manifest media type"),
        (
            b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'"}',
            "",
            "MANIFEST_INVALID",
        ),
        (b" " * (4 << 20) + b"{}", "", "exceeds"),
    ],
)
def test_manifest_refusals(body, ctype, match):
    with pytest.raises(ManifestError, match=match):
        parse_manifest(body, ctype)


def test_platform_selection_with_variants():
    entries = [
        (Platform("linux", "amd64"), b"a"),
        (Platform("linux", "arm", "v6"), b"b"),
        (Platform("linux", "arm", "v7"), b"c"),
        (Platform("linux", "arm64", "v8"), b"d"),
        (Platform("windows", "amd64"), b"e"),
    ]
    idx = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [_desc(OCI_MANIFEST, data, p) for p, data in entries],
    }
    p = parse_manifest(json.dumps(idx).encode())
    pick = {
        w: select_platform(p, Platform.parse(w)).digest
        for w in ("linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64", "windows/amd64")
    }
    assert pick == {
        "linux/amd64": Digest.of_bytes(b"a"),
        "linux/arm/v6": Digest.of_bytes(b"b"),
        "linux/arm/v7": Digest.of_bytes(b"c"),
        "linux/arm64": Digest.of_bytes(b"d"),
        "windows/amd64": Digest.of_bytes(b"e"),
    }
    with pytest.raises(ManifestError, match="available: linux/amd64, linux/arm/v6"):
        select_platform(p, Platform.parse("linux/ppc64le"))


def test_scheme_choice(monkeypatch, tmp_path):
    for h in ("localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"):
        assert is_loopback(h), h
    assert not is_loopback("registry.example.com:5000") and not is_loopback("10.0.0.1")
    monkeypatch.setenv("PYBUILD_INSECURE_REGISTRIES", "reg.lan:5000, other.lan")
    monkeypatch.setenv("PYBUILD_CERTS_D", str(tmp_path))
    t = Transport(TransportOptions(insecure=("flag.lan",)))
    assert t.scheme("127.0.0.1:5000") == "http"
    assert t.scheme("reg.lan:5000") == "http" and t.scheme("other.lan:1") == "http"
    assert t.scheme("flag.lan") == "http"
    assert t.scheme("ghcr.io") == "https" and t.scheme("reg.lan:6000") == "https"
    (tmp_path / "127.0.0.1:7000").mkdir()
    (tmp_path / "127.0.0.1:7000" / "ca.crt").write_text("x")
    assert t.scheme("127.0.0.1:7000") == "https"  # certs.d means TLS is set up


def test_credentials_config_round_trip(docker_config):
    assert not get_credentials("reg.example:5000")
    (docker_config / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                    "reg.example:5000": {"username": "u", "password": "p:w"},
                }
            }
        )
    )
    assert get_credentials("docker.io") == Credentials("hub", "pw")
    assert get_credentials("reg.example:5000") == Credentials("u", "p:w")
    where = store_credentials("new.example", Credentials("n", "pw:2"))
    assert where.endswith("config.json")
    cfg = json.loads((docker_config / "config.json").read_text())
    assert base64.b64decode(cfg["auths"]["new.example"]["auth"]) == b"n:pw:2"
    assert (docker_config / "config.json").stat().st_mode & 0o777 == 0o600
    assert "hub" in base64.b64decode(cfg["auths"]["https://index.docker.io/v1/"]["auth"]).decode()
    assert get_credentials("new.example") == Credentials("n", "pw:2")
    assert erase_credentials("new.example") and not erase_credentials("new.example")
    assert not get_credentials("new.example")
    assert "pw" not in repr(Credentials("a", "pw"))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "mediaType",
                    "schemaVersion",
                    "config",
                    "layers",
                    "manifests",
                    "digest",
                    "size",
                    "platform",
                    "x",
                ]
            ),
            kids,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(_JSON, st.sampled_from(["", OCI_MANIFEST, OCI_INDEX, "application/json"]))
def test_manifest_parser_only_raises_manifest_error(obj, ctype):
    try:
        p = parse_manifest(json.dumps(obj).encode(), ctype)
    except ManifestError as e:
        assert "\n" not in str(e)
        return
    assert p.media_type in (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)


def test_docker_hub_credentials_keys(docker_config):
    (docker_config / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                    "http://reg.example:5000/v2/": {"auth": base64.b64encode(b"r:p").decode()},
                }
            }
        )
    )
    for name in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        assert get_credentials(name) == Credentials("hub", "pw"), name
    assert get_credentials("reg.example:5000") == Credentials("r", "p")
    store_credentials("registry-1.docker.io", Credentials("new", "x"))
    cfg = json.loads((docker_config / "config.json").read_text())
    assert set(cfg["auths"]) == {"https://index.docker.io/v1/", "http://reg.example:5000/v2/"}
    assert get_credentials("docker.io") == Credentials("new", "x")
