"""A plain WSGI function protected by jwt_wsgi: no framework at all.

Run it: ``JWT_SECRET_KEY=... python examples/plain_wsgi.py`` (serves on 127.0.0.1:8000).
The app reads the verified claims from the environ; the middleware has already refused every
request that needed a token and did not carry a valid one.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from typing import Any

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt, get_jwt_identity

jwt = JWTManager(secret_key=os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48))


@jwt.unauthorized_loader
def no_token(msg: str, *, environ: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A custom responder: also say which path wanted the token."""
    return {"msg": msg, "path": environ.get("PATH_INFO", "")}, 401


def _json(start_response: Any, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/whoami":
        return _json(start_response, "200 OK", {"identity": get_jwt_identity(environ),
                                                "scope": get_jwt(environ).get("scope")})
    if path.startswith("/reports/"):  # everything under it needs the scope: "/reports/*"
        year = path[len("/reports/"):]
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and year.isdigit():
            return _json(start_response, "200 OK", {"report": year})
    if path == "/":
        return _json(start_response, "200 OK", {"hello": "public"})
    return _json(start_response, "404 Not Found", {"msg": "Not found"})


application = JWTMiddleware(app, jwt, routes={
    "/": "public",
    "/whoami": "required",
    # The whole prefix the app serves, every method: a narrower key such as
    # "GET /reports/<int:year>" left POST /reports/2024 and /reports/x to the default
    # policy, which asks for a token but not for the scope.
    "/reports/*": {"require": "required", "scopes": ["reports:read"]},
}, default="required")


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    print("token:", jwt.create_access_token("alice", additional_claims={"scope": "reports:read"}))
    make_server("127.0.0.1", 8000, application).serve_forever()
