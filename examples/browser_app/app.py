"""A browser login flow with JWT cookies and CSRF double submit, as a plain WSGI app.

Run it: ``JWT_SECRET_KEY=... python examples/browser_app/app.py`` and open
http://127.0.0.1:8000/ (user ``alice``, password ``wonderland``).

The flow:

1. ``POST /login`` (an HTML form) checks the password, mints an access and a refresh
   token and sets them as HttpOnly cookies, each with a readable CSRF cookie beside it.
2. The page's script calls ``POST /api/data`` with ``X-CSRF-TOKEN`` read from the
   ``csrf_access_token`` cookie. The browser adds the access cookie by itself; the
   middleware checks the token, then that the header equals the token's ``csrf`` claim.
   A page on another site can make the browser send the cookie, but cannot read the CSRF
   cookie, so its requests fail.
3. ``POST /token/refresh`` (the refresh cookie is only sent to this path, with the
   ``csrf_refresh_token`` value in the header) issues a new access cookie.
4. ``POST /logout`` revokes the access token and expires every cookie.

The app never handles a token itself except to mint one: the routes table below is the
whole of its access control.
"""

from __future__ import annotations

import hmac
import html
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import webob

from jwt_wsgi import (
    JWTManager,
    JWTMiddleware,
    get_jwt,
    get_jwt_identity,
    refresh_expiring_access_cookie,
    set_access_cookies,
    set_refresh_cookies,
    unset_jwt_cookies,
)

HERE = Path(__file__).resolve().parent
#: Demo users. A real app checks a password hash (``hashlib.scrypt``, argon2...).
USERS = {"alice": "wonderland"}
ROUTES = {
    "/": "public",
    "/static/*": "public",
    "POST /login": "public",
    "/api/*": "required",
    "POST /token/refresh": "refresh",
    "POST /logout": "optional",
}
# Script only from our own origin: a stolen page cannot inject script to read the CSRF cookie.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]


def make_manager(secret_key: str | None = None) -> JWTManager:
    """Cookies for the browser, the header for scripts and curl; SameSite=Lax on top of CSRF."""
    return JWTManager(
        secret_key=secret_key or os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48),
        token_location=["cookies", "headers"],
        cookie_samesite="Lax",
        cookie_secure=os.environ.get("COOKIE_SECURE", "") == "1",  # set it behind HTTPS
        refresh_cookie_path="/token/refresh",
    )


class BrowserApp:
    """The WSGI app behind the middleware: pages, login, a JSON API, refresh, logout."""

    def __init__(self, jwt: JWTManager) -> None:
        self.jwt = jwt
        self.page = (HERE / "index.html").read_text("utf-8")
        self.script = (HERE / "app.js").read_bytes()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = webob.Request(environ)
        response = self.dispatch(request)
        response.headerlist.extend(SECURITY_HEADERS)
        return response(environ, start_response)

    def dispatch(self, request: webob.Request) -> webob.Response:
        path, method = request.path_info, request.method
        if path == "/" and method in ("GET", "HEAD"):
            return self.index(request, "")
        if path == "/static/app.js":
            return webob.Response(body=self.script, content_type="text/javascript",
                                  charset="utf-8")
        if path == "/login" and method == "POST":
            return self.login(request)
        if path == "/api/me":
            return json_response({"user": get_jwt_identity(request)})
        if path == "/api/data" and method == "POST":
            claims = get_jwt(request)
            response = json_response({"user": get_jwt_identity(request),
                                      "token_expires": claims.get("exp"),
                                      "message": "Hello from the protected API"})
            # Implicit refresh: a cookie token with under 5 minutes left is replaced.
            return refresh_expiring_access_cookie(request, response, manager=self.jwt)
        if path == "/token/refresh" and method == "POST":
            response = json_response({"refreshed": True})
            token = self.jwt.create_access_token(get_jwt_identity(request))
            return set_access_cookies(response, token, manager=self.jwt)
        if path == "/logout" and method == "POST":
            if get_jwt(request):
                self.jwt.revoke(get_jwt(request))
            return unset_jwt_cookies(json_response({"logout": True}), manager=self.jwt)
        return json_response({"msg": "Not found"}, 404)

    def index(self, request: webob.Request, error: str, status: int = 200) -> webob.Response:
        body = self.page.replace("{{error}}", html.escape(error))
        return webob.Response(body=body.encode(), status=status, content_type="text/html",
                              charset="utf-8")

    def login(self, request: webob.Request) -> webob.Response:
        username = request.POST.get("username", "")
        password = request.POST.get("password", "")
        expected = USERS.get(username)
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            return self.index(request, "Wrong user name or password", 401)
        response = webob.Response(status=303, location="/")
        set_access_cookies(response, self.jwt.create_access_token(username, fresh=True),
                           manager=self.jwt)
        set_refresh_cookies(response, self.jwt.create_refresh_token(username),
                            manager=self.jwt)
        return response


def json_response(body: Any, status: int = 200) -> webob.Response:
    return webob.Response(body=json.dumps(body).encode(), status=status,
                          content_type="application/json", charset=None)


def make_app(jwt: JWTManager | None = None) -> JWTMiddleware:
    """The protected app: everything under /api needs a token, from a cookie or a header."""
    jwt = jwt or make_manager()
    return JWTMiddleware(BrowserApp(jwt), jwt, routes=ROUTES, default="required")


application = make_app()

if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8000, application) as server:
        print("Serving on http://127.0.0.1:8000/ (alice / wonderland); Ctrl-C to stop")
        server.serve_forever()
