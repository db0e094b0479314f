"""The core examples, driven through real WSGI: the seed's Flask app and a plain WSGI app."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from werkzeug.test import Client

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JWT_SECRET_KEY", "example-secret-" + "x" * 40)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    pytest.importorskip("flask", reason="flask is in the test extras")
    return load("seed_app", monkeypatch)


def login(client: Client, username: object, password: object) -> tuple[int, dict[str, object]]:
    response = client.post("/login", json={"username": username, "password": password})
    return response.status_code, response.get_json()


def test_seed_login_needs_both_username_and_password(seed: ModuleType) -> None:
    client = Client(seed.app)
    status, body = login(client, "test", "test")
    assert status == 200 and isinstance(body["access_token"], str)
    # The seed's `and` let each of these in; ours refuses them.
    for username, password in [("test", "wrong"), ("wrong", "test"), ("test", None),
                               (None, "test"), (["test"], "test"), ("", "")]:
        assert login(client, username, password) == (401, {"msg": "Bad username or password"})


def test_seed_protected_route(seed: ModuleType) -> None:
    client = Client(seed.app)
    response = client.get("/protected")
    assert response.status_code == 401
    assert response.get_json() == {"msg": "Missing Authorization Header"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _, body = login(client, "test", "test")
    response = client.get("/protected", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 200
    assert response.get_json() == {"hello": "from test"}


def test_seed_expired_token_gets_the_seed_answer(seed: ModuleType) -> None:
    token = seed.jwt.create_access_token("test", expires_delta=-30)
    response = Client(seed.app).get("/protected", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json() == {"status": 401, "sub_status": 42, "msg": "The token has expired"}
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge and token not in challenge


def test_seed_is_deny_by_default(seed: ModuleType) -> None:
    response = Client(seed.app).get("/anything-else")
    assert response.status_code == 401


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load("plain_wsgi", monkeypatch)


def test_plain_public_and_custom_responder(plain: ModuleType) -> None:
    client = Client(plain.application)
    assert client.get("/").status_code == 200
    response = client.get("/whoami")
    assert response.status_code == 401
    assert json.loads(response.data) == {"msg": "Missing Authorization Header", "path": "/whoami"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_plain_claims_reach_the_app_and_scopes_are_enforced(plain: ModuleType) -> None:
    client = Client(plain.application)
    reader = plain.jwt.create_access_token("alice", additional_claims={"scope": "reports:read"})
    nobody = plain.jwt.create_access_token("bob")
    response = client.get("/whoami", headers={"Authorization": f"Bearer {reader}"})
    assert json.loads(response.data) == {"identity": "alice", "scope": "reports:read"}
    response = client.get("/reports/2024", headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 200 and json.loads(response.data) == {"report": "2024"}
    response = client.get("/reports/2024", headers={"Authorization": f"Bearer {nobody}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    # Not an int: no match for that rule, so the default (required) applies.
    assert client.get("/reports/latest").status_code == 401


# -- no view is reachable by a path or method the table does not protect as intended ------

REPORT_NEAR_MISSES = [
    pytest.param("POST", "/reports/2024", id="post_to_a_report"),
    pytest.param("DELETE", "/reports/2024", id="delete_a_report"),
    pytest.param("GET", "/reports/latest", id="not_an_int"),
    pytest.param("GET", "/reports/2024/", id="trailing_slash"),
    pytest.param("GET", "/reports/2024/x", id="below_a_report"),
    pytest.param("GET", "/reports/", id="the_prefix_itself"),
]


@pytest.mark.parametrize(("method", "path"), REPORT_NEAR_MISSES)
def test_plain_reports_without_the_scope_are_never_served(plain: ModuleType, method: str,
                                                          path: str) -> None:
    """The table protected only ``GET /reports/<int:year>`` with the scope, while the app
    served every method under ``/reports/``: a token without the scope read them."""
    client = Client(plain.application)
    nobody = plain.jwt.create_access_token("bob")
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {nobody}"})
    assert response.status_code in (400, 403), response.data
    reader = plain.jwt.create_access_token("alice", additional_claims={"scope": "reports:read"})
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code in (400, 404), response.data


@pytest.fixture
def revocation(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # only the dispatch is driven
    return load("redis_revocation", monkeypatch)


@pytest.mark.parametrize(("method", "path"), [
    pytest.param("GET", "/refresh", id="get_refresh_minted_from_an_access_token"),
    pytest.param("PUT", "/refresh", id="put_refresh"),
    pytest.param("GET", "/logout/everywhere", id="get_logout_everywhere"),
    pytest.param("GET", "/logout", id="get_logout"),
    pytest.param("GET", "/login", id="get_login"),
    pytest.param("POST", "/whoami", id="post_whoami"),
])
def test_revocation_example_serves_only_the_methods_its_table_names(
        revocation: ModuleType, method: str, path: str) -> None:
    """``GET /refresh`` fell to the default policy (any access token) and the app minted a
    new access token there: an access token could renew itself forever."""
    response = Client(revocation.api).open(path, method=method)
    assert response.status_code == 404


def test_revocation_example_table_names_every_served_pair(revocation: ModuleType) -> None:
    expected = {"/login": "public", "/refresh": "refresh", "/logout/everywhere": "refresh",
                "/logout": "required", "/whoami": "required"}
    for method, path in revocation.SERVED:
        assert revocation.app.routes.resolve(method, path).require == expected[path]
