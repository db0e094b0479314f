"""The demo app behind ``jwt-wsgi demo``: a plain WSGI app with a login and a protected API.

It is the first thing people copy, so its app and its routes table cannot disagree: both
come from one list, :data:`ENDPOINTS`, of (methods, pattern, policy, view). The table is
built from it, and so is the app's werkzeug ``Map``: a path or method the list does not
name is a 404 or 405 from the app, and the table denies it by default before that. (An
earlier demo matched ``path.startswith("/admin")`` while its table protected ``/admin/*``,
so ``/adminpanel`` reached the admin view without a token; it minted on ``GET /refresh``
while the table protected only ``POST /refresh``, so that answered a 500.)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from .context import get_jwt, get_jwt_identity
from .manager import JWTManager
from .middleware import JWTMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEMO_USERS = {"alice": "wonderland", "bob": "builder"}
#: What a view returns: the status code and a JSON body.
Answer = tuple[int, Any]
View = Callable[[JWTManager, "WSGIEnvironment"], Answer]


@dataclass(frozen=True)
class Endpoint:
    """One thing the demo serves: the methods, the werkzeug pattern, its policy, its view."""

    methods: tuple[str, ...]
    pattern: str
    policy: str | dict[str, Any]
    view: View

    @property
    def key(self) -> str:
        """The routes-table key: ``"GET /protected"``."""
        return f"{','.join(self.methods)} {self.pattern}"


def _home(jwt: JWTManager, environ: WSGIEnvironment) -> Answer:
    return 200, {"hello": "public page; try /protected"}


def _login(jwt: JWTManager, environ: WSGIEnvironment) -> Answer:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(min(length, 65536)) or b"{}")
        user, password = body.get("username"), body.get("password")
    except (ValueError, AttributeError):
        return 400, {"msg": "Send JSON: {\"username\": ..., \"password\": ...}"}
    if not isinstance(user, str) or not secrets.compare_digest(
            DEMO_USERS.get(user, "\0"), str(password)):
        return 401, {"msg": "Bad username or password"}
    role = "admin" if user == "alice" else "user"
    return 200, {"access_token": jwt.create_access_token(user, fresh=True,
                                                         additional_claims={"role": role}),
                 "refresh_token": jwt.create_refresh_token(user)}


def _refresh(jwt: JWTManager, environ: WSGIEnvironment) -> Answer:
    return 200, {"access_token": jwt.create_access_token(get_jwt_identity(environ), fresh=False)}


def _protected(jwt: JWTManager, environ: WSGIEnvironment) -> Answer:
    return 200, {"logged_in_as": get_jwt_identity(environ)}


def _admin_stats(jwt: JWTManager, environ: WSGIEnvironment) -> Answer:
    return 200, {"admin": get_jwt(environ).get("sub")}


#: Everything the demo serves. The routes table and the app's dispatch are both built
#: from this list; anything else is denied by default (``default="required"``).
ENDPOINTS = (
    Endpoint(("GET",), "/", "public", _home),
    Endpoint(("POST",), "/login", "public", _login),
    Endpoint(("GET",), "/protected", "required", _protected),
    Endpoint(("GET",), "/admin/stats", {"require": "fresh", "claims": {"role": "admin"}},
             _admin_stats),
    Endpoint(("POST",), "/refresh", "refresh", _refresh),
)
DEMO_ROUTES = {endpoint.key: endpoint.policy for endpoint in ENDPOINTS}


def _json(start_response: StartResponse, status: int, body: Any,
          headers: Iterable[tuple[str, str]] = ()) -> Iterable[bytes]:
    from http import HTTPStatus

    data = json.dumps(body).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                    *headers])
    return [data]


def demo_app(jwt: JWTManager) -> WSGIApplication:
    """The unprotected app: a werkzeug ``Map`` of :data:`ENDPOINTS`, exact paths only
    (no slash merging or redirects, so what it serves is exactly what the table names)."""
    url_map = Map([Rule(e.pattern, methods=e.methods, endpoint=i)
                   for i, e in enumerate(ENDPOINTS)],
                  strict_slashes=True, merge_slashes=False, redirect_defaults=False)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            index, _args = url_map.bind_to_environ(environ).match()
        except HTTPException as error:  # 404, 405 (with its Allow header)
            allow = [(k, v) for k, v in error.get_headers() if k.lower() == "allow"]
            return _json(start_response, error.code or 500, {"msg": error.name}, allow)
        status, body = ENDPOINTS[index].view(jwt, environ)
        return _json(start_response, status, body)

    return app


def make_demo(secret: str | None = None) -> tuple[WSGIApplication, JWTManager]:
    """Build the protected demo app and its manager (a fresh random secret by default)."""
    jwt = JWTManager(secret_key=secret or secrets.token_urlsafe(48))
    return JWTMiddleware(demo_app(jwt), jwt, routes=DEMO_ROUTES, default="required"), jwt
