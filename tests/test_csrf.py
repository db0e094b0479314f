"""CSRF double submit: cookie tokens on state-changing methods must echo their csrf claim."""

from __future__ import annotations

import functools
import io
import json
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from tests import harness
from tests.harness import NOW, Recorder, sign_hs256

ROUTES = {"/api/*": "required", "/token/refresh": "refresh", "/feed": "optional"}


manager = functools.partial(harness.manager, token_location=["cookies", "headers"])


def client_for(jwt: JWTManager, recorder: Recorder) -> Client:
    return Client(JWTMiddleware(recorder, jwt, routes=ROUTES), use_cookies=False)


def cookie_request(client: Client, method: str, token: str, csrf: str | None = None,
                   path: str = "/api/x", cookie: str = "access_token_cookie",
                   header: str = "X-CSRF-TOKEN", **kwargs: Any) -> Any:
    headers = {"Cookie": f"{cookie}={token}"}
    if csrf is not None:
        headers[header] = csrf
    return client.open(path, method=method, headers=headers, **kwargs)


def msg(response: Any) -> str:
    return str(json.loads(response.get_data())["msg"])


@pytest.fixture
def jwt() -> JWTManager:
    return manager()


@pytest.fixture
def client(jwt: JWTManager, recorder: Recorder) -> Client:
    return client_for(jwt, recorder)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_state_changing_methods_need_the_csrf_header(method: str, jwt: JWTManager,
                                                     client: Client, recorder: Recorder) -> None:
    token = jwt.create_access_token("alice")
    csrf = jwt.decode_token(token)["csrf"]
    missing = cookie_request(client, method, token)
    assert missing.status_code == 401 and msg(missing) == "Missing CSRF token"
    assert 'error="invalid_token"' in missing.headers["WWW-Authenticate"]
    wrong = cookie_request(client, method, token, csrf[:-1] + ("0" if csrf[-1] != "0" else "1"))
    assert wrong.status_code == 401 and msg(wrong) == "CSRF double submit tokens do not match"
    assert recorder.calls == 0
    ok = cookie_request(client, method, token, csrf)
    assert ok.status_code == 200 and recorder.environs[-1]["jwt_wsgi.identity"] == "alice"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_need_no_csrf(method: str, jwt: JWTManager, client: Client) -> None:
    assert cookie_request(client, method, jwt.create_access_token("alice")).status_code == 200


def test_csrf_methods_setting(recorder: Recorder) -> None:
    jwt = manager(csrf_methods=["GET", "POST"])
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    assert cookie_request(client, "GET", token).status_code == 401
    assert cookie_request(client, "DELETE", token).status_code == 200  # not listed any more
    csrf = jwt.decode_token(token)["csrf"]
    assert cookie_request(client, "GET", token, csrf).status_code == 200


def test_header_tokens_need_no_csrf(jwt: JWTManager, client: Client) -> None:
    token = jwt.create_access_token("alice")
    response = client.post("/api/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_csrf_protection_off(recorder: Recorder) -> None:
    jwt = manager(cookie_csrf_protect=False)
    token = jwt.create_access_token("alice")
    assert "csrf" not in jwt.decode_token(token)
    assert cookie_request(client_for(jwt, recorder), "POST", token).status_code == 200


def test_cookie_token_without_csrf_claim(jwt: JWTManager, client: Client) -> None:
    claims = {"sub": "alice", "type": "access", "fresh": False, "iat": NOW, "jti": "j1",
              "exp": NOW + 60}
    token = sign_hs256({"alg": "HS256", "typ": "JWT"}, claims)
    response = cookie_request(client, "POST", token, "anything")
    assert response.status_code == 401 and msg(response) == "Missing claim: csrf"
    assert cookie_request(client, "GET", token).status_code == 200


def test_csrf_checked_only_after_the_token_is_verified(jwt: JWTManager, client: Client) -> None:
    claims = {"sub": "alice", "type": "access", "iat": NOW, "jti": "j1", "csrf": "known"}
    forged = sign_hs256({"alg": "HS256", "typ": "JWT"}, claims, secret="not-our-secret-" * 4)
    response = cookie_request(client, "POST", forged, "known")
    assert response.status_code == 401 and "CSRF" not in msg(response)


def test_refresh_cookie_uses_the_refresh_csrf_header(recorder: Recorder) -> None:
    jwt = manager(refresh_csrf_header_name="X-CSRF-REFRESH")
    client = client_for(jwt, recorder)
    refresh = jwt.create_refresh_token("alice")
    csrf = jwt.decode_token(refresh)["csrf"]
    kwargs = {"path": "/token/refresh", "cookie": "refresh_token_cookie"}
    assert cookie_request(client, "POST", refresh, csrf, **kwargs).status_code == 401
    assert cookie_request(client, "POST", refresh, csrf, header="X-CSRF-REFRESH",
                          **kwargs).status_code == 200


def test_optional_route_still_checks_csrf(jwt: JWTManager, client: Client) -> None:
    token = jwt.create_access_token("alice")
    assert cookie_request(client, "POST", token, path="/feed").status_code == 401
    assert client.post("/feed").status_code == 200


def test_form_field(recorder: Recorder) -> None:
    jwt = manager(csrf_check_form=True)
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    csrf = jwt.decode_token(token)["csrf"]
    headers = {"Cookie": f"access_token_cookie={token}"}
    ok = client.post("/api/x", headers=headers, data={"csrf_token": csrf, "note": "hi"})
    assert ok.status_code == 200
    # The app can still read the form it was sent.
    environ = recorder.environs[-1]
    assert environ["wsgi.input"].read() == f"csrf_token={csrf}&note=hi".encode()
    multipart = client.post("/api/x", headers=headers,
                            data={"csrf_token": csrf, "file": (io.BytesIO(b"x"),
                                                               "a.txt")})
    assert multipart.status_code == 200
    wrong = client.post("/api/x", headers=headers, data={"csrf_token": "nope"})
    assert wrong.status_code == 401 and msg(wrong) == "CSRF double submit tokens do not match"
    twice = client.post("/api/x", headers=headers,
                        data=f"csrf_token={csrf}&csrf_token={csrf}",
                        content_type="application/x-www-form-urlencoded")
    assert twice.status_code == 401 and msg(twice) == "CSRF token given more than once"


def test_form_field_ignored_unless_enabled(jwt: JWTManager, client: Client) -> None:
    token = jwt.create_access_token("alice")
    csrf = jwt.decode_token(token)["csrf"]
    response = client.post("/api/x", headers={"Cookie": f"access_token_cookie={token}"},
                           data={"csrf_token": csrf})
    assert response.status_code == 401 and msg(response) == "Missing CSRF token"


def test_csrf_error_loader(jwt: JWTManager, client: Client) -> None:
    @jwt.csrf_error_loader
    def csrf_failed(reason: str) -> tuple[dict[str, str], int]:
        return {"error": "csrf", "why": reason}, 403

    response = cookie_request(client, "POST", jwt.create_access_token("alice"))
    assert response.status_code == 403
    assert json.loads(response.get_data()) == {"error": "csrf", "why": "Missing CSRF token"}
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize(("claim", "submitted", "status"), [
    pytest.param("\ud800", "anything", 401, id="surrogate-claim"),
    pytest.param("\udcff-\ud800", "\udcff-\ud800", 200, id="surrogate-claim-echoed"),
    pytest.param("known", "\ud800", 401, id="surrogate-header"),
    pytest.param("?", "\ud800", 401, id="surrogate-header-is-not-a-replacement-char"),
    pytest.param("\ud800", "\udc00", 401, id="different-surrogates"),
])
def test_lone_surrogates_are_compared_not_crashed_on(claim: str, submitted: str, status: int,
                                                     client: Client, recorder: Recorder) -> None:
    # A lone surrogate is a legal JSON escape ("\ud800") but has no UTF-8 encoding; it was
    # a 500 when the claim held one. It is compared like any other value (an exact match only).
    claims = {"sub": "alice", "type": "access", "fresh": False, "iat": NOW, "jti": "j1",
              "exp": NOW + 60, "csrf": claim}
    token = sign_hs256({"alg": "HS256", "typ": "JWT"}, json.dumps(claims))
    response = cookie_request(client, "POST", token, submitted)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        assert msg(response) == "CSRF double submit tokens do not match"
        assert recorder.calls == 0
