"""`pybuild pull`, `push`, `login`, `logout` end to end, through builder.cli.main."""

from __future__ import annotations

import io
import json
import os

import pytest

from builder.cli import main
from registry_client.credentials import get_credentials
from store.layout import open_store
from tests.fixtures.registry import unique_repo, write_credential_helper
from tests.fixtures.registry_images import make_image, put_in_store


@pytest.fixture
def cli_store(store_root, docker_config):
    st = open_store(store_root)
    yield st
    st.close()


def test_push_and_pull_verbs(registry, cli_store, capsys, tmp_path, monkeypatch):
    img = make_image([{"cli.txt": b"cli"}])
    put_in_store(cli_store, img, "app:1")
    ref = f"{registry.host}/{unique_repo()}:1"
    assert main(["push", "app:1", ref]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"1: digest: {img.manifest.desc.digest} size: {img.manifest.desc.size}"
    # Plain progress: one vertex per blob, BuildKit style.
    for b in img.blobs():
        assert f"push {b.desc.digest.short}" in err
    assert "DONE" in err
    monkeypatch.setenv("PYBUILD_ROOT", str(tmp_path / "other"))
    assert main(["pull", "--progress", "json", ref]) == 0
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in err.splitlines()]
    assert {"step_started", "transfer", "step_done"} <= {e["event"] for e in events}
    assert f"Digest: {img.manifest.desc.digest}" in out and out.strip().endswith(ref)
    assert open_store(tmp_path / "other").refs.get(ref).digest == img.manifest.desc.digest
    assert main(["pull", "-q", ref]) == 0
    assert capsys.readouterr().out.strip() == ref
    monkeypatch.setenv("PYBUILD_ROOT", str(tmp_path / "third"))
    assert main(["pull", "--progress", "tty", ref]) == 0  # the live (rich) view
    assert "Downloaded newer image" in capsys.readouterr().out


def test_pull_missing_is_one_line(registry, cli_store, capsys):
    ref = f"{registry.host}/{unique_repo()}:nope"
    assert main(["pull", ref]) == 1
    err = capsys.readouterr().err.strip()
    # The detail is the registry's own message ("manifest unknown" from distribution).
    assert err == f"pull {ref}: 404 MANIFEST_UNKNOWN (manifest unknown)"


def test_bad_reference_is_usage_error(cli_store, capsys):
    assert main(["pull", "Bad/Name"]) == 2
    assert "invalid reference 'Bad/Name'" in capsys.readouterr().err
    assert main(["pull", "--platform", "linux/", "busybox"]) == 2
    assert capsys.readouterr().err.startswith("invalid platform 'linux/'")


def test_login_push_logout(tls_registry, cli_store, docker_config, capsys, monkeypatch):
    monkeypatch.setenv("PYBUILD_CERTS_D", str(tls_registry.certs_d))
    img = make_image([{"login.txt": b"login"}])
    put_in_store(cli_store, img, "app:2")
    ref = f"{tls_registry.host}/{unique_repo()}:2"
    assert main(["push", "-q", "app:2", ref]) == 1
    assert (
        capsys.readouterr().err.strip() == f"push {ref}: 401 UNAUTHORIZED (authentication required)"
    )

    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert main(["login", tls_registry.host, "-u", tls_registry.user, "--password-stdin"]) == 1
    assert capsys.readouterr().err.strip().startswith(f"login {tls_registry.host}: 401")
    assert not (docker_config / "config.json").exists()

    monkeypatch.setattr("sys.stdin", io.StringIO(tls_registry.password + "\n"))
    assert main(["login", tls_registry.host, "-u", tls_registry.user, "--password-stdin"]) == 0
    assert "Login Succeeded" in capsys.readouterr().out
    cfg = json.loads((docker_config / "config.json").read_text())
    assert tls_registry.host in cfg["auths"]
    assert main(["push", "-q", "app:2", ref]) == 0
    capsys.readouterr()
    assert main(["logout", tls_registry.host]) == 0
    assert "Removing login credentials" in capsys.readouterr().out
    assert tls_registry.host not in json.loads((docker_config / "config.json").read_text())["auths"]
    assert main(["logout", tls_registry.host]) == 0
    assert "Not logged in" in capsys.readouterr().out


def test_login_logout_with_credential_helper(
    token_registry, cli_store, docker_config, capsys, monkeypatch, tmp_path
):
    secrets = tmp_path / "helper-db.json"
    write_credential_helper(tmp_path / "bin", secrets)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {token_registry.host: "test"}})
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(token_registry.password))
    assert main(["login", token_registry.host, "-u", token_registry.user, "--password-stdin"]) == 0
    db = json.loads(secrets.read_text())
    assert db == {
        token_registry.host: {"Username": token_registry.user, "Secret": token_registry.password}
    }
    cfg = json.loads((docker_config / "config.json").read_text())
    assert cfg["auths"][token_registry.host] == {}  # docker leaves an empty entry, no secret
    assert get_credentials(token_registry.host).username == token_registry.user
    assert main(["logout", token_registry.host]) == 0
    assert json.loads(secrets.read_text()) == {}
    assert not get_credentials(token_registry.host)
