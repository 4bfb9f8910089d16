"""Registry authentication: ping `/v2/`, follow `WWW-Authenticate`.

Owns the challenge parser, Basic auth, and Bearer tokens (realm, service, scope;
anonymous or with credentials; `token` or `access_token` in the reply; an identity
token is exchanged with the OAuth2 refresh-token grant). Tokens are cached per
(host, scope set) until they expire; a 401 naming a wider scope fetches a new one."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from registry_client.credentials import ANONYMOUS, Credentials, get_credentials
from registry_client.errors import RegistryError, error_from_response
from registry_client.transport import Transport

_PARAM_RE = re.compile(r'\s*([a-zA-Z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')
TOKEN_MIN_LIFETIME = 60
MAX_TOKEN_BODY = 1 << 20


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: scheme and its parameters (realm, service, scope)."""

    scheme: str  # "basic" or "bearer" (lowercase)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(s for s in self.params.get("scope", "").split(" ") if s)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse `WWW-Authenticate` (RFC 7235), which may hold several challenges."""
    out: list[Challenge] = []
    pos = 0
    header = header or ""
    while pos < len(header):
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)\s*").match(header, pos)
        if not m or m.end() == pos:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: dict[str, str] = {}
        while True:
            pm = _PARAM_RE.match(header, pos)
            if not pm or pm.end() == pos:
                break
            # A bare word followed by '=' belongs to this challenge; else a new scheme.
            params[pm.group(1).lower()] = (
                pm.group(2).replace('\\"', '"') if pm.group(2) is not None else pm.group(3)
            )
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


def pick_challenge(resp: requests.Response) -> Challenge | None:
    values = resp.headers.get("WWW-Authenticate", "")
    chals = parse_challenges(values)
    for wanted in ("bearer", "basic"):
        for c in chals:
            if c.scheme == wanted:
                return c
    return None


class Authenticator:
    """Sends registry requests with the right `Authorization`, for many hosts."""

    def __init__(
        self, transport: Transport, credentials: Callable[[str], Credentials] = get_credentials
    ) -> None:
        self.transport = transport
        self._lookup = credentials
        self._creds: dict[str, Credentials] = {}
        self._challenges: dict[str, Challenge | None] = {}
        self._tokens: dict[tuple[str, frozenset[str]], tuple[str, float]] = {}
        self._lock = threading.RLock()

    def credentials_for(self, host: str, registry: str | None = None) -> Credentials:
        with self._lock:
            if host not in self._creds:
                self._creds[host] = self._lookup(registry or host)
            return self._creds[host]

    def set_credentials(self, host: str, creds: Credentials) -> None:
        with self._lock:
            self._creds[host] = creds

    def ping(self, host: str, on_retry: Callable[[str], None] | None = None) -> Challenge | None:
        """GET /v2/ once per host; remember how it wants us to authenticate."""
        with self._lock:
            if host in self._challenges:
                return self._challenges[host]
        url = f"{self.transport.base_url(host)}/v2/"
        resp = self.transport.request("GET", url, on_retry=on_retry)
        try:
            if resp.status_code == 401:
                chal = pick_challenge(resp)
            elif resp.status_code < 300:
                chal = None
            else:
                raise error_from_response(resp, f"ping {host}")
        finally:
            resp.close()
        with self._lock:
            self._challenges[host] = chal
        return chal

    def request(
        self,
        method: str,
        url: str,
        host: str,
        scopes: tuple[str, ...],
        *,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> requests.Response:
        chal = self.ping(host, kw.get("on_retry"))
        hdrs = dict(headers or {})
        auth = self._header(host, chal, scopes) if chal else None
        if auth:
            hdrs["Authorization"] = auth
        resp = self.transport.request(method, url, headers=hdrs, **kw)
        if resp.status_code != 401:
            return resp
        new = pick_challenge(resp)
        if new is None:
            return resp
        if new.scheme == "bearer":
            # A wider scope, or our cached token expired or was revoked: one fresh try.
            wanted = tuple(dict.fromkeys(scopes + new.scopes))
            resp.close()
            with self._lock:
                self._challenges[host] = new
            tok = self.token(host, new, wanted, fresh=True)
            with self._lock:  # later requests for `scopes` reuse the wider token
                self._tokens[(host, frozenset(scopes))] = self._tokens[(host, frozenset(wanted))]
            hdrs["Authorization"] = "Bearer " + tok
        elif new.scheme == "basic" and not auth:
            basic = self._basic(host)
            if not basic:
                return resp
            resp.close()
            hdrs["Authorization"] = basic
        else:
            return resp
        return self.transport.request(method, url, headers=hdrs, **kw)

    # --- schemes ---------------------------------------------------------------

    def _header(self, host: str, chal: Challenge, scopes: tuple[str, ...]) -> str | None:
        if chal.scheme == "basic":
            return self._basic(host)
        if chal.scheme == "bearer":
            return "Bearer " + self.token(host, chal, scopes)
        return None

    def _basic(self, host: str) -> str | None:
        c = self.credentials_for(host)
        if not c.username and not c.password:
            return None
        return "Basic " + base64.b64encode(f"{c.username}:{c.password}".encode()).decode()

    def token(
        self, host: str, chal: Challenge, scopes: tuple[str, ...], *, fresh: bool = False
    ) -> str:
        key = (host, frozenset(scopes))
        with self._lock:
            cached = self._tokens.get(key)
            if cached and not fresh and cached[1] > time.monotonic():
                return cached[0]
            tok, lifetime = self._fetch_token(host, chal, scopes)
            self._tokens[key] = (tok, time.monotonic() + max(lifetime - 10, 5))
            return tok

    def _fetch_token(
        self, host: str, chal: Challenge, scopes: tuple[str, ...]
    ) -> tuple[str, float]:
        realm = chal.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(
                f"auth {host}", detail=f"bearer challenge without a usable realm {realm!r}"
            )
        service = chal.params.get("service", "")
        creds = self.credentials_for(host)
        if creds.identity_token:
            data = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": service,
                "scope": " ".join(scopes),
                "client_id": "pybuild",
            }
            resp = self.transport.request(
                "POST",
                realm,
                data=data_body(data),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            params = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            headers = {}
            if creds is not ANONYMOUS and (creds.username or creds.password):
                headers["Authorization"] = (
                    "Basic "
                    + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
                )
            url = requests.Request("GET", realm, params=params).prepare().url or realm
            resp = self.transport.request("GET", url, headers=headers)
        with resp:
            if resp.status_code != 200:
                raise error_from_response(resp, f"token from {realm}")
            try:
                body = resp.json() if len(resp.content) <= MAX_TOKEN_BODY else {}
            except ValueError:
                body = {}
        tok = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(tok, str) or not tok:
            raise RegistryError(f"token from {realm}", detail="reply has no token")
        lifetime = body.get("expires_in") or TOKEN_MIN_LIFETIME
        return tok, float(
            max(int(lifetime) if isinstance(lifetime, int | float) else 60, TOKEN_MIN_LIFETIME)
        )

    def check_login(self, host: str, creds: Credentials) -> None:
        """Prove `creds` work on `host` (what `docker login` does before saving)."""
        self.set_credentials(host, creds)
        chal = self.ping(host)
        if chal is None:
            return
        if chal.scheme == "bearer":
            with self._lock:
                self._fetch_token(host, chal, ())
            return
        resp = self.transport.request(
            "GET",
            f"{self.transport.base_url(host)}/v2/",
            headers={"Authorization": self._basic(host) or ""},
        )
        with resp:
            if resp.status_code != 200:
                raise error_from_response(resp, f"login {host}")


def data_body(form: Mapping[str, str]) -> bytes:
    return urlencode(form).encode()
