"""Shared fixtures: keys, a frozen clock, a token maker, and a WSGI client."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware

SECRET = "test-secret-" + "s" * 40
NOW = 1_800_000_000


def b64(raw: bytes | str) -> str:
    if isinstance(raw, str):
        raw = raw.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: Any, claims: Any, signature: bytes = b"sig") -> str:
    """A token with arbitrary header and claims (JSON-encoded unless already str/bytes)."""
    def enc(part: Any) -> str:
        if isinstance(part, bytes):
            return b64(part)
        if isinstance(part, str):
            return b64(part.encode())
        return b64(json.dumps(part).encode())

    return f"{enc(header)}.{enc(claims)}.{b64(signature)}"


def sign_hs256(header: Any, claims: Any, secret: str = SECRET) -> str:
    """A correctly HS256-signed token over arbitrary header and claims text."""
    import hashlib
    import hmac

    def enc(part: Any) -> str:
        if isinstance(part, (bytes, str)):
            return b64(part)
        return b64(json.dumps(part).encode())

    signing_input = f"{enc(header)}.{enc(claims)}"
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


@pytest.fixture(scope="session")
def rsa_private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="session")
def rsa_public_pem(rsa_private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(rsa_private_pem, None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="session")
def ec_private_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Clock:
    """A clock for ``JWTManager(clock=...)``, frozen at ``now``; move it by setting ``now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The clock of the ``jwt`` fixture, frozen at NOW."""
    return Clock()


@pytest.fixture
def jwt(clock: Clock) -> JWTManager:
    """An HS256 manager with its clock frozen at NOW (move it with the ``clock`` fixture)."""
    return JWTManager(secret_key=SECRET, clock=clock)


@pytest.fixture
def make_token(jwt: JWTManager) -> Callable[..., str]:
    """Mint an access token with the test manager: ``make_token("alice", fresh=True)``."""
    def make(identity: str = "alice", **kwargs: Any) -> str:
        refresh = kwargs.pop("refresh", False)
        if refresh:
            return jwt.create_refresh_token(identity, **kwargs)
        return jwt.create_access_token(identity, **kwargs)

    return make


class Recorder:
    """A WSGI app that records the environ of each call and answers 200 with JSON."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls.append(environ)
        body = json.dumps({"path": environ.get("PATH_INFO"),
                           "sub": environ.get("jwt_wsgi.identity")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def protect(jwt: JWTManager, recorder: Recorder) -> Callable[..., Client]:
    """``protect(routes, **kwargs)`` wraps the recorder and returns a werkzeug test Client."""
    def build(routes: dict[str, Any], **kwargs: Any) -> Client:
        return Client(JWTMiddleware(recorder, jwt, routes=routes, **kwargs))

    return build


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def need(module: str) -> Any:
    """Import a test-extras package: skipped where it is missing, but never under CI."""
    import importlib
    import os

    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is in the test extras "
                                              "(pip install '.[test]')")


def free_port() -> int:
    """A loopback port nothing listens on right now (bind port 0, read it, let go)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: Any, timeout: float = 30) -> None:
    """Wait until something accepts on ``port``; fail if ``process`` (a Popen) exits first."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


@pytest.fixture
def echo_upstream() -> Any:
    """A real HTTP server on 127.0.0.1 answering every GET with JSON of what it received:
    ``{"path": ..., "headers": {lowercased name: value}}``. Yields its base URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"path": self.path, "headers": {
                k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def raw_upstream() -> Any:
    """A real socket server on 127.0.0.1 that keeps the raw bytes of each request head (up
    to the blank line) and answers 200 with no body. Yields its base URL and the heads.

    Raw bytes, not a parsed request: a stdlib server would fold a continuation line into the
    header before it, hiding what an upstream that does not fold would read."""
    import socket
    import threading

    heads: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener closed at teardown
                return
            with connection:
                connection.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    block = connection.recv(65536)
                    if not block:
                        break
                    data += block
                heads.append(data.partition(b"\r\n\r\n")[0])
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", heads
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
