"""Auth against real registries: htpasswd basic auth over TLS (CA from certs.d), and
bearer tokens from the test token server that the registry itself verifies."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from registry_client import pull_image, push_image
from registry_client.client import RegistryClient
from registry_client.credentials import Credentials, get_credentials
from registry_client.endpoint import api_host
from registry_client.errors import RegistryError, TransportError
from store.layout import open_store
from store.oci.reference import Reference
from tests.fixtures.registry import unique_repo, write_credential_helper
from tests.fixtures.registry_images import make_image, put_in_store


def _write_config(cfg_dir: Path, obj: dict) -> None:
    (cfg_dir / "config.json").write_text(json.dumps(obj))


def _auth_entry(user: str, pw: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}


@pytest.fixture
def certs_d(tls_registry, monkeypatch):
    monkeypatch.setenv("PYBUILD_CERTS_D", str(tls_registry.certs_d))
    return tls_registry.certs_d


def test_tls_basic_auth_push_pull(tls_registry, certs_d, docker_config, registry_store, tmp_path):
    _write_config(
        docker_config,
        {"auths": {tls_registry.host: _auth_entry(tls_registry.user, tls_registry.password)}},
    )
    img = make_image([{"tls.txt": b"over tls"}])
    desc = put_in_store(registry_store, img)
    ref = f"{tls_registry.host}/{unique_repo()}:1"
    client = RegistryClient()
    assert client.transport.base_url(tls_registry.host).startswith("https://")
    push_image(registry_store, desc, ref, client=client)
    other = open_store(tmp_path / "o")
    assert pull_image(other, ref).manifest.digest == desc.digest
    other.close()


def test_tls_basic_auth_wrong_password_is_401(tls_registry, certs_d, docker_config, registry_store):
    _write_config(
        docker_config,
        {"auths": {tls_registry.host: {"username": tls_registry.user, "password": "wrong"}}},
    )
    desc = put_in_store(registry_store, make_image([{"a": b"a"}]))
    ref = f"{tls_registry.host}/{unique_repo()}:1"
    with pytest.raises(RegistryError) as ei:
        push_image(registry_store, desc, ref)
    assert str(ei.value) == f"push {ref}: 401 UNAUTHORIZED (authentication required)"


def test_tls_without_ca_fails_verification(
    tls_registry, docker_config, registry_store, monkeypatch, tmp_path
):
    empty = tmp_path / "certs.d"
    (empty / tls_registry.host).mkdir(parents=True)
    # A certs.d dir with an unrelated CA: https is used, and verification must fail.
    from tests.fixtures.registry_tokens import make_tls

    other_ca = make_tls(tmp_path / "pki")[0]
    (empty / tls_registry.host / "ca.crt").write_bytes(other_ca.read_bytes())
    monkeypatch.setenv("PYBUILD_CERTS_D", str(empty))
    with pytest.raises(TransportError, match="TLS"):
        pull_image(registry_store, f"{tls_registry.host}/{unique_repo()}:1")


def test_token_auth_with_credentials(token_registry, docker_config, registry_store, tmp_path):
    _write_config(
        docker_config,
        {"auths": {token_registry.host: _auth_entry(token_registry.user, token_registry.password)}},
    )
    img = make_image([{"tok.txt": b"token"}])
    desc = put_in_store(registry_store, img)
    repo = unique_repo("private")
    ref = f"{token_registry.host}/{repo}:1"
    token_registry.tokens.issued.clear()
    client = RegistryClient()
    push_image(registry_store, desc, ref, client=client)
    issued = list(token_registry.tokens.issued)
    assert issued and all(user == token_registry.user for user, _ in issued)
    assert any(f"repository:{repo}:pull,push" in scopes for _, scopes in issued)
    # Tokens are cached per scope: many requests, few token fetches.
    assert len(issued) <= 3
    # A new scope (pull of another repo) makes the client re-authenticate.
    before = len(token_registry.tokens.issued)
    other = open_store(tmp_path / "o")
    pull_image(other, ref, client=client)
    assert len(token_registry.tokens.issued) == before + 1
    assert token_registry.tokens.issued[-1][1] == (f"repository:{repo}:pull",)
    other.close()


def test_token_auth_anonymous_pull_and_denied_push(
    token_registry, docker_config, registry_store, tmp_path
):
    _write_config(
        docker_config,
        {"auths": {token_registry.host: _auth_entry(token_registry.user, token_registry.password)}},
    )
    img = make_image([{"pub.txt": b"public"}])
    desc = put_in_store(registry_store, img)
    ref = f"{token_registry.host}/{unique_repo('public')}:1"
    push_image(registry_store, desc, ref)
    _write_config(docker_config, {})  # now anonymous
    other = open_store(tmp_path / "o")
    assert pull_image(other, ref).manifest.digest == desc.digest
    with pytest.raises(RegistryError) as ei:
        push_image(other, desc, f"{token_registry.host}/{unique_repo('public')}:2")
    assert ei.value.status == 401 and "UNAUTHORIZED" in ei.value.codes
    other.close()


def test_token_access_token_field(token_registry, docker_config, registry_store):
    token_registry.tokens.use_access_token_field = True
    try:
        _write_config(
            docker_config,
            {
                "auths": {
                    token_registry.host: _auth_entry(token_registry.user, token_registry.password)
                }
            },
        )
        desc = put_in_store(registry_store, make_image([{"at": b"access_token"}]))
        res = push_image(registry_store, desc, f"{token_registry.host}/{unique_repo()}:1")
        assert res.digest == desc.digest
    finally:
        token_registry.tokens.use_access_token_field = False


def test_token_wrong_password(token_registry, docker_config, registry_store):
    _write_config(
        docker_config, {"auths": {token_registry.host: _auth_entry(token_registry.user, "nope")}}
    )
    desc = put_in_store(registry_store, make_image([{"x": b"x"}]))
    with pytest.raises(RegistryError) as ei:
        push_image(registry_store, desc, f"{token_registry.host}/{unique_repo()}:1")
    assert ei.value.status == 401


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_credential_helper(
    key, token_registry, docker_config, registry_store, tmp_path, monkeypatch
):
    secrets = tmp_path / "helper-db.json"
    secrets.write_text(
        json.dumps(
            {
                token_registry.host: {
                    "Username": token_registry.user,
                    "Secret": token_registry.password,
                }
            }
        )
    )
    write_credential_helper(tmp_path / "bin", secrets)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cfg = (
        {"credHelpers": {token_registry.host: "test"}}
        if key == "credHelpers"
        else {"credsStore": "test"}
    )
    _write_config(docker_config, cfg)
    assert get_credentials(token_registry.host) == Credentials(
        token_registry.user, token_registry.password
    )
    assert not get_credentials("other.example:5000")
    desc = put_in_store(registry_store, make_image([{"h": key.encode()}]))
    res = push_image(registry_store, desc, f"{token_registry.host}/{unique_repo('private')}:1")
    assert res.digest == desc.digest


def test_login_checks_credentials(token_registry, tls_registry, certs_d):
    client = RegistryClient()
    client.login(token_registry.host, Credentials(token_registry.user, token_registry.password))
    with pytest.raises(RegistryError) as ei:
        RegistryClient().login(token_registry.host, Credentials(token_registry.user, "bad"))
    assert ei.value.status == 401
    RegistryClient().login(tls_registry.host, Credentials(tls_registry.user, tls_registry.password))
    with pytest.raises(RegistryError):
        RegistryClient().login(tls_registry.host, Credentials(tls_registry.user, "bad"))
    assert api_host(Reference.parse(f"{tls_registry.host}/a").domain) == tls_registry.host


def test_mount_denied_falls_back_to_upload(token_registry, docker_config, registry_store):
    _write_config(
        docker_config,
        {"auths": {token_registry.host: _auth_entry(token_registry.user, token_registry.password)}},
    )
    img = make_image([{"m.txt": b"mount me"}])
    desc = put_in_store(registry_store, img)
    src, dst, ok = unique_repo("src"), unique_repo("dst"), unique_repo("ok")
    push_image(registry_store, desc, f"{token_registry.host}/{src}:1")
    res = push_image(registry_store, desc, f"{token_registry.host}/{ok}:1")
    assert set(res.mounted) == {b.desc.digest for b in img.blobs()}  # token covers both repos
    token_registry.tokens.deny.update({src, ok})
    try:
        res = push_image(registry_store, desc, f"{token_registry.host}/{dst}:1")
    finally:
        token_registry.tokens.deny.clear()
    assert res.mounted == () and set(res.uploaded) == {b.desc.digest for b in img.blobs()}


def test_identity_token_uses_refresh_grant(token_registry, docker_config, registry_store):
    token_registry.tokens.refresh_tokens["idtok-123"] = token_registry.user
    _write_config(docker_config, {"auths": {token_registry.host: {"identitytoken": "idtok-123"}}})
    desc = put_in_store(registry_store, make_image([{"id": b"identity"}]))
    before = len(token_registry.tokens.issued)
    res = push_image(registry_store, desc, f"{token_registry.host}/{unique_repo('private')}:1")
    assert res.digest == desc.digest
    assert token_registry.tokens.issued[before][0] == token_registry.user


def test_tls_client_certificate_is_required(
    tls_registry, docker_config, registry_store, monkeypatch, tmp_path
):
    # Same CA, but no client.cert/client.key: the registry refuses the handshake.
    certs = tmp_path / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(tls_registry.ca.read_bytes())
    monkeypatch.setenv("PYBUILD_CERTS_D", str(tmp_path / "certs.d"))
    with pytest.raises(TransportError):
        pull_image(registry_store, f"{tls_registry.host}/{unique_repo()}:1")
