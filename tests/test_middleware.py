"""The middleware end to end through real WSGI: policies, environ, refusals."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import webob
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, get_jwt, get_jwt_header, get_jwt_identity
from tests.harness import NOW, SECRET, Recorder, bearer, sign_hs256

ROUTES = {
    "/protected": "required",
    "POST,DELETE /admin/*": "fresh",
    "/token/refresh": "refresh",
    "/feed": "optional",
    "/users/<int:user_id>": {"require": "required", "scopes": ["users:read"]},
    "/staff/*": {"require": "required", "claims": {"role": "staff", "active": True}},
    "/health": "public",
}

MakeToken = Callable[..., str]


@pytest.fixture
def client(protect: Callable[..., Client]) -> Client:
    return protect(ROUTES)


def body(response: Any) -> Any:
    return json.loads(response.get_data())


def test_valid_token_reaches_the_app_with_claims(client: Client, recorder: Recorder,
                                                 make_token: MakeToken) -> None:
    response = client.get("/protected", headers=bearer(make_token("alice")))
    assert response.status_code == 200
    environ = recorder.environs[-1]
    assert environ["jwt_wsgi.claims"]["sub"] == "alice"
    assert environ["jwt_wsgi.header"]["alg"] == "HS256"
    assert environ["jwt_wsgi.identity"] == "alice" == environ["REMOTE_USER"]
    assert get_jwt(environ)["sub"] == "alice" and get_jwt_identity(environ) == "alice"
    assert get_jwt_header(environ)["typ"] == "JWT"


def test_missing_token_is_401_with_seed_message(client: Client, recorder: Recorder) -> None:
    response = client.get("/protected")
    assert response.status_code == 401
    assert body(response) == {"msg": "Missing Authorization Header"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Content-Type"] == "application/json"
    assert recorder.calls == 0


@pytest.mark.parametrize(
    ("path", "token_kwargs", "status", "error"),
    [
        pytest.param("/protected", {"refresh": True}, 401, "invalid_token", id="refresh-as-access"),
        pytest.param("/token/refresh", {}, 401, "invalid_token", id="access-as-refresh"),
        pytest.param("/users/3", {}, 403, "insufficient_scope", id="missing-scope"),
        pytest.param("/staff/x", {"additional_claims": {"role": "staff"}}, 403,
                     "insufficient_scope", id="missing-claim"),
        pytest.param("/staff/x", {"additional_claims": {"role": "staff", "active": 1}}, 403,
                     "insufficient_scope", id="claim-wrong-json-type"),
    ],
)
def test_policy_refusals(client: Client, recorder: Recorder, make_token: MakeToken, path: str,
                         token_kwargs: dict[str, Any], status: int, error: str) -> None:
    response = client.get(path, headers=bearer(make_token("alice", **token_kwargs)))
    assert response.status_code == status
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]
    assert recorder.calls == 0


def test_scope_sources_and_challenge(client: Client, make_token: MakeToken) -> None:
    assert client.get("/users/3", headers=bearer(make_token(
        additional_claims={"scope": "users:read other"}))).status_code == 200
    assert client.get("/users/3", headers=bearer(make_token(
        additional_claims={"scp": ["users:read"]}))).status_code == 200
    # Azure AD sends scp as a space-separated string.
    assert client.get("/users/3", headers=bearer(make_token(
        additional_claims={"scp": "other users:read"}))).status_code == 200
    assert client.get("/users/3", headers=bearer(make_token(
        additional_claims={"scp": "users:readx"}))).status_code == 403
    refused = client.get("/users/3", headers=bearer(make_token()))
    assert 'scope="users:read"' in refused.headers["WWW-Authenticate"]


def test_fresh_routes(client: Client, make_token: MakeToken) -> None:
    stale = client.post("/admin/x", headers=bearer(make_token(fresh=False)))
    assert stale.status_code == 401 and body(stale) == {"msg": "Fresh token required"}
    assert client.post("/admin/x", headers=bearer(make_token(fresh=True))).status_code == 200
    assert client.get("/admin/x").status_code == 200  # GET is not in the fresh rule
    timed = make_token(fresh=NOW + 10)
    assert client.delete("/admin/x", headers=bearer(timed)).status_code == 200


def test_optional_route(client: Client, recorder: Recorder, make_token: MakeToken) -> None:
    assert client.get("/feed").status_code == 200
    assert "jwt_wsgi.claims" not in recorder.environs[-1]
    assert client.get("/feed", headers=bearer(make_token())).status_code == 200
    assert recorder.environs[-1]["jwt_wsgi.identity"] == "alice"
    assert client.get("/feed", headers=bearer("garbage")).status_code == 401
    assert client.get("/feed", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 200


def test_expired_and_revoked(jwt: JWTManager, client: Client, make_token: MakeToken) -> None:
    expired = make_token(expires_delta=-1)
    response = client.get("/protected", headers=bearer(expired))
    assert response.status_code == 401 and body(response) == {"msg": "Token has expired"}
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    token = make_token()
    jwt.revoke(token)
    response = client.get("/protected", headers=bearer(token))
    assert response.status_code == 401 and body(response) == {"msg": "Token has been revoked"}


@pytest.mark.parametrize(
    ("header", "status"),
    [
        pytest.param("Bearer a.b.c, Bearer d.e.f", 400, id="two-tokens-comma"),
        pytest.param("Bearer a.b.c d.e.f", 400, id="two-tokens-space"),
        pytest.param("Bearer", 400, id="scheme-only"),
        pytest.param("Basic Zm9vOmJhcg==", 401, id="other-scheme"),
        pytest.param("bearer not-a-token", 401, id="lowercase-scheme-bad-token"),
    ],
)
def test_authorization_header_shapes(client: Client, recorder: Recorder, header: str,
                                     status: int) -> None:
    response = client.get("/protected", headers={"Authorization": header})
    assert response.status_code == status
    assert recorder.calls == 0


def test_scheme_is_case_insensitive(client: Client, make_token: MakeToken) -> None:
    token = make_token()
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert client.get("/protected",
                          headers={"Authorization": f"{scheme} {token}"}).status_code == 200


def test_custom_header_name_and_type(jwt: JWTManager, recorder: Recorder) -> None:
    manager = JWTManager(secret_key=jwt.settings.secret_key, header_name="X-Api-Token",
                         header_type="")
    app = Client(JWTMiddleware(recorder, manager, routes={"/p": "required"}))
    token = manager.create_access_token("bob")
    assert app.get("/p", headers={"X-Api-Token": token}).status_code == 200
    assert app.get("/p", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_client_cannot_set_our_environ_keys_or_remote_user(recorder: Recorder,
                                                           client: Client) -> None:
    client.get("/health", environ_overrides={"REMOTE_USER": "admin",
                                             "jwt_wsgi.claims": {"sub": "admin"},
                                             "jwt_wsgi.identity": "admin"})
    environ = recorder.environs[-1]
    assert "REMOTE_USER" not in environ and "jwt_wsgi.claims" not in environ
    assert "jwt_wsgi.identity" not in environ


def test_remote_user_can_be_left_alone(jwt: JWTManager, recorder: Recorder) -> None:
    app = Client(JWTMiddleware(recorder, jwt, routes={"/admin/*": "required"}, remote_user=False))
    app.get("/", environ_overrides={"REMOTE_USER": "from-apache"})
    assert recorder.environs[-1]["REMOTE_USER"] == "from-apache"


def test_claims_are_a_fresh_copy_each_request(client: Client, recorder: Recorder,
                                              make_token: MakeToken) -> None:
    token = make_token(additional_claims={"roles": ["user"]})
    client.get("/protected", headers=bearer(token))
    recorder.environs[-1]["jwt_wsgi.claims"]["roles"].append("admin")
    recorder.environs[-1]["jwt_wsgi.claims"]["sub"] = "mallory"
    client.get("/protected", headers=bearer(token))
    assert recorder.environs[-1]["jwt_wsgi.claims"]["roles"] == ["user"]
    assert recorder.environs[-1]["jwt_wsgi.identity"] == "alice"


def test_head_is_checked_like_get(protect: Callable[..., Client]) -> None:
    client = protect({"GET /g": "required"})
    assert client.head("/g").status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Origin": "https://a", "Access-Control-Request-Method": "GET"}, 200,
                     id="preflight"),
        pytest.param({"Origin": "https://a"}, 401, id="origin-only"),
        pytest.param({"Access-Control-Request-Method": "GET"}, 401, id="acrm-only"),
        pytest.param({}, 401, id="plain-options"),
    ],
)
def test_options_only_passes_as_cors_preflight(client: Client, headers: dict[str, str],
                                               status: int) -> None:
    assert client.options("/protected", headers=headers).status_code == status


def test_preflight_reaches_the_app_but_no_body_leaves(jwt: JWTManager) -> None:
    """A method-agnostic app answers OPTIONS like GET; the preflight gets headers only."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", "15"),
                                          ("Access-Control-Allow-Origin", "https://a")])
        write(b'{"sec')
        return [b'ret": true}']

    client = Client(JWTMiddleware(app, jwt, routes={"/admin/*": "required"}))
    response = client.options("/admin/x", headers={"Origin": "https://a",
                                                   "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == "0"
    assert response.headers["Access-Control-Allow-Origin"] == "https://a"


def test_preflight_on_a_public_route_is_answered_by_the_app_untouched(jwt: JWTManager) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]

    client = Client(JWTMiddleware(app, jwt, routes={"/admin/*": "required"}))
    response = client.options("/public", headers={"Origin": "https://a",
                                                 "Access-Control-Request-Method": "GET"})
    assert (response.status_code, response.data) == (200, b"hello")


def test_preflight_pass_through_can_be_turned_off(protect: Callable[..., Client]) -> None:
    client = protect(ROUTES, cors_preflight=False)
    headers = {"Origin": "https://a", "Access-Control-Request-Method": "GET"}
    assert client.options("/protected", headers=headers).status_code == 401


def test_lowercase_method_is_matched_as_uppercase(protect: Callable[..., Client]) -> None:
    client = protect({"POST /p": "required"})
    assert client.open("/p", method="post").status_code == 401


def test_deny_by_default(protect: Callable[..., Client], make_token: MakeToken) -> None:
    client = protect({"/open": "public"}, default="required")
    assert client.get("/anything").status_code == 401
    assert client.get("/open").status_code == 200
    assert client.get("/anything", headers=bearer(make_token())).status_code == 200


def test_control_character_path_is_400(client: Client, recorder: Recorder) -> None:
    response = client.get("/protected%00")  # werkzeug decodes to a NUL in PATH_INFO
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert recorder.calls == 0


def test_webob_request_blank_drives_the_middleware(jwt: JWTManager, recorder: Recorder,
                                                   make_token: MakeToken) -> None:
    app = JWTMiddleware(recorder, jwt, routes=ROUTES)
    request = webob.Request.blank("/protected", headers=bearer(make_token("zoe")))
    response = request.get_response(app)
    assert response.status_int == 200 and response.json["sub"] == "zoe"
    assert webob.Request.blank("/protected").get_response(app).status_int == 401


def test_error_bodies_and_logs_never_hold_the_token(client: Client, make_token: MakeToken,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jwt_wsgi")
    bad = make_token()[:-4] + "AAAA"
    expired = make_token(expires_delta=-1)
    for token in (bad, expired, "x" * 20000):
        response = client.get("/protected", headers=bearer(token))
        assert response.status_code in (400, 401)
        assert token.encode() not in response.get_data()
        assert token not in response.headers.get("WWW-Authenticate", "")
        assert all(token not in record.getMessage() for record in caplog.records)


def test_unexpected_error_is_a_bare_500_and_app_not_called(jwt: JWTManager, recorder: Recorder,
                                                           make_token: MakeToken) -> None:
    @jwt.token_in_blocklist_loader
    def broken(header: dict[str, Any], payload: dict[str, Any]) -> bool:
        raise RuntimeError("database password is hunter2")

    app = JWTMiddleware(recorder, jwt, routes=ROUTES)
    response = Client(app).get("/protected", headers=bearer(make_token()))
    assert response.status_code == 503  # a blocklist that cannot answer fails closed
    assert b"hunter2" not in response.get_data()
    def failing(*args: Any) -> str:
        raise AttributeError("any internal failure")

    app._authenticate = failing  # type: ignore[method-assign]
    response = Client(app).get("/protected", headers=bearer(make_token()))
    assert response.status_code == 500 and body(response) == {"msg": "Internal server error"}
    assert recorder.calls == 0


def test_app_exceptions_are_not_swallowed(jwt: JWTManager) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        raise KeyError("app bug")

    with pytest.raises(KeyError):
        Client(JWTMiddleware(app, jwt, routes={"/admin/*": "required"})).get("/")


def test_route_locations_must_be_configured(jwt: JWTManager, recorder: Recorder) -> None:
    with pytest.raises(ConfigError, match="token_location"):
        JWTMiddleware(recorder, jwt, routes={"/x": {"require": "required",
                                                     "locations": ["cookies"]}})


def test_forged_signature_with_correct_shape_is_refused(client: Client) -> None:
    token = sign_hs256({"alg": "HS256"}, {"sub": "admin", "exp": NOW + 60}, secret="x" * 40)
    assert client.get("/protected", headers=bearer(token)).status_code == 401


def test_revocation_lasts_as_long_as_the_leeway_keeps_the_token_valid(recorder: Recorder) -> None:
    # Past exp but inside the leeway: the verifier still accepts it, so the blocklist must too.
    manager = JWTManager(secret_key=SECRET, leeway=30)
    token = manager.create_access_token("alice", expires_delta=-5)
    client = Client(JWTMiddleware(recorder, manager, routes={"/p": "required"}))
    assert client.get("/p", headers=bearer(token)).status_code == 200
    manager.revoke(token)
    response = client.get("/p", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json() == {"msg": "Token has been revoked"}


@pytest.mark.parametrize("answer", [1, "1", {"jti": "row"}, [0]], ids=["one", "str", "row", "list"])
def test_any_truthy_blocklist_answer_revokes(jwt: JWTManager, client: Client,
                                             make_token: MakeToken, answer: object) -> None:
    jwt.token_in_blocklist_loader(lambda jwt_header, jwt_payload: answer)
    response = client.get("/protected", headers=bearer(make_token()))
    assert response.status_code == 401
    assert response.get_json() == {"msg": "Token has been revoked"}


@pytest.mark.parametrize("answer", [0, "", None, False, []], ids=str)
def test_falsy_blocklist_answer_lets_the_token_through(jwt: JWTManager, client: Client,
                                                       make_token: MakeToken, answer: object) -> None:
    jwt.token_in_blocklist_loader(lambda jwt_header, jwt_payload: answer)
    assert client.get("/protected", headers=bearer(make_token())).status_code == 200


def test_preflight_with_control_characters_in_the_path_is_a_400(client: Client) -> None:
    response = client.options("/protected%00", headers={"Origin": "https://a",
                                                        "Access-Control-Request-Method": "GET"})
    assert response.status_code == 400
