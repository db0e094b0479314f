"""The demo app behind ``jwt-wsgi demo``: a plain WSGI app with a login and a protected API."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .context import get_jwt, get_jwt_identity
from .manager import JWTManager
from .middleware import JWTMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEMO_USERS = {"alice": "wonderland", "bob": "builder"}
DEMO_ROUTES = {
    "/": "public",
    "POST /login": "public",
    "/protected": "required",
    "/admin/*": {"require": "fresh", "claims": {"role": "admin"}},
    "POST /refresh": "refresh",
}


def _json(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def make_demo(secret: str | None = None) -> tuple[WSGIApplication, JWTManager]:
    """Build the protected demo app and its manager (a fresh random secret by default)."""
    jwt = JWTManager(secret_key=secret or secrets.token_urlsafe(48))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/login" and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(min(length, 65536)) or b"{}")
                user, password = body.get("username"), body.get("password")
            except (ValueError, AttributeError):
                return _json(start_response, "400 Bad Request", {"msg": "Send JSON"})
            if not isinstance(user, str) or not secrets.compare_digest(
                    DEMO_USERS.get(user, "\0"), str(password)):
                return _json(start_response, "401 Unauthorized", {"msg": "Bad username or password"})
            role = "admin" if user == "alice" else "user"
            return _json(start_response, "200 OK", {
                "access_token": jwt.create_access_token(user, fresh=True,
                                                        additional_claims={"role": role}),
                "refresh_token": jwt.create_refresh_token(user),
            })
        if path == "/refresh":
            token = jwt.create_access_token(get_jwt_identity(environ), fresh=False)
            return _json(start_response, "200 OK", {"access_token": token})
        if path == "/protected":
            return _json(start_response, "200 OK", {"logged_in_as": get_jwt_identity(environ)})
        if path.startswith("/admin"):
            return _json(start_response, "200 OK", {"admin": get_jwt(environ).get("sub")})
        if path == "/":
            return _json(start_response, "200 OK", {"hello": "public page; try /protected"})
        return _json(start_response, "404 Not Found", {"msg": "Not found"})

    return JWTMiddleware(app, jwt, routes=DEMO_ROUTES), jwt
