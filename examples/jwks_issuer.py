"""One jwt_wsgi service as the issuer for others: it signs with a private key and
publishes the public half at ``/.well-known/jwks.json``.

Run it::

    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out issuer.pem
    JWT_PRIVATE_KEY_FILE=issuer.pem python examples/jwks_issuer.py     # 127.0.0.1:8001

Any other service then verifies the tokens it hands out, picking up key rotation by
itself (publish the new key beside the old one until the old tokens have expired)::

    jwt = JWTManager(algorithm="RS256",
                     jwks_url="http://127.0.0.1:8001/.well-known/jwks.json",
                     issuer="http://127.0.0.1:8001")
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jwt_wsgi import JWTManager

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def make_issuer(private_key_pem: str, issuer: str) -> tuple[WSGIApplication, JWTManager]:
    """The issuer app: ``POST /token`` mints, ``GET /.well-known/jwks.json`` publishes."""
    jwt = JWTManager(algorithm="RS256", private_key=private_key_pem, issuer=issuer)
    jwks_body = json.dumps(jwt.jwks()).encode()

    def reply(start_response: StartResponse, status: str, body: bytes,
              extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body))), *(extra or [])])
        return [body]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/.well-known/jwks.json":
            # Verifiers cache the set; a shorter max-age makes new keys visible sooner.
            return reply(start_response, "200 OK", jwks_body,
                         [("Cache-Control", "public, max-age=300")])
        if path == "/token" and environ.get("REQUEST_METHOD") == "POST":
            # Authenticate the caller here; this example hands a token to anyone.
            body: dict[str, Any] = {"access_token": jwt.create_access_token("service-a")}
            return reply(start_response, "200 OK", json.dumps(body).encode())
        return reply(start_response, "404 Not Found", b'{"msg": "Not found"}')

    # Nothing here asks for a token, so no JWTMiddleware wraps it (one with every route
    # public is refused: it would protect nothing).
    return app, jwt


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with open(os.environ["JWT_PRIVATE_KEY_FILE"]) as pem:
        application, _ = make_issuer(pem.read(), "http://127.0.0.1:8001")
    print("JWKS at http://127.0.0.1:8001/.well-known/jwks.json")
    make_server("127.0.0.1", 8001, application).serve_forever()
