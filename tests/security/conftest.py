"""Helpers for the security suite: a raw WSGI caller, key material, a call counter.

Requests are built with werkzeug's EnvironBuilder and then PATH_INFO is set by hand:
the security cases must control exactly what a server would deliver, and
EnvironBuilder would percent-decode the path first.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.test import EnvironBuilder

from jwt_wsgi import JWTManager, JWTMiddleware
from tests.conftest import SECRET, Clock


@dataclass
class Answer:
    """What a WSGI app answered."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(app: Callable[..., Iterable[bytes]], path: str = "/", method: str = "GET",
         headers: Mapping[str, str] | None = None, body: bytes | None = None,
         **environ: Any) -> Answer:
    """Call a WSGI app with PATH_INFO exactly as given (as a server would deliver it)."""
    builder = EnvironBuilder(method="GET", headers=dict(headers or {}), data=body)
    env = builder.get_environ()
    env["REQUEST_METHOD"] = method
    env["PATH_INFO"] = path
    env.update(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = int(status[:3])
        captured["headers"] = list(response_headers)
        return lambda data: None

    chunks = app(env, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(captured["status"], captured["headers"], data)


@dataclass
class CountingApp:
    """A WSGI app that counts calls and keeps each environ it saw."""

    environs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.environs)

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.environs.append(environ)
        body = json.dumps({"sub": environ.get("jwt_wsgi.identity")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


@pytest.fixture
def counting_app() -> CountingApp:
    return CountingApp()


def manager(**options: Any) -> JWTManager:
    """A manager with the clock frozen at NOW (HS256 with SECRET unless told otherwise)."""
    if not any(k in options for k in ("secret_key", "private_key", "public_key", "jwks",
                                      "jwks_url")):
        options["secret_key"] = SECRET
    options.setdefault("clock", Clock())
    return JWTManager(**options)


def protect(app: CountingApp, jwt: JWTManager | None = None, routes: Mapping[str, Any] | None = None,
            **kwargs: Any) -> JWTMiddleware:
    return JWTMiddleware(app, jwt or manager(), routes={"/p": "required"} if routes is None
                         else routes, **kwargs)


@dataclass(frozen=True)
class Keys:
    """One RSA and one EC (P-256) key pair in the forms an attacker might try."""

    rsa_private: rsa.RSAPrivateKey
    ec_private: ec.EllipticCurvePrivateKey

    def rsa_private_pem(self) -> bytes:
        return self.rsa_private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def ec_private_pem(self) -> bytes:
        return self.ec_private.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())

    def public(self, kind: str, encoding: str) -> bytes:
        key = (self.rsa_private if kind == "rsa" else self.ec_private).public_key()
        if encoding == "pem":
            return key.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        if encoding == "pkcs1" and kind == "rsa":
            return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        if encoding == "der":
            return key.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        if encoding == "ssh":
            return key.public_bytes(serialization.Encoding.OpenSSH,
                                    serialization.PublicFormat.OpenSSH)
        raise ValueError(encoding)


_KEYS: Keys | None = None


def keys() -> Keys:
    """Generated once per session (RSA generation is slow on a busy machine)."""
    global _KEYS
    if _KEYS is None:
        _KEYS = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                     ec.generate_private_key(ec.SECP256R1()))
    return _KEYS


class Upstream:
    """A real HTTP server on 127.0.0.1 that records every request it gets (for jku, x5u, kid URLs)."""

    def __init__(self, body: bytes = b"{}") -> None:
        self.requests: list[str] = []
        self.headers: list[dict[str, list[str]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                seen: dict[str, list[str]] = {}
                for name, value in self.headers.items():
                    seen.setdefault(name.lower(), []).append(value)
                outer.headers.append(seen)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def sign(header: Any, claims: Any, key: Any, alg: str | None = None) -> str:
    """Sign header and claims (dicts, or JSON text as given) with any key, as an attacker could.

    ``key`` is bytes for HS*, or a cryptography private key for RS*, PS* and ES*.
    """
    import base64
    import hashlib
    import hmac as hmac_

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    def enc(part: Any) -> str:
        raw = part if isinstance(part, bytes) else (
            part.encode() if isinstance(part, str) else json.dumps(part).encode())
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    alg = alg or header["alg"]
    signing_input = f"{enc(header)}.{enc(claims)}".encode()
    bits = alg[2:]
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[bits]()
    if alg.startswith("HS"):
        signature = hmac_.new(key, signing_input, getattr(hashlib, "sha" + bits)).digest()
    elif alg.startswith("RS"):
        signature = key.sign(signing_input, padding.PKCS1v15(), digest)
    elif alg.startswith("PS"):
        signature = key.sign(signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size),
                             digest)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def bearer_call(app: Callable[..., Iterable[bytes]], token: str, path: str = "/p",
                **kwargs: Any) -> Answer:
    return call(app, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
