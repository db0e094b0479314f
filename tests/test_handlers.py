"""Responders: both signature styles, environ, every return form, failures fall back."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import webob
import werkzeug
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from tests.harness import SECRET, Recorder, bearer

MakeToken = Callable[..., str]


@pytest.fixture
def client(jwt: JWTManager, recorder: Recorder) -> Client:
    # Built before the loaders are registered: loaders registered later must take effect.
    return Client(JWTMiddleware(recorder, jwt, routes={"/p": "required", "/f": "fresh"}))


def test_seed_style_expired_loader(jwt: JWTManager, client: Client, make_token: MakeToken) -> None:
    @jwt.expired_token_loader
    def expired() -> Any:
        return {"status": 401, "sub_status": 101, "msg": "The token has expired"}, 200

    response = client.get("/p", headers=bearer(make_token(expires_delta=-1)))
    assert response.status_code == 200
    assert json.loads(response.get_data())["sub_status"] == 101
    assert "WWW-Authenticate" not in response.headers  # only 401/403 get a challenge


def test_4x_style_loader_gets_header_and_payload(jwt: JWTManager, client: Client,
                                                 make_token: MakeToken) -> None:
    seen: dict[str, Any] = {}

    @jwt.needs_fresh_token_loader
    def needs_fresh(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        seen.update(header=jwt_header, payload=jwt_payload)
        return {"msg": "log in again", "user": jwt_payload["sub"]}, 401

    response = client.get("/f", headers=bearer(make_token("carol")))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "log in again", "user": "carol"}
    assert seen["header"]["alg"] == "HS256"
    assert response.headers["WWW-Authenticate"].startswith("Bearer error=\"invalid_token\"")


def test_loader_with_environ_keyword(jwt: JWTManager, client: Client) -> None:
    @jwt.unauthorized_loader
    def unauthorized(msg: str, *, environ: dict[str, Any]) -> Any:
        return {"msg": msg, "path": environ["PATH_INFO"]}, 401, {"X-Why": "no-token"}

    response = client.get("/p")
    assert json.loads(response.get_data()) == {"msg": "Missing Authorization Header", "path": "/p"}
    assert response.headers["X-Why"] == "no-token"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("result", "status", "content"),
    [
        pytest.param({"msg": "bare dict"}, 401, b'{"msg":"bare dict"}', id="bare-dict"),
        pytest.param(([1, 2], 418), 418, b"[1,2]", id="list-body"),
        pytest.param(("plain text", "401 Unauthorized"), 401, b"plain text", id="text-status-str"),
        pytest.param(webob.Response(json={"w": 1}, status=401), 401, b'{"w":1}', id="webob"),
        pytest.param(werkzeug.Response(b"wz", status=403), 403, b"wz", id="werkzeug"),
        pytest.param((werkzeug.Response(b'{"a":1}', mimetype="application/json"), 401), 401,
                     b'{"a":1}', id="werkzeug-response-with-status"),
        pytest.param((webob.Response(json={"w": 2}), 403, {"X-Extra": "1"}), 403,
                     b'{"w":2}', id="webob-response-status-headers"),
        pytest.param(("text", {"X-Extra": "1"}), 401, b"text", id="flask-body-headers"),
        pytest.param(({"msg": "h"}, [("X-Extra", "1")]), 401, b'{"msg":"h"}',
                     id="flask-body-header-list"),
    ],
)
def test_return_forms(jwt: JWTManager, client: Client, result: Any, status: int,
                      content: bytes) -> None:
    @jwt.invalid_token_loader
    def invalid(msg: str) -> Any:
        return result

    response = client.get("/p", headers=bearer("a.b.c"))
    assert response.status_code == status
    assert response.get_data() == content
    assert response.headers["Content-Length"] == str(len(content))
    if status in (401, 403):
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if isinstance(result, tuple) and any(isinstance(p, (dict, list)) for p in result[1:]):
        assert response.headers["X-Extra"] == "1"


def test_wsgi_callable_return(jwt: JWTManager, client: Client) -> None:
    def answer(environ: Any, start_response: Any) -> Any:
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="custom"')])
        return [b"custom"]

    jwt.invalid_token_loader(lambda msg: answer)
    response = client.get("/p", headers=bearer("a.b.c"))
    assert response.get_data() == b"custom"
    assert response.headers.getlist("WWW-Authenticate") == ['Bearer realm="custom"']


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(lambda msg: 1 / 0, id="raises"),
        pytest.param(lambda msg: None, id="returns-none"),
        pytest.param(lambda msg: ({"a": 1}, 99), id="bad-status"),
        pytest.param(lambda msg: ({"a": 1}, 401, {"X-Evil": "a\r\nSet-Cookie: x=1"}),
                     id="header-injection"),
        pytest.param(lambda msg: (object(), 401), id="unusable-body"),
    ],
)
def test_broken_responder_falls_back_to_default(jwt: JWTManager, client: Client, recorder: Recorder,
                                                behaviour: Callable[[str], Any],
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="jwt_wsgi")
    jwt.invalid_token_loader(behaviour)
    response = client.get("/p", headers=bearer("a.b.c"))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Invalid header"}
    assert "Set-Cookie" not in response.headers
    assert recorder.calls == 0
    assert any("invalid_token_loader" in r.getMessage() for r in caplog.records)


def _raises(environ: Any, start_response: Any) -> Any:
    raise ZeroDivisionError("boom")


def _no_start_response(environ: Any, start_response: Any) -> Any:
    return [b"never started"]


def _returns_none(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [])


def _yields_str(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [("Content-Type", "text/plain")])
    yield "text, not bytes"


def _returns_bytes(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [])
    return b"bytes, not an iterable of bytes"


def _crlf_header(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [("X-Evil", "a\r\nSet-Cookie: x=1")])
    return [b"injected"]


def _starts_twice(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [])
    start_response("200 OK", [])
    return [b"twice"]


def _bad_status_line(environ: Any, start_response: Any) -> Any:
    start_response("401\r\nSet-Cookie: x=1", [])
    return [b"bad status"]


def _huge_body(environ: Any, start_response: Any) -> Any:
    start_response("401 Unauthorized", [("Content-Type", "text/plain")])
    return [b"x" * 1024] * 64 + [b"!"]  # one byte over the 64 KiB a responder app may send


@pytest.mark.parametrize(
    "wsgi_app",
    [
        pytest.param(_raises, id="raises-when-called"),
        pytest.param(dict, id="class-dict"),
        pytest.param(werkzeug.Response, id="class-werkzeug-response"),
        pytest.param(webob.Response, id="class-webob-response"),
        pytest.param(_no_start_response, id="never-calls-start-response"),
        pytest.param(_returns_none, id="returns-none"),
        pytest.param(_yields_str, id="yields-str"),
        pytest.param(_returns_bytes, id="returns-bytes-not-iterable-of-bytes"),
        pytest.param(_crlf_header, id="crlf-header"),
        pytest.param(_starts_twice, id="start-response-twice"),
        pytest.param(_bad_status_line, id="crlf-status-line"),
        pytest.param(_huge_body, id="huge-body"),
    ],
)
def test_broken_wsgi_responder_falls_back_to_default(jwt: JWTManager, client: Client,
                                                     recorder: Recorder, wsgi_app: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="jwt_wsgi")
    jwt.invalid_token_loader(lambda msg: wsgi_app)
    response = client.get("/p", headers=bearer("a.b.c"))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Invalid header"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="Invalid header"')
    assert "Set-Cookie" not in response.headers
    assert recorder.calls == 0
    assert any("invalid_token_loader" in r.getMessage() for r in caplog.records)
    assert not any("a.b.c" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("routes", "loader", "status", "body", "challenge"),
    [
        pytest.param({"/p": "required"}, "unauthorized_loader", 401,
                     {"msg": "Missing Authorization Header"}, "Bearer", id="missing-401"),
        pytest.param({"/p": {"require": "required", "scopes": ["admin"]}},
                     "insufficient_scope_loader", 403, {"msg": "Insufficient scope"},
                     'Bearer error="insufficient_scope", scope="admin"', id="scope-403"),
    ],
)
def test_broken_wsgi_responder_keeps_the_error_status(
        jwt: JWTManager, recorder: Recorder, make_token: MakeToken, routes: dict[str, Any],
        loader: str, status: int, body: dict[str, str], challenge: str) -> None:
    getattr(jwt, loader)(lambda msg: _raises)
    client = Client(JWTMiddleware(recorder, jwt, routes=routes))
    headers = bearer(make_token()) if status == 403 else {}
    response = client.get("/p", headers=headers)
    assert response.status_code == status
    assert json.loads(response.get_data()) == body
    assert response.headers["WWW-Authenticate"] == challenge
    assert recorder.calls == 0


@pytest.mark.parametrize(("chunk", "most"), [(b"x" * 1024, 65), (b"", 65 * 1024 + 1)])
def test_endless_wsgi_responder_body_is_cut_and_closed(jwt: JWTManager, client: Client,
                                                       recorder: Recorder, chunk: bytes,
                                                       most: int) -> None:
    produced: list[int] = []
    closed: list[bool] = []

    class Endless:
        def __iter__(self) -> Any:
            for _ in range(200_000):  # finite, so the test ends even when not cut
                produced.append(1)
                yield chunk

        def close(self) -> None:
            closed.append(True)

    def endless(environ: Any, start_response: Any) -> Any:
        start_response("401 Unauthorized", [])
        return Endless()

    jwt.invalid_token_loader(lambda msg: endless)
    response = client.get("/p", headers=bearer("a.b.c"))
    assert json.loads(response.get_data()) == {"msg": "Invalid header"}
    assert len(produced) <= most
    assert closed == [True]
    assert recorder.calls == 0


def test_valid_wsgi_responders_still_answer(jwt: JWTManager, client: Client) -> None:
    closed: list[bool] = []

    class Body(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    def uses_write(environ: Any, start_response: Any) -> Any:
        write = start_response("401 Unauthorized", [("Content-Length", "999")])
        write(b"written ")
        return Body([b"and ", b"returned"])

    jwt.invalid_token_loader(lambda msg: uses_write)
    response = client.get("/p", headers=bearer("a.b.c"))
    assert response.status_code == 401
    assert response.get_data() == b"written and returned"
    assert response.headers["Content-Length"] == "20"  # the body actually sent
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert closed == [True]

    jwt.invalid_token_loader(lambda msg: werkzeug.Response(iter([b"gen", b"erated"]), status=401))
    response = client.get("/p", headers=bearer("a.b.c"))
    assert (response.status_code, response.get_data()) == (401, b"generated")

    jwt.invalid_token_loader(lambda msg: werkzeug.Response(b"sized", status=401))
    response = client.head("/p", headers=bearer("a.b.c"))
    assert response.headers["Content-Length"] == "5"  # HEAD keeps the GET length


@pytest.mark.parametrize(
    ("name", "func"),
    [
        pytest.param("expired_token_loader", lambda a: None, id="one-arg-for-token-loader"),
        pytest.param("unauthorized_loader", lambda: None, id="no-arg-for-msg-loader"),
        pytest.param("invalid_token_loader", lambda a, b, c: None, id="three-args"),
        pytest.param("revoked_token_loader", lambda *, other: None, id="required-keyword"),
        pytest.param("token_in_blocklist_loader", lambda: False, id="blocklist-no-args"),
        pytest.param("user_claims_loader", lambda: {"x": 1}, id="claims-no-args"),
    ],
)
def test_unusable_signatures_fail_at_registration(jwt: JWTManager, name: str,
                                                  func: Callable[..., Any]) -> None:
    with pytest.raises(TypeError):
        getattr(jwt, name)(func)


def test_loaders_by_name(jwt: JWTManager, client: Client) -> None:
    jwt.register_loaders({"unauthorized_loader": lambda msg: ({"custom": msg}, 401)})
    assert json.loads(client.get("/p").get_data()) == {"custom": "Missing Authorization Header"}
    with pytest.raises(TypeError, match="unknown loader"):
        jwt.register_loaders({"nonsense_loader": lambda: None})


def test_error_message_key_and_realm(recorder: Recorder) -> None:
    jwt = JWTManager(secret_key="k" * 40, error_message_key="error", realm='api "v1"')
    response = Client(JWTMiddleware(recorder, jwt, routes={"/p": "required"})).get("/p")
    assert json.loads(response.get_data()) == {"error": "Missing Authorization Header"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api v1"'


def test_revoked_loader_both_styles(jwt: JWTManager, client: Client, make_token: MakeToken) -> None:
    token = make_token()
    jwt.revoke(token)
    jwt.revoked_token_loader(lambda: ({"msg": "gone"}, 401))
    assert json.loads(client.get("/p", headers=bearer(token)).get_data()) == {"msg": "gone"}
    jwt.revoked_token_loader(lambda h, p: ({"jti": p["jti"]}, 401))
    assert "jti" in json.loads(client.get("/p", headers=bearer(token)).get_data())


def test_seed_loaders_returning_jsonify_work_around_a_flask_wsgi_app() -> None:
    """The seed's loaders return ``jsonify(...), 401``: around ``app.wsgi_app`` they run in
    the Flask app's context, as they did under flask-jwt-extended."""
    import flask

    app = flask.Flask("seed_loaders")
    app.add_url_rule("/p", "p", lambda: "secret")
    jwt = JWTManager(secret_key=SECRET)

    @jwt.unauthorized_loader
    def unauthorized(msg: str) -> Any:
        return flask.jsonify({"status": 401, "sub_status": 42, "msg": msg}), 401

    @jwt.expired_token_loader
    def expired() -> Any:
        return flask.jsonify({"status": 401, "sub_status": 101, "msg": "The token has expired"}), 200

    app.wsgi_app = JWTMiddleware(app.wsgi_app, jwt, routes={"/p": "required"})  # type: ignore[method-assign]
    client = app.test_client()
    missing = client.get("/p")
    assert (missing.status_code, missing.json) == (
        401, {"status": 401, "sub_status": 42, "msg": "Missing Authorization Header"})
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    stale = jwt.create_access_token("alice", expires_delta=-10)
    answer = client.get("/p", headers={"Authorization": f"Bearer {stale}"})
    assert (answer.status_code, answer.json["sub_status"]) == (200, 101)
    assert b"secret" not in answer.data
