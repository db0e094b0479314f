"""Real servers on 127.0.0.1 for the end-to-end tests, and the client that talks raw HTTP.

Everything listens on a port picked by binding port 0 and is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on right now (bind port 0, read it, let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: Any = None, timeout: float = 30) -> None:
    """Wait until something accepts on ``port``; fail if ``process`` (a Popen) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that writes no access log to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, body: bytes, status: int = 200, *headers: tuple[str, str]) -> None:
        """Answer ``body`` as ``application/json`` with its length."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class HTTPServerThread:
    """``http.server`` serving ``handler`` on 127.0.0.1 in a daemon thread, over TLS when
    given ``tls=(certfile, keyfile)``; ``close()`` (or leaving the ``with``) stops it."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler],
                 tls: tuple[str, str] | None = None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.port: int = self.httpd.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HTTPServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Seen:
    """One request as the upstream received it: the raw target and headers as sent."""

    method: str
    target: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Values of every header whose name a WSGI server would fold into ``name``."""
        key = name.lower().replace("_", "-")
        return [value for header, value in self.headers
                if header.lower().replace("_", "-") == key]


@dataclass
class Upstream:
    """A real HTTP server that records every request it gets (any method).

    It answers ``body`` when given, else JSON of what it received: ``{"method", "target",
    "path", "headers": {lower-cased name: value}, "raw_headers": [[name, value], ...]}``.
    """

    body: bytes | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        record = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen = Seen(self.command, self.path, list(self.headers.items()))
                record.seen.append(seen)
                body = record.body if record.body is not None else json.dumps({
                    "method": seen.method, "target": seen.target, "path": seen.target,
                    "headers": {k.lower(): v for k, v in seen.headers},
                    "raw_headers": seen.headers}).encode()
                self.send_json(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = handle_one

        self.server = HTTPServerThread(Handler)
        self.port = self.server.port
        self.url = self.server.url

    @property
    def requests(self) -> list[str]:
        """The request targets, in order."""
        return [seen.target for seen in self.seen]

    @property
    def headers(self) -> list[dict[str, list[str]]]:
        """The headers of each request, by lower-cased name, every value kept."""
        found = []
        for seen in self.seen:
            by_name: dict[str, list[str]] = {}
            for name, value in seen.headers:
                by_name.setdefault(name.lower(), []).append(value)
            found.append(by_name)
        return found

    def close(self) -> None:
        self.server.close()


@contextlib.contextmanager
def upstream(body: bytes | None = None) -> Iterator[Upstream]:
    """An :class:`Upstream` for the length of a ``with``."""
    server = Upstream(body)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def wsgi_server(app: Callable[..., Any]) -> Iterator[int]:
    """Serve a WSGI app with werkzeug's threaded server on 127.0.0.1; yields the port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[0] if found else None


def raw_request(port: int, target: str, method: str = "GET",
                headers: list[tuple[str, str]] | None = None, timeout: float = 10.0) -> Reply:
    """Send a request line exactly as written (no client normalises it) and read the reply."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(line.split(":", 1)) for line in header_lines if ":" in line]
    pairs = [(name.strip(), value.strip()) for name, value in parsed]
    if any(name.lower() == "transfer-encoding" for name, _ in pairs):
        body = _unchunk(body)
    return Reply(int(status_line.split()[1]), pairs, body)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def fetch(url: str, headers: dict[str, str] | None = None, *, method: str = "GET",
          body: Any = None) -> tuple[int, Any]:
    """One request with urllib: the status and the JSON of the answer, errors included."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ask(port: int, method: str, path: str, token: str | None = None,
        body: Any = None) -> tuple[int, Any]:
    """:func:`fetch` from a server on 127.0.0.1:``port``, with ``token`` as a bearer token."""
    return fetch(f"http://127.0.0.1:{port}{path}",
                 {"Authorization": f"Bearer {token}"} if token else None, method=method, body=body)
