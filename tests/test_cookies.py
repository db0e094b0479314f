"""Cookie helpers on the three kinds of response a WSGI app has, and a login round trip."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable, Iterable
from http.cookies import Morsel, SimpleCookie
from typing import Any

import pytest
import webob
import werkzeug
from werkzeug.test import Client

from jwt_wsgi import (
    InvalidTokenError,
    JWTManager,
    JWTMiddleware,
    get_jwt_identity,
    refresh_expiring_access_cookie,
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_jwt_cookies,
    unset_refresh_cookies,
)
from tests import harness
from tests.harness import NOW, SECRET, Clock

manager = functools.partial(harness.manager, token_location=["cookies"])


def set_cookie_values(response: Any) -> list[str]:
    if isinstance(response, list):
        return [value for name, value in response if name.lower() == "set-cookie"]
    if isinstance(response, webob.Response):
        return [value for name, value in response.headerlist if name.lower() == "set-cookie"]
    return list(response.headers.getlist("Set-Cookie"))


def morsels(response: Any) -> dict[str, Morsel[str]]:
    result: dict[str, Morsel[str]] = {}
    for value in set_cookie_values(response):
        jar: SimpleCookie = SimpleCookie()
        jar.load(value)
        for name, morsel in jar.items():
            assert name not in result, f"{name} set twice"
            result[name] = morsel
    return result


KINDS: dict[str, Callable[[], Any]] = {
    "webob": webob.Response,
    "werkzeug": werkzeug.Response,
    "header-list": list,
}


@pytest.fixture(params=list(KINDS))
def response(request: pytest.FixtureRequest) -> Any:
    return KINDS[request.param]()


def test_access_cookies_default_attributes(response: Any) -> None:
    jwt = manager()
    token = jwt.create_access_token("alice")
    assert set_access_cookies(response, token, manager=jwt) is response
    cookies = morsels(response)
    assert set(cookies) == {"access_token_cookie", "csrf_access_token"}
    access, csrf = cookies["access_token_cookie"], cookies["csrf_access_token"]
    assert access.value == token
    assert csrf.value == jwt.decode_token(token)["csrf"]
    assert access["httponly"] is True and not csrf["httponly"]
    assert access["path"] == csrf["path"] == "/"
    for morsel in (access, csrf):
        assert not morsel["secure"] and not morsel["domain"] and not morsel["samesite"]
        assert not morsel["max-age"] and not morsel["expires"]  # session cookies


def test_refresh_cookies_and_settings(response: Any) -> None:
    jwt = manager(cookie_secure=True, cookie_samesite="Strict", cookie_domain="example.com",
                  refresh_cookie_path="/token/refresh", refresh_csrf_cookie_path="/",
                  session_cookie=False)
    token = jwt.create_refresh_token("alice")
    set_refresh_cookies(response, token, manager=jwt)
    cookies = morsels(response)
    assert set(cookies) == {"refresh_token_cookie", "csrf_refresh_token"}
    refresh, csrf = cookies["refresh_token_cookie"], cookies["csrf_refresh_token"]
    assert refresh["path"] == "/token/refresh" and csrf["path"] == "/"
    assert refresh["httponly"] is True and not csrf["httponly"]
    for morsel in (refresh, csrf):
        assert morsel["secure"] is True
        assert morsel["samesite"] == "Strict"
        assert morsel["domain"] == "example.com"
        assert morsel["max-age"] == "31540000"


def test_explicit_max_age_and_domain(response: Any) -> None:
    jwt = manager(cookie_domain="example.com")
    set_access_cookies(response, jwt.create_access_token("alice"), max_age=60,
                       domain="api.example.com", manager=jwt)
    for morsel in morsels(response).values():
        assert morsel["max-age"] == "60" and morsel["domain"] == "api.example.com"


def test_no_csrf_cookie_when_csrf_is_off_or_not_in_cookies(response: Any) -> None:
    for options in ({"cookie_csrf_protect": False}, {"csrf_in_cookies": False}):
        jwt = manager(**options)
        headers: list[tuple[str, str]] = []
        set_access_cookies(headers, jwt.create_access_token("alice"), manager=jwt)
        assert set(morsels(headers)) == {"access_token_cookie"}


@pytest.mark.parametrize(
    ("unset", "names"),
    [
        pytest.param(unset_jwt_cookies, {"access_token_cookie", "csrf_access_token",
                                         "refresh_token_cookie", "csrf_refresh_token"}, id="all"),
        pytest.param(unset_access_cookies, {"access_token_cookie", "csrf_access_token"},
                     id="access"),
        pytest.param(unset_refresh_cookies, {"refresh_token_cookie", "csrf_refresh_token"},
                     id="refresh"),
    ],
)
def test_unset(response: Any, unset: Callable[..., Any], names: set[str]) -> None:
    jwt = manager(cookie_secure=True, cookie_samesite="Lax", refresh_cookie_path="/token")
    assert unset(response, manager=jwt) is response
    cookies = morsels(response)
    assert set(cookies) == names
    for name, morsel in cookies.items():
        assert morsel.value == ""
        assert morsel["max-age"] == "0" and "1970" in morsel["expires"]
        assert morsel["secure"] is True and morsel["samesite"] == "Lax"
        assert bool(morsel["httponly"]) == name.endswith("_cookie")
        assert morsel["path"] == ("/token" if name == "refresh_token_cookie" else "/")


def test_foreign_token_adds_nothing() -> None:
    jwt = manager()
    other = JWTManager(secret_key="another-secret-" + "x" * 40, token_location=["cookies"])
    headers: list[tuple[str, str]] = []
    with pytest.raises(InvalidTokenError):
        set_access_cookies(headers, other.create_access_token("mallory"), manager=jwt)
    assert headers == []


def test_unsupported_response_is_a_type_error() -> None:
    jwt = manager(cookie_csrf_protect=False)
    with pytest.raises(TypeError, match="webob or werkzeug Response"):
        set_access_cookies(object(), jwt.create_access_token("alice"), manager=jwt)


# -- a round trip through a real WSGI app and a client with a cookie jar ----------------

def login_app(jwt: JWTManager) -> Callable[..., Iterable[bytes]]:
    """Log in (webob), API (werkzeug), logout (plain header list), refresh."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/login":
            response = webob.Response(json={"login": True})
            set_access_cookies(response, jwt.create_access_token("alice"), manager=jwt)
            set_refresh_cookies(response, jwt.create_refresh_token("alice"), manager=jwt)
            return response(environ, start_response)
        if path == "/api":
            wz = werkzeug.Response(json.dumps({"user": get_jwt_identity(environ)}),
                                   content_type="application/json")
            refresh_expiring_access_cookie(environ, wz, manager=jwt)
            return wz(environ, start_response)
        if path == "/token/refresh":
            wz = werkzeug.Response("{}", content_type="application/json")
            set_access_cookies(wz, jwt.create_access_token(get_jwt_identity(environ)),
                               manager=jwt)
            return wz(environ, start_response)
        headers = [("Content-Type", "application/json")]
        unset_jwt_cookies(headers, manager=jwt)
        start_response("200 OK", headers)
        return [b"{}"]

    return app


@pytest.fixture
def jwt(clock: Clock) -> JWTManager:
    return manager(refresh_cookie_path="/token/refresh", clock=clock)


@pytest.fixture
def client(jwt: JWTManager) -> Client:
    return Client(JWTMiddleware(login_app(jwt), jwt, routes={
        "/api": "required", "/token/refresh": "refresh", "/login": "public",
        "/logout": "public"}))


def csrf_header(client: Client, name: str = "csrf_access_token") -> dict[str, str]:
    cookie = client.get_cookie(name)
    assert cookie is not None
    return {"X-CSRF-TOKEN": cookie.value}


def test_login_api_refresh_logout(client: Client, jwt: JWTManager) -> None:
    assert client.post("/api").status_code == 401
    client.post("/login")
    assert client.get_cookie("refresh_token_cookie") is None  # its path is /token/refresh
    assert client.get_cookie("refresh_token_cookie", path="/token/refresh") is not None
    assert client.post("/api").status_code == 401  # no CSRF header
    ok = client.post("/api", headers=csrf_header(client))
    assert ok.status_code == 200 and json.loads(ok.get_data()) == {"user": "alice"}
    old = client.get_cookie("access_token_cookie")
    assert old is not None
    refreshed = client.post("/token/refresh", headers=csrf_header(client, "csrf_refresh_token"))
    assert refreshed.status_code == 200
    new = client.get_cookie("access_token_cookie")
    assert new is not None and new.value != old.value
    assert client.post("/api", headers=csrf_header(client)).status_code == 200
    client.post("/logout")
    assert client.get_cookie("access_token_cookie") is None
    assert client.get_cookie("csrf_access_token") is None
    assert client.get_cookie("refresh_token_cookie", path="/token/refresh") is None
    assert client.get("/api").status_code == 401


def test_implicit_refresh_near_expiry(client: Client, jwt: JWTManager, clock: Clock) -> None:
    client.post("/login")
    first = client.get("/api")
    assert "Set-Cookie" not in first.headers  # 15 minutes left: nothing to do
    clock.now = NOW + 14 * 60
    second = client.get("/api")
    assert second.status_code == 200
    assert set(morsels(second)) == {"access_token_cookie", "csrf_access_token"}
    renewed = client.get_cookie("access_token_cookie")
    assert renewed is not None
    assert jwt.decode_token(renewed.value)["exp"] == NOW + 14 * 60 + 15 * 60


def test_implicit_refresh_ignores_header_tokens(jwt: JWTManager) -> None:
    jwt2 = manager(token_location=["headers", "cookies"])
    token = jwt2.create_access_token("alice", expires_delta=datetime.timedelta(seconds=30))
    client = Client(JWTMiddleware(login_app(jwt2), jwt2, routes={"/api": "required"}))
    response = client.get("/api", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


# -- the same cookies as flask-jwt-extended, both ways ---------------------------------

def flask_app(secret: str) -> Any:
    flask = pytest.importorskip("flask", reason="flask is in the test extras")
    fje = pytest.importorskip("flask_jwt_extended", reason="flask-jwt-extended is in the extras")
    app = flask.Flask("fje")
    app.config.update(JWT_SECRET_KEY=secret, JWT_TOKEN_LOCATION=["cookies"])
    fje.JWTManager(app)

    @app.post("/login")
    def login() -> Any:
        response = flask.jsonify(login=True)
        fje.set_access_cookies(response, fje.create_access_token("alice"))
        return response

    @app.post("/api")
    @fje.jwt_required()
    def api() -> Any:
        return flask.jsonify(user=fje.get_jwt_identity())

    return app


def test_cookies_from_flask_jwt_extended_work_here() -> None:
    ours = JWTManager(secret_key=SECRET, token_location=["cookies"])
    flask_client = flask_app(SECRET).test_client()
    flask_client.post("/login")
    access = flask_client.get_cookie("access_token_cookie")
    csrf = flask_client.get_cookie("csrf_access_token")
    assert access is not None and csrf is not None and access.http_only and not csrf.http_only
    client = Client(JWTMiddleware(login_app(ours), ours, routes={"/api": "required"}),
                    use_cookies=False)
    headers = {"Cookie": f"access_token_cookie={access.value}"}
    assert client.post("/api", headers=headers).status_code == 401
    response = client.post("/api", headers={**headers, "X-CSRF-TOKEN": csrf.value})
    assert response.status_code == 200 and json.loads(response.get_data()) == {"user": "alice"}


def test_our_cookies_work_in_flask_jwt_extended() -> None:
    ours = JWTManager(secret_key=SECRET, token_location=["cookies"])
    headers: list[tuple[str, str]] = []
    set_access_cookies(headers, ours.create_access_token("alice"), manager=ours)
    cookies = morsels(headers)
    client = flask_app(SECRET).test_client()
    client.set_cookie("access_token_cookie", cookies["access_token_cookie"].value)
    assert client.post("/api").status_code == 401  # flask-jwt-extended wants the CSRF header too
    response = client.post("/api", headers={"X-CSRF-TOKEN": cookies["csrf_access_token"].value})
    assert response.status_code == 200 and response.json == {"user": "alice"}
