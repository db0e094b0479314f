"""The framework examples in examples/, each driven through its real framework.

Each example has a login that mints tokens, a protected route, a custom responder and a
view reading the claims the framework's way. The modules are imported from examples/ by
path (they are not part of the package).
"""

from __future__ import annotations

import datetime
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager
from tests.harness import bearer, need

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAST = datetime.timedelta(seconds=-60)


def load_example(module: str) -> ModuleType:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(module)


def body(response: Any) -> Any:
    return json.loads(response.get_data())


def login(client: Client, user: str = "alice", password: str = "wonderland") -> dict[str, Any]:
    response = client.post("/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.get_data()
    return body(response)  # type: ignore[no-any-return]


def _expired(jwt: JWTManager, user: str) -> str:
    """A token minted an hour ago with the default 15-minute lifetime."""
    an_hour_ago = JWTManager(jwt.settings, clock=lambda: jwt.clock() - 3600)
    return an_hour_ago.create_access_token(user, fresh=True)


# -- Django ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def django_site() -> ModuleType:
    need("django")
    return load_example("django_site.wsgi")


def test_django_login_and_view_reading_get_jwt(django_site: ModuleType) -> None:
    client = Client(django_site.application)
    tokens = login(client)
    response = client.get("/api/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert body(response) == {"user": "alice", "role": "admin", "remote_user": "alice"}


def test_django_refusals_never_reach_django(django_site: ModuleType) -> None:
    client = Client(django_site.application)
    missing = client.get("/api/me")
    assert missing.status_code == 401 and body(missing) == {"msg": "Missing Authorization Header"}
    # deny by default: a path Django does not know is refused before Django's 404
    assert client.get("/nowhere").status_code == 401
    assert client.get("/health").status_code == 200
    bad_password = client.post("/login", json={"username": "alice", "password": "x"})
    assert bad_password.status_code == 401


def test_django_custom_expired_responder(django_site: ModuleType) -> None:
    client = Client(django_site.application)
    response = client.get("/api/me", headers=bearer(_expired(django_site.jwt, "bob")))
    assert response.status_code == 401
    assert body(response) == {"msg": "Your session has expired, log in again", "user": "bob"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer error=\"invalid_token\"")


def test_django_admin_needs_fresh_admin_token(django_site: ModuleType) -> None:
    client = Client(django_site.application)
    jwt = django_site.jwt
    fresh_admin = login(client)["access_token"]
    assert body(client.get("/admin/stats", headers=bearer(fresh_admin))) == {
        "admin": "alice", "fresh": True}
    stale = jwt.create_access_token("alice", additional_claims={"role": "admin"})
    assert client.get("/admin/stats", headers=bearer(stale)).status_code == 401
    bob = login(client, "bob", "builder")["access_token"]
    assert client.get("/admin/stats", headers=bearer(bob)).status_code == 403


# -- Pyramid -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pyramid_app() -> ModuleType:
    need("pyramid")
    return load_example("pyramid_app")


def test_pyramid_request_properties(pyramid_app: ModuleType) -> None:
    client = Client(pyramid_app.application)
    tokens = login(client)
    me = body(client.get("/api/me", headers=bearer(tokens["access_token"])))
    assert me["user"] == "alice" and len(me["jti"]) > 10
    assert body(client.get("/")) == {"hello": "public page", "user": None}
    assert body(client.get("/", headers=bearer(tokens["access_token"])))["user"] == "alice"
    refreshed = client.post("/token/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    claims = pyramid_app.jwt.decode_token(body(refreshed)["access_token"])
    assert claims["fresh"] is False and claims["sub"] == "alice"


def test_pyramid_custom_unauthorized_responder(pyramid_app: ModuleType) -> None:
    client = Client(pyramid_app.application)
    response = client.get("/api/me")
    assert response.status_code == 401
    assert body(response) == {"error": "login_required", "detail": "Missing Authorization Header",
                              "login": "/login"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    # an access token is no refresh token
    access = login(client)["access_token"]
    assert client.post("/token/refresh", headers=bearer(access)).status_code == 401


# -- Falcon ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def falcon_app() -> ModuleType:
    need("falcon")
    return load_example("falcon_app")


def test_falcon_context_carries_claims(falcon_app: ModuleType) -> None:
    client = Client(falcon_app.application)
    token = login(client)["access_token"]
    assert body(client.get("/api/me", headers=bearer(token))) == {"user": "alice", "type": "access"}
    assert body(client.put("/api/password", headers=bearer(token))) == {"changed_for": "alice"}
    assert client.post("/login", json={"username": "alice", "password": "no"}).status_code == 401


def test_falcon_custom_fresh_responder(falcon_app: ModuleType) -> None:
    client = Client(falcon_app.application)
    stale = falcon_app.jwt.create_access_token("bob")
    assert client.get("/api/me", headers=bearer(stale)).status_code == 200
    response = client.put("/api/password", headers=bearer(stale))
    assert response.status_code == 401
    assert body(response) == {"title": "Fresh login required",
                              "description": "bob, confirm your password first"}
    assert "invalid_token" in response.headers["WWW-Authenticate"]


# -- Bottle ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bottle_app() -> ModuleType:
    need("bottle")
    return load_example("bottle_app")


def test_bottle_remote_user_and_scopes(bottle_app: ModuleType) -> None:
    client = Client(bottle_app.application)
    alice = login(client)["access_token"]
    assert body(client.get("/notes", headers=bearer(alice))) == {
        "owner": "alice", "scope": "notes:read notes:write"}
    assert body(client.post("/notes", headers=bearer(alice))) == {"added_by": "alice"}


def test_bottle_custom_scope_responder(bottle_app: ModuleType) -> None:
    client = Client(bottle_app.application)
    bob = login(client, "bob", "builder")["access_token"]
    assert client.get("/notes", headers=bearer(bob)).status_code == 200
    response = client.post("/notes", headers=bearer(bob))
    assert response.status_code == 403
    assert response.get_data(as_text=True) == "Forbidden: Insufficient scope\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert 'scope="notes:write"' in response.headers["WWW-Authenticate"]
