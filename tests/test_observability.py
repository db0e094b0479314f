"""Logging (one line per refusal, never the token) and the on_outcome metrics hook."""

from __future__ import annotations

import collections
import logging
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from tests.harness import NOW, SECRET, Recorder, bearer, forge, sign_hs256

ROUTES = {"/api/*": "required", "/feed": "optional", "/admin": "fresh",
          "/scoped": {"require": "required", "scopes": ["x"]}}


def tokens(jwt: JWTManager) -> dict[str, str]:
    expired = sign_hs256({"alg": "HS256", "typ": "JWT"},
                         {"sub": "alice", "jti": "jti-expired", "exp": NOW - 10, "iat": NOW - 99})
    revoked = jwt.create_access_token("alice")
    jwt.revoke(revoked)
    return {
        "expired": expired,
        "bad-signature": forge({"alg": "HS256"}, {"sub": "alice", "jti": "jti-forged"}),
        "revoked": revoked,
        "stale": jwt.create_access_token("alice"),
        "garbage": "not.a-token." + "A" * 40,
    }


@pytest.mark.parametrize(("path", "which", "code"), [
    pytest.param("/api/x", None, "missing_token", id="missing"),
    pytest.param("/api/x", "expired", "token_expired", id="expired"),
    pytest.param("/api/x", "bad-signature", "signature_invalid", id="bad-signature"),
    pytest.param("/api/x", "revoked", "token_revoked", id="revoked"),
    pytest.param("/admin", "stale", "fresh_token_required", id="not-fresh"),
    pytest.param("/scoped", "stale", "insufficient_scope", id="scope"),
    pytest.param("/api/x", "garbage", "token_malformed", id="garbage"),
])
def test_one_log_line_per_refusal_without_the_token(
        jwt: JWTManager, recorder: Recorder, caplog: pytest.LogCaptureFixture,
        path: str, which: str | None, code: str) -> None:
    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES))
    token = tokens(jwt)[which] if which else None
    with caplog.at_level(logging.DEBUG, logger="jwt_wsgi"):
        response = client.get(path, headers=bearer(token) if token else {})
    assert response.status_code in (401, 403)
    records = [r for r in caplog.records if r.name.startswith("jwt_wsgi")]
    assert len(records) == 1, [r.getMessage() for r in records]
    line = records[0].getMessage()
    assert records[0].levelno == logging.INFO
    assert code in line and repr(path) in line and "GET" in line
    if token:
        for segment in token.split("."):
            assert segment not in line
    assert SECRET not in line
    if which == "expired":
        assert "jti='jti-expired'" in line
    if which == "bad-signature":  # claims of an unverified token are not trusted, not logged
        assert "jti-forged" not in line


def test_allowed_requests_log_nothing(jwt: JWTManager, recorder: Recorder,
                                      caplog: pytest.LogCaptureFixture) -> None:
    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES))
    with caplog.at_level(logging.DEBUG, logger="jwt_wsgi"):
        client.get("/api/x", headers=bearer(jwt.create_access_token("alice")))
        client.get("/public")
    assert [r for r in caplog.records if r.name.startswith("jwt_wsgi")] == []


def test_on_outcome_counts_every_outcome(jwt: JWTManager, recorder: Recorder) -> None:
    counts: collections.Counter[str] = collections.Counter()
    paths: list[str] = []

    def count(outcome: str, environ: dict[str, Any]) -> None:
        counts[outcome] += 1
        paths.append(environ["PATH_INFO"])

    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES, on_outcome=count))
    good = jwt.create_access_token("alice")
    client.get("/public")
    client.get("/feed")
    client.get("/feed", headers=bearer(good))
    client.get("/api/a", headers=bearer(good))
    client.get("/api/b")
    client.get("/api/c", headers=bearer(tokens(jwt)["expired"]))
    client.get("/api/d", headers={"Authorization": "Bearer a.b.c, Bearer d.e.f"})
    client.options("/api/e", headers={"Origin": "https://x.example",
                                      "Access-Control-Request-Method": "GET"})
    assert counts == {"public": 1, "preflight": 1, "anonymous": 1, "authenticated": 2, "missing_token": 1,
                      "token_expired": 1, "invalid_request": 1}
    assert paths == ["/public", "/feed", "/feed", "/api/a", "/api/b", "/api/c", "/api/d", "/api/e"]


def test_on_outcome_sees_claims_before_the_app(jwt: JWTManager, recorder: Recorder) -> None:
    seen: list[Any] = []
    app = JWTMiddleware(recorder, jwt, routes=ROUTES,
                        on_outcome=lambda outcome, environ: seen.append(
                            (outcome, environ.get("jwt_wsgi.identity"), recorder.calls)))
    Client(app).get("/api/x", headers=bearer(jwt.create_access_token("bob")))
    assert seen == [("authenticated", "bob", 0)]


def test_a_failing_hook_is_logged_and_ignored(jwt: JWTManager, recorder: Recorder,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(outcome: str, environ: Any) -> None:
        raise RuntimeError("metrics backend down")

    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES, on_outcome=broken))
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        assert client.get("/api/x", headers=bearer(jwt.create_access_token("a"))).status_code == 200
        assert client.get("/api/x").status_code == 401
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "on_outcome hook raised; ignored"] * 2


@pytest.mark.parametrize("hook", [pytest.param("metrics", id="string"),
                                  pytest.param(42, id="number")])
def test_on_outcome_must_be_callable(jwt: JWTManager, recorder: Recorder, hook: Any) -> None:
    with pytest.raises(ConfigError, match="on_outcome"):
        JWTMiddleware(recorder, jwt, routes={"/admin/*": "required"}, on_outcome=hook)

