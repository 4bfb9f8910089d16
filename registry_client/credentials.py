"""Docker's credential store: `$DOCKER_CONFIG/config.json` (default `~/.docker`).

Owns reading credentials for a registry host (`auths` with a base64 `auth` or
username/password, `credHelpers` and `credsStore` through `docker-credential-NAME`),
and storing/erasing them for `login`/`logout` the way docker does (helper first,
else base64 `auth` in `auths`, written atomically with mode 0600)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_client.endpoint import DOCKER_HUB_API
from registry_client.errors import CredentialsError
from store.oci.reference import DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30


@dataclass(frozen=True)
class Credentials:
    """A username/password, or an identity (refresh) token. Never printed."""

    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token (helper username "<token>")

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token)

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, password=***)"


ANONYMOUS = Credentials()


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def config_path() -> Path:
    return config_dir() / "config.json"


def server_key(registry: str) -> str:
    """The key docker files a registry under: Docker Hub has its legacy URL."""
    return (
        DOCKER_HUB_KEY
        if registry in (DEFAULT_DOMAIN, DOCKER_HUB_API, LEGACY_DEFAULT_DOMAIN)
        else registry
    )


def _normalise_key(key: str) -> str:
    k = key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return DEFAULT_DOMAIN if k in (LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API) else k


def load_config() -> dict[str, Any]:
    path = config_path()
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CredentialsError(f"reading {path}", detail=str(e)) from None
    return data if isinstance(data, dict) else {}


def save_config(data: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".config.json.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent="\t")
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _helper_for(cfg: dict[str, Any], registry: str) -> str:
    helpers = cfg.get("credHelpers") or {}
    for key, name in helpers.items():
        if _normalise_key(key) == _normalise_key(registry) and name:
            return str(name)
    return str(cfg.get("credsStore") or "")


def run_helper(name: str, action: str, payload: str) -> str:
    """Run `docker-credential-NAME ACTION` with `payload` on stdin; its stdout."""
    exe = f"docker-credential-{name}"
    try:
        out = subprocess.run(
            [exe, action], input=payload, capture_output=True, text=True, timeout=HELPER_TIMEOUT
        )
    except FileNotFoundError:
        raise CredentialsError(f"credential helper {exe}", detail="not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper {exe} {action}", detail="timed out") from None
    if out.returncode != 0:
        msg = (out.stdout.strip() or out.stderr.strip()).splitlines()
        text = msg[0] if msg else f"exit status {out.returncode}"
        if action == "get" and "credentials not found" in text.lower():
            return ""
        raise CredentialsError(f"credential helper {exe} {action}", detail=text)
    return out.stdout


def get_credentials(registry: str) -> Credentials:
    """Credentials for `registry` (a host[:port] or `docker.io`), or ANONYMOUS."""
    cfg = load_config()
    helper = _helper_for(cfg, registry)
    if helper:
        out = run_helper(helper, "get", server_key(registry))
        if not out.strip():
            return ANONYMOUS
        try:
            obj = json.loads(out)
        except ValueError:
            raise CredentialsError(
                f"credential helper docker-credential-{helper}", detail="returned invalid JSON"
            ) from None
        user, secret = str(obj.get("Username", "")), str(obj.get("Secret", ""))
        if user == "<token>":
            return Credentials(identity_token=secret)
        return Credentials(user, secret)
    for key, entry in (cfg.get("auths") or {}).items():
        if _normalise_key(key) != _normalise_key(registry) or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return Credentials(
                username=str(entry.get("username", "")), identity_token=str(entry["identitytoken"])
            )
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise CredentialsError(
                    f"{config_path()}: auths[{key!r}]", detail="auth is not base64 user:password"
                ) from None
            return Credentials(user, pw)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return ANONYMOUS


def store_credentials(registry: str, creds: Credentials) -> str:
    """Save as docker login does; returns where they went (for the message)."""
    cfg = load_config()
    key = server_key(registry)
    helper = _helper_for(cfg, registry)
    if helper:
        payload = json.dumps(
            {"ServerURL": key, "Username": creds.username, "Secret": creds.password}
        )
        run_helper(helper, "store", payload)
        cfg.setdefault("auths", {})[key] = {}
        save_config(cfg)
        return f"docker-credential-{helper}"
    auth = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    cfg.setdefault("auths", {})[key] = {"auth": auth}
    save_config(cfg)
    return str(config_path())


def erase_credentials(registry: str) -> bool:
    """Remove stored credentials; True if there were some."""
    cfg = load_config()
    helper = _helper_for(cfg, registry)
    found = False
    if helper:
        run_helper(helper, "erase", server_key(registry))
        found = True
    auths = cfg.get("auths") or {}
    for key in [k for k in auths if _normalise_key(k) == _normalise_key(registry)]:
        del auths[key]
        found = True
    if found:
        save_config(cfg)
    return found
