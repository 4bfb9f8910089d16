"""A hostile proxy in front of the real docker-registry, for misbehaviour a real registry
never shows. Everything is forwarded unchanged except what `mode` names:

- `redirect-loop`: every blob GET answers 307 to another blob URL, which does the same;
- `endless-manifest` / `endless-blob`: a 200 whose body never ends (no length);
- `wrong-content-type`: manifests come back as `text/html`;
- `digest-header`: manifests carry a `Docker-Content-Digest` of other content;
- `token-hang`: `/v2/` demands a Bearer token from a realm that accepts the connection
  and never answers.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
OTHER_DIGEST = "sha256:" + "0" * 64


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on us is the point


class HostileProxy:
    def __init__(self, upstream_port: int, mode: str) -> None:
        self.upstream_port, self.mode = upstream_port, mode
        self.stopping = threading.Event()
        self.requests: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.requests.append((self.command, self.path))
                proxy._handle(self)

            do_HEAD = do_PUT = do_POST = do_PATCH = do_GET

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _endless(self, h: BaseHTTPRequestHandler, ctype: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"{" + b" " * 65535
        try:
            while not self.stopping.is_set():
                h.wfile.write(chunk)
        except OSError:
            pass
        h.close_connection = True

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        m, path = self.mode, h.path
        if m == "token-hang":
            if path.startswith("/token"):
                self.stopping.wait()  # accept, read the request, never answer
                return
            if path.startswith("/v2/"):
                h.send_response(401)
                h.send_header(
                    "WWW-Authenticate", f'Bearer realm="http://{self.host}/token",service="hostile"'
                )
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        if m == "redirect-loop" and "/blobs/sha256:" in path and h.command == "GET":
            h.send_response(307)
            h.send_header(
                "Location", f"http://{self.host}{path.split('?')[0]}?hop={len(self.requests)}"
            )
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if m == "endless-manifest" and "/manifests/" in path and h.command == "GET":
            return self._endless(h, "application/vnd.oci.image.manifest.v1+json")
        if m == "endless-blob" and "/blobs/sha256:" in path and h.command == "GET":
            return self._endless(h, "application/octet-stream")
        self._forward(h)
        return None

    def _forward(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        up = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP | {"host"}}
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        up.request(h.command, h.path, body=body, headers=headers)
        resp = up.getresponse()
        payload = resp.read() if h.command != "HEAD" else b""
        manifest = "/manifests/" in h.path and resp.status == 200
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP:
                continue
            if manifest and self.mode == "wrong-content-type" and lk == "content-type":
                v = "text/html; charset=utf-8"
            if manifest and self.mode == "digest-header" and lk == "docker-content-digest":
                v = OTHER_DIGEST
            if lk == "location":
                v = v.replace(f"127.0.0.1:{self.upstream_port}", self.host)
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
        up.close()
