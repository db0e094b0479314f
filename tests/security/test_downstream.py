"""Downstream integrity: only a verified token sets what the app trusts.

The app trusts ``jwt_wsgi.claims``, ``jwt_wsgi.header``, ``jwt_wsgi.identity`` and
``REMOTE_USER``. Whatever a client or an earlier layer put there is removed on every
request, public ones included; HTTP headers that merely look alike are never promoted.
"""

from __future__ import annotations

from typing import Any

import pytest
import webob

from jwt_wsgi import get_jwt, get_jwt_header, get_jwt_identity
from tests.harness import NOW, SECRET, Recorder, call, manager, sign, wrap

ROUTES = {"/public": "public", "/optional": "optional", "/required": "required"}
CLAIMS = {"sub": "alice", "iat": NOW, "jti": "j-1", "type": "access", "exp": NOW + 600,
          "roles": ["user"]}
TOKEN = sign({"alg": "HS256", "typ": "JWT"}, CLAIMS, SECRET.encode())
SPOOFED_ENVIRON = {"jwt_wsgi.claims": {"sub": "admin", "roles": ["admin"]},
                   "jwt_wsgi.header": {"alg": "none"}, "jwt_wsgi.identity": "admin",
                   "jwt_wsgi.location": "headers", "REMOTE_USER": "admin"}
SPOOFED_HEADERS = {"Remote-User": "admin", "X-Remote-User": "admin", "Jwt-Wsgi-Identity": "admin",
                   "X-Jwt-Wsgi-Claims": '{"sub": "admin"}', "X-Forwarded-User": "admin"}

CASES = [
    pytest.param("/public", False, None, id="public-no-token"),
    pytest.param("/public", True, None, id="public-with-token-not-verified"),
    pytest.param("/optional", False, None, id="optional-no-token"),
    pytest.param("/optional", True, "alice", id="optional-with-token"),
    pytest.param("/required", True, "alice", id="required-with-token"),
    pytest.param("/unrouted", False, None, id="default-public"),
]


@pytest.mark.parametrize(("path", "with_token", "identity"), CASES)
@pytest.mark.parametrize("spoof", ["environ", "headers", "both"])
def test_client_cannot_set_trusted_values(path: str, with_token: bool, identity: str | None,
                                          spoof: str) -> None:
    app = Recorder()
    headers = dict(SPOOFED_HEADERS) if spoof in ("headers", "both") else {}
    if with_token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    environ = dict(SPOOFED_ENVIRON) if spoof in ("environ", "both") else {}
    answer = call(wrap(app, manager(), ROUTES), path, headers=headers, **environ)
    assert answer.status == 200 and app.calls == 1
    seen = app.environs[0]
    request = webob.Request(seen)
    assert get_jwt_identity(request) == identity == seen.get("jwt_wsgi.identity")
    assert seen.get("REMOTE_USER") == identity
    if identity is None:
        assert get_jwt(seen) == {} and get_jwt_header(seen) == {}
        # no trace of a token; the middleware's own manager (for layers behind it, such
        # as the reverse proxy) is set by the middleware, never taken from the request
        assert not [key for key in seen
                    if key.startswith("jwt_wsgi.") and key != "jwt_wsgi.manager"]
    else:
        assert get_jwt(seen)["roles"] == ["user"] and get_jwt_header(seen)["alg"] == "HS256"


def test_spoofed_cached_body_cannot_supply_a_token() -> None:
    from jwt_wsgi.body import BODY_KEY

    jwt = manager(token_location=["json"])
    app = Recorder()
    forged = {"access_token": sign({"alg": "HS256"}, CLAIMS, b"x" * 40)}
    valid = {"access_token": TOKEN}
    for spoof in (forged, valid, json_bytes(valid)):
        answer = call(wrap(app, jwt, ROUTES), "/required", "POST",
                      {"Content-Type": "application/json"}, b"{}", **{BODY_KEY: spoof})
        assert (answer.status, app.calls) == (401, 0)


def json_bytes(value: Any) -> bytes:
    import json as json_

    return json_.dumps(value).encode()


def test_refused_request_never_reaches_the_app_with_spoofed_values() -> None:
    app = Recorder()
    answer = call(wrap(app, manager(), ROUTES), "/required", **SPOOFED_ENVIRON)
    assert (answer.status, app.calls) == (401, 0)


def test_remote_user_left_alone_only_when_turned_off() -> None:
    app = Recorder()
    middleware = wrap(app, manager(), ROUTES, remote_user=False)
    call(middleware, "/required", headers={"Authorization": f"Bearer {TOKEN}"},
         REMOTE_USER="from-the-server")
    environ = app.environs[0]
    assert environ["REMOTE_USER"] == "from-the-server"  # documented: the server's own auth wins
    assert environ["jwt_wsgi.identity"] == "alice"


def test_non_string_identity_becomes_a_string_remote_user() -> None:
    app = Recorder()
    jwt = manager(verify_sub=False)
    token = sign({"alg": "HS256"}, {**CLAIMS, "sub": 42}, SECRET.encode())
    call(wrap(app, jwt, ROUTES), "/required", headers={"Authorization": f"Bearer {token}"})
    assert app.environs[0]["REMOTE_USER"] == "42" and app.environs[0]["jwt_wsgi.identity"] == 42


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda c, h: c["roles"].append("admin"), id="nested-list"),
    pytest.param(lambda c, h: c.__setitem__("sub", "mallory"), id="top-level-claim"),
    pytest.param(lambda c, h: h.__setitem__("alg", "none"), id="header"),
    pytest.param(lambda c, h: c.clear(), id="cleared"),
])
def test_claims_are_never_shared_between_requests(mutate: Any) -> None:
    app = Recorder()
    middleware = wrap(app, manager(), ROUTES)
    for _ in range(3):
        call(middleware, "/required", headers={"Authorization": f"Bearer {TOKEN}"})
        environ = app.environs[-1]
        assert environ["jwt_wsgi.claims"]["roles"] == ["user"]
        assert environ["jwt_wsgi.claims"]["sub"] == "alice" == environ["REMOTE_USER"]
        assert environ["jwt_wsgi.header"]["alg"] == "HS256"
        mutate(environ["jwt_wsgi.claims"], environ["jwt_wsgi.header"])


# -- forwarded claim headers (ReverseProxy): the upstream sees only verified claims --------------

SPOOF_SPELLINGS = [
    pytest.param({"X-Jwt-Sub": "admin"}, {}, id="canonical-spelling"),
    pytest.param({"x-jwt-sub": "admin"}, {}, id="lowercase"),
    pytest.param({"X_Jwt_Sub": "admin"}, {}, id="underscore-spelling"),
    pytest.param({}, {"HTTP_X_JWT_SUB": "admin, alice"}, id="server-joined-duplicates"),
    pytest.param({"X-Jwt-Role": "admin"}, {}, id="claim-the-token-lacks"),
    pytest.param({"X-Jwt-Sub": "admin", "X-Jwt-Role": "admin"}, {"REMOTE_USER": "admin"},
                 id="everything-at-once"),
]
PROXY_ROUTES = [
    pytest.param("/public", False, None, id="public"),
    pytest.param("/optional", False, None, id="optional-without-token"),
    pytest.param("/required", True, "alice", id="required-with-token"),
]


@pytest.mark.parametrize(("path", "with_token", "sub"), PROXY_ROUTES)
@pytest.mark.parametrize(("headers", "environ"), SPOOF_SPELLINGS)
def test_forwarded_claim_headers_cannot_be_forged(path: str, with_token: bool, sub: str | None,
                                                  headers: dict[str, str], environ: dict[str, str],
                                                  upstream: Any) -> None:
    from jwt_wsgi.proxy import ReverseProxy

    proxy = ReverseProxy(upstream.url, {"sub": "X-Jwt-Sub", "role": "X-Jwt-Role"}, timeout=5)
    middleware = wrap(proxy, manager(), ROUTES)  # type: ignore[arg-type]
    sent = dict(headers)
    if with_token:
        sent["Authorization"] = f"Bearer {TOKEN}"
    answer = call(middleware, path, headers=sent, **environ)
    assert answer.status == 200
    seen = upstream.headers[-1]
    assert seen.get("x-jwt-sub") == ([sub] if sub else None)
    assert "x-jwt-role" not in seen  # the token has no role claim
    assert "x_jwt_sub" not in seen and "remote-user" not in seen


# -- logs: what is refused is logged, the token never is -----------------------------------------

@pytest.mark.parametrize("authorization", [
    pytest.param(f"Bearer {TOKEN[:-3]}xyz", id="bad-signature"),
    pytest.param(f"Bearer {TOKEN} {TOKEN}", id="two-tokens"),
    pytest.param("Bearer " + TOKEN.replace(".", "..", 1), id="malformed"),
])
def test_refusals_are_logged_without_the_token(authorization: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    import logging

    app = Recorder()
    with caplog.at_level(logging.DEBUG, logger="jwt_wsgi"):
        answer = call(wrap(app, manager(), ROUTES), "/required",
                      headers={"Authorization": authorization})
    assert answer.status in (400, 401) and app.calls == 0
    assert caplog.records, "a refusal leaves a log line"
    text = caplog.text
    for part in authorization.split()[1:]:
        assert part not in text
        for segment in part.split("."):
            if len(segment) > 20:
                assert segment not in text


def test_loader_that_raises_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    jwt = manager()

    @jwt.invalid_token_loader
    def broken(msg: str) -> Any:
        raise RuntimeError("loader bug")

    app = Recorder()
    bad = TOKEN[:-3] + "xyz"
    with caplog.at_level(logging.DEBUG, logger="jwt_wsgi"):
        answer = call(wrap(app, jwt, ROUTES), "/required", headers={"Authorization": f"Bearer {bad}"})
    assert answer.status == 401 and "loader bug" in caplog.text
    assert bad not in caplog.text and bad.split(".")[1] not in caplog.text


@pytest.mark.parametrize("sub", [
    pytest.param("alice\r\nX-Jwt-Role: admin", id="crlf-header-injection"),
    pytest.param("alice\nX-Jwt-Role: admin", id="lf-header-injection"),
    pytest.param("alice\x00admin", id="nul"),
    pytest.param("\u00e9l\u00e8ve", id="non-ascii"),
    pytest.param(" alice ", id="surrounding-spaces"),
])
def test_claim_values_cannot_inject_headers_upstream(sub: str, upstream: Any) -> None:
    from jwt_wsgi.proxy import ReverseProxy

    token = sign({"alg": "HS256", "typ": "JWT"}, {**CLAIMS, "sub": sub}, SECRET.encode())
    proxy = ReverseProxy(upstream.url, {"sub": "X-Jwt-Sub", "role": "X-Jwt-Role"}, timeout=5)
    answer = call(wrap(proxy, manager(), ROUTES), "/required",  # type: ignore[arg-type]
                  headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    seen = upstream.headers[-1]
    assert "x-jwt-role" not in seen
    (value,) = seen["x-jwt-sub"]
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    assert upstream_reading(value) == sub


def upstream_reading(value: str) -> Any:
    """The documented rule for the upstream: JSON if it parses, else the text."""
    import json as json_

    try:
        return json_.loads(value)
    except ValueError:
        return value


@pytest.mark.parametrize("claim", [
    pytest.param(" alice ", id="spaces-would-be-trimmed-to-alice"),
    pytest.param("\"zo\\u00eb\"", id="ascii-text-of-a-json-string"),
    pytest.param("zo\u00eb", id="the-non-ascii-identity-it-imitates"),
    pytest.param("42", id="digits-string"),
    pytest.param(42, id="number"),
    pytest.param("[\"admin\"]", id="text-of-a-list"),
    pytest.param(["admin"], id="list"),
    pytest.param("true", id="text-true"),
    pytest.param("alice", id="plain"),
])
def test_forwarded_claims_read_back_exactly(claim: Any, upstream: Any) -> None:
    from jwt_wsgi.proxy import ReverseProxy

    token = sign({"alg": "HS256", "typ": "JWT"}, {**CLAIMS, "role": claim}, SECRET.encode())
    proxy = ReverseProxy(upstream.url, {"sub": "X-Jwt-Sub", "role": "X-Jwt-Role"}, timeout=5)
    answer = call(wrap(proxy, manager(), ROUTES), "/required",  # type: ignore[arg-type]
                  headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    (value,) = upstream.headers[-1]["x-jwt-role"]
    assert upstream_reading(value) == claim and type(upstream_reading(value)) is type(claim)


# -- forward_authorization=False: the token never reaches the upstream, wherever it came ---------

TOKEN_PLACES = [
    pytest.param({"Authorization": "Bearer {t}"}, "", id="authorization-header"),
    pytest.param({"authorization": "bearer {t}"}, "", id="authorization-lowercase"),
    pytest.param({"Cookie": "a=1; access_token_cookie={t}; b=2"}, "", id="cookie-among-others"),
    pytest.param({"Cookie": 'access_token_cookie="{t}"'}, "", id="cookie-quoted"),
    pytest.param({}, "x=1&jwt={t}&y=2", id="query-parameter"),
    pytest.param({"Authorization": "Bearer {t}"}, "x=1&%6Awt={t}",
                 id="header-plus-query-parameter-with-encoded-name"),
    pytest.param({}, "jwt={t}&jwt=", id="query-parameter-with-empty-twin"),
]


@pytest.mark.parametrize(("headers", "query"), TOKEN_PLACES)
def test_token_is_not_forwarded_when_turned_off(headers: dict[str, str], query: str,
                                                upstream: Any) -> None:
    from jwt_wsgi.proxy import ReverseProxy

    jwt = manager(token_location=["headers", "cookies", "query_string"], cookie_csrf_protect=False)
    token = jwt.create_access_token("alice")
    proxy = ReverseProxy(upstream.url, {"sub": "X-Jwt-Sub"}, forward_authorization=False, timeout=5)
    answer = call(wrap(proxy, jwt, ROUTES), "/required",  # type: ignore[arg-type]
                  headers={k: v.replace("{t}", token) for k, v in headers.items()},
                  QUERY_STRING=query.replace("{t}", token))
    assert answer.status == 200
    seen = upstream.headers[-1]
    assert seen["x-jwt-sub"] == ["alice"]
    everything = upstream.requests[-1] + repr(seen)
    for part in token.split("."):
        assert part not in everything
