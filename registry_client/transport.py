"""HTTP transport for registries: one pooled `requests` session, timeouts, retries as
`registry_client.retry` decides (transient statuses and dropped connections, backoff
with jitter, honouring `Retry-After`), TLS with docker's extra CAs (`/etc/docker/certs.d/HOST/*.crt`, base dir
overridable by `PYBUILD_CERTS_D`; `client.cert`/`client.key` there are sent), and plain
HTTP only for loopback and insecure hosts (a host with a certs.d CA always gets TLS).
Auth lives in `auth.py`; this module only moves requests."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

try:
    import certifi
except ImportError:  # a distribution's requests may use the system bundle and ship no certifi
    certifi = None  # type: ignore[assignment]

from registry_client.errors import TransportError
from registry_client.retry import Backoff, transient

DEFAULT_CERTS_D = "/etc/docker/certs.d"
SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
USER_AGENT = "pybuild/0.1 (registry_client; python-requests)"
Body = bytes | Callable[[], Any] | None


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1, with or without a port (as docker decides)."""
    name = host_without_port(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def env_insecure_registries() -> tuple[str, ...]:
    raw = os.environ.get("PYBUILD_INSECURE_REGISTRIES", "")
    return tuple(h.strip() for h in raw.split(",") if h.strip())


@dataclass
class TransportOptions:
    """Knobs with defaults; tests shrink the backoff."""

    insecure: tuple[str, ...] = ()
    certs_d: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 20.0
    pool_size: int = 8
    extra_headers: Mapping[str, str] = field(default_factory=dict)


class Transport:
    """Thread-safe: the session's pool is shared by the parallel blob workers."""

    def __init__(self, options: TransportOptions | None = None) -> None:
        self.options = options or TransportOptions()
        self.insecure = frozenset(self.options.insecure) | frozenset(env_insecure_registries())
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.options.pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(self.options.extra_headers)
        self._tls: dict[str, tuple[Any, Any]] = {}
        self._certs_seen: dict[str, bool] = {}
        self._lock = threading.Lock()

    # --- where and how to connect ------------------------------------------------

    def scheme(self, host: str) -> str:
        """https, except plain http for loopback and insecure hosts; but a host with
        docker's `certs.d/HOST/` directory has TLS set up, so it always gets https."""
        if self._has_certs_dir(host):
            return "https"
        if is_loopback(host) or host in self.insecure or host_without_port(host) in self.insecure:
            return "http"
        return "https"

    def _has_certs_dir(self, host: str) -> bool:
        with self._lock:
            if host not in self._certs_seen:
                d = self.certs_dir(host)
                self._certs_seen[host] = d.is_dir() and any(d.glob("*.crt"))
            return self._certs_seen[host]

    def base_url(self, host: str) -> str:
        return f"{self.scheme(host)}://{host}"

    def certs_dir(self, host: str) -> Path:
        base = self.options.certs_d or os.environ.get("PYBUILD_CERTS_D") or DEFAULT_CERTS_D
        return Path(base) / host

    def tls_for(self, host: str) -> tuple[Any, Any]:
        """(verify, cert) for `requests`: system roots plus docker's per-host CAs."""
        with self._lock:
            if host not in self._tls:
                self._tls[host] = self._load_tls(host)
            return self._tls[host]

    def _load_tls(self, host: str) -> tuple[Any, Any]:
        d = self.certs_dir(host)
        cas = sorted(d.glob("*.crt")) if d.is_dir() else []
        cert = None
        if d.is_dir():
            for c in sorted(d.glob("*.cert")):
                key = c.with_suffix(".key")
                if key.is_file():
                    cert = (str(c), str(key))
                    break
        if not cas:
            return True, cert
        pem = b"".join(p.read_bytes().rstrip() + b"\n" for p in _system_bundles() + cas)
        path = (
            Path(tempfile.gettempdir()) / f"pybuild-ca-{hashlib.sha256(pem).hexdigest()[:16]}.pem"
        )
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pem)
            os.replace(tmp, path)
        return str(path), cert

    # --- requests ----------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Body = None,
        stream: bool = False,
        allow_redirects: bool = True,
        retry: bool = True,
        on_retry: Callable[[str], None] | None = None,
    ) -> requests.Response:
        """Send with retries. Returns the final response, whatever its status; raises
        `TransportError` when the host stays unreachable. A callable `data` is called
        again for each attempt, so streamed bodies can be replayed."""
        host = url.split("://", 1)[-1].split("/", 1)[0]
        verify, cert = self.tls_for(host) if url.startswith("https:") else (True, None)
        attempts = self.options.retries + 1 if retry else 1
        for attempt in range(attempts):
            body = data() if callable(data) else data
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    data=body,
                    stream=stream,
                    allow_redirects=allow_redirects,
                    verify=verify,
                    cert=cert,
                    timeout=(self.options.connect_timeout, self.options.read_timeout),
                )
            except requests.exceptions.SSLError as e:
                raise TransportError(
                    f"{method} {url}", method=method, url=url, detail=f"TLS: {_short(e)}"
                ) from None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as e:
                # An unknown host will not appear by waiting: fail at once; a refused
                # connection (registry restarting?) gets a couple of quick retries.
                refused = isinstance(_reason(e), urllib3.exceptions.NewConnectionError)
                if attempt + 1 >= attempts or _is_dns_failure(e) or (refused and attempt >= 2):
                    raise TransportError(
                        f"{method} {url}", method=method, url=url, detail=_short(e)
                    ) from None
                self._sleep(attempt, None, on_retry, f"{method} {url}: {_short(e)}")
                continue
            if transient(resp.status_code) and attempt + 1 < attempts:
                retry_after = resp.headers.get("Retry-After")
                resp.close()
                self._sleep(attempt, retry_after, on_retry, f"{method} {url}: {resp.status_code}")
                continue
            return resp
        raise AssertionError("unreachable")

    def _sleep(
        self,
        attempt: int,
        retry_after: str | None,
        on_retry: Callable[[str], None] | None,
        why: str,
    ) -> None:
        delay = Backoff(self.options.backoff, self.options.max_backoff).delay(attempt, retry_after)
        if on_retry is not None:
            on_retry(f"{why}; retrying in {delay:.1f}s")
        time.sleep(delay)

    def close(self) -> None:
        self.session.close()


def _system_bundles() -> list[Path]:
    found = [Path(certifi.where())] if certifi is not None else []
    return found + [Path(p) for p in SYSTEM_CA_BUNDLES if Path(p).is_file()][:1]


def _reason(e: BaseException) -> BaseException:
    """The urllib3 cause inside a requests exception (MaxRetryError.reason)."""
    inner = e.args[0] if e.args and isinstance(e.args[0], BaseException) else e
    return getattr(inner, "reason", None) or inner


def _is_dns_failure(e: BaseException) -> bool:
    return isinstance(_reason(e), urllib3.exceptions.NameResolutionError)


def _short(e: BaseException) -> str:
    """One readable clause: "cannot resolve HOST", "connection refused", "timed out"."""
    r = _reason(e)
    if isinstance(r, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve host {getattr(r.conn, 'host', '')}".strip()
    if isinstance(r, urllib3.exceptions.NewConnectionError):
        errno_text = str(r).rsplit("]", 1)[-1].strip() if "]" in str(r) else str(r)
        where = f"{getattr(r.conn, 'host', '')}:{getattr(r.conn, 'port', '')}"
        return f"cannot connect to {where}: {errno_text.lower()[:120]}"
    if isinstance(e, requests.Timeout) or isinstance(
        r, TimeoutError | urllib3.exceptions.TimeoutError
    ):
        return "timed out"
    text = " ".join(str(r).split())
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip("()'\" ")[:200]


def iter_file(path: Path, start: int, length: int, chunk: int = 1 << 20) -> Iterable[bytes]:
    """Yield `length` bytes of `path` from `start`, in chunks (for streamed uploads)."""
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            data = f.read(min(chunk, left))
            if not data:
                raise OSError(f"{path}: short read at {start + length - left}")
            left -= len(data)
            yield data


class FileBody:
    """An iterable upload body with a known length, so `requests` sends Content-Length
    (not chunked encoding) while reading the file 1 MiB at a time."""

    def __init__(
        self, path: Path, start: int, length: int, progress: Callable[[int], None] | None = None
    ) -> None:
        self.path, self.start, self.length, self.progress = path, start, length, progress

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        for data in iter_file(self.path, self.start, self.length):
            if self.progress is not None:
                self.progress(len(data))
            yield data
