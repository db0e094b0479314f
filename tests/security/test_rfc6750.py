"""RFC 6750 (Bearer Token Usage): challenges, status codes, quoting, no header injection.

Every refusal is checked against the RFC 6750 3 grammar: ``Bearer`` alone, or ``Bearer``
followed by ``name="value"`` pairs whose values hold only %x20-21 / %x23-5B / %x5D-7E.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from jwt_wsgi import JWTManager
from tests.harness import NOW, SECRET, Answer, Clock, Recorder, call, manager, sign, wrap

CLAIMS = {"sub": "alice", "iat": NOW, "jti": "j-1", "type": "access", "fresh": False,
          "exp": NOW + 600}
ROUTES = {"/p": "required", "/fresh": "fresh", "/refresh": "refresh",
          "/scoped": {"require": "required", "scopes": ["users:read", "users:write"]},
          "/staff": {"require": "required", "claims": {"role": "staff"}}}
_VALUE = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
CHALLENGE = re.compile(rf"(?P<scheme>[A-Za-z][A-Za-z0-9._~+/-]*)"
                       rf"(?: (?P<params>[a-z_]+={_VALUE}(?:, [a-z_]+={_VALUE})*))?")


def token(**changes: Any) -> str:
    claims = {k: v for k, v in {**CLAIMS, **changes}.items() if v is not None}
    return sign({"alg": "HS256", "typ": "JWT"}, claims, SECRET.encode())


def params(challenge: str) -> dict[str, str]:
    match = CHALLENGE.fullmatch(challenge)
    assert match, f"not an RFC 6750 challenge: {challenge!r}"
    return dict(re.findall(r'([a-z_]+)=("[^"]*")', match.group("params") or "")) | {
        "scheme": match.group("scheme")}


def ask(path: str, authorization: str | None, jwt: JWTManager | None = None, **kwargs: Any
        ) -> tuple[Answer, Recorder]:
    app = Recorder()
    jwt = jwt or manager()
    headers = {"Authorization": authorization} if authorization is not None else {}
    return call(wrap(app, jwt, ROUTES, **kwargs), path, headers=headers), app


def _revoked() -> JWTManager:
    jwt = manager()
    jwt.revoke(CLAIMS)
    return jwt


CASES = [
    pytest.param("/p", None, None, 401, None, id="missing-token-no-error-code"),
    pytest.param("/p", "Basic YTpi", None, 401, None, id="other-scheme-counts-as-missing"),
    pytest.param("/p", "", None, 401, None, id="empty-header-counts-as-missing"),
    pytest.param("/p", "Bearer", None, 400, "invalid_request", id="scheme-without-token"),
    pytest.param("/p", "Bearer a b", None, 400, "invalid_request", id="two-tokens-space"),
    pytest.param("/p", "Bearer a, Bearer b", None, 400, "invalid_request", id="two-tokens-comma"),
    pytest.param("/p", "Bearer not.a.jwt", None, 401, "invalid_token", id="malformed-token"),
    pytest.param("/p", "Bearer " + token()[:-2] + "AA", None, 401, "invalid_token", id="bad-signature"),
    pytest.param("/p", "Bearer " + token(exp=NOW - 1), None, 401, "invalid_token", id="expired"),
    pytest.param("/p", "Bearer " + token(), _revoked, 401, "invalid_token", id="revoked"),
    pytest.param("/fresh", "Bearer " + token(), None, 401, "invalid_token", id="not-fresh"),
    pytest.param("/p", "Bearer " + token(type="refresh"), None, 401, "invalid_token",
                 id="refresh-as-access"),
    pytest.param("/scoped", "Bearer " + token(scope="users:read"), None, 403, "insufficient_scope",
                 id="insufficient-scope"),
    pytest.param("/staff", "Bearer " + token(role="user"), None, 403, "insufficient_scope",
                 id="missing-required-claim"),
    pytest.param("/p", "Bearer " + token(), None, 200, None, id="valid-no-challenge"),
    pytest.param("/p", "bEaReR " + token(), None, 200, None, id="scheme-case-insensitive"),
]


@pytest.mark.parametrize(("path", "authorization", "make", "status", "error"), CASES)
def test_challenges_and_status(path: str, authorization: str | None, make: Any, status: int,
                               error: str | None) -> None:
    answer, app = ask(path, authorization, make() if make else None)
    assert answer.status == status
    assert app.calls == (1 if status == 200 else 0)
    challenge = answer.header("WWW-Authenticate")
    if status == 200:
        assert challenge is None
        return
    assert challenge is not None
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("Cache-Control") == "no-store"
    if authorization and len(authorization) > 12:
        assert authorization.split()[-1] not in answer.body.decode() + challenge
    found = params(challenge)
    assert found["scheme"] == "Bearer"
    if error is None:
        assert challenge == "Bearer"
    else:
        assert found["error"] == f'"{error}"'
    if error == "insufficient_scope" and path == "/scoped":
        # As DESIGN and RFC 6750 3.1's example write it: the scope, no description.
        assert challenge == 'Bearer error="insufficient_scope", scope="users:read users:write"'
    elif error is not None:
        assert found["error_description"].strip('"') == answer.json["msg"]


def test_expired_description_says_expired() -> None:
    answer, _ = ask("/p", "Bearer " + token(exp=NOW - 1))
    assert params(answer.header("WWW-Authenticate") or "")["error_description"] == '"Token has expired"'


def test_store_failure_is_503_without_challenge() -> None:
    class Broken:
        def add(self, jti: str, expires_at: float | None) -> None:
            raise ConnectionError

        def contains(self, jti: str) -> bool:
            raise ConnectionError("redis down")

    jwt = JWTManager(secret_key=SECRET, blocklist=Broken(), clock=Clock())
    answer, app = ask("/p", "Bearer " + token(), jwt)
    assert (answer.status, app.calls) == (503, 0)
    assert "redis" not in answer.body.decode()


# -- quoting and header injection -----------------------------------------------------------------

INJECTIONS = ['a"b', "a\\b", "x\r\nSet-Cookie: owned=1", "x\nLocation: http://evil", "\u00e9t\u00e9",
              "x\x00y", 'q", error="none']


@pytest.mark.parametrize("text", INJECTIONS)
@pytest.mark.parametrize("where", ["realm", "scope", "identity-claim-message"])
def test_no_header_injection_through_challenge_parameters(text: str, where: str) -> None:
    jwt = manager(realm=text) if where == "realm" else (
        manager(identity_claim="u" + text) if where == "identity-claim-message" else manager())
    routes = {"/p": {"require": "required", "scopes": [text]}} if where == "scope" else {"/p": "required"}
    app = Recorder()
    # A realm shows on every challenge; the other two need a token that gets refused.
    headers = {} if where == "realm" else {"Authorization": "Bearer " + token(scope="")}
    answer = call(wrap(app, jwt, routes), "/p", headers=headers)
    assert answer.status in (401, 403) and app.calls == 0
    challenge = answer.header("WWW-Authenticate") or ""
    params(challenge)  # parses: nothing broke out of its quotes
    assert not any(c in challenge for c in "\r\n\x00")
    for name, value in answer.headers:
        assert not any(c in name + value for c in "\r\n\x00")
    assert answer.header("Set-Cookie") is None and answer.header("Location") is None


def test_realm_comes_first_and_is_quoted() -> None:
    answer, _ = ask("/p", None, manager(realm="api"))
    assert answer.header("WWW-Authenticate") == 'Bearer realm="api"'


def test_custom_scheme_is_used_in_the_challenge() -> None:
    answer, _ = ask("/p", None, manager(header_type="JWT"))
    assert answer.header("WWW-Authenticate") == "JWT"


RESPONDER_CASES = [
    pytest.param(lambda: ({"error": "nope"}, 401), 401, "added", id="tuple-401-gets-challenge"),
    pytest.param(lambda: ({"error": "nope"}, 403), 403, "added", id="tuple-403-gets-challenge"),
    pytest.param(lambda: ({"e": 1}, 401, {"WWW-Authenticate": 'Bearer realm="own"'}), 401, "own",
                 id="responder-challenge-kept-once"),
    pytest.param(lambda: ({"e": 1}, 401, {"X-Evil": "a\r\nSet-Cookie: x=1"}), 401, "default",
                 id="responder-crlf-header-falls-back-to-default"),
    pytest.param(lambda: ({"e": 1}, 401, {"Bad Name": "x"}), 401, "default",
                 id="responder-bad-header-name-falls-back"),
    pytest.param(lambda: 1 / 0, 401, "default", id="responder-raises-falls-back"),
]


@pytest.mark.parametrize(("responder", "status", "challenge"), RESPONDER_CASES)
def test_custom_expired_responder(responder: Any, status: int, challenge: str) -> None:
    jwt = manager()
    jwt.expired_token_loader(responder)
    answer, app = ask("/p", "Bearer " + token(exp=NOW - 1), jwt)
    assert (answer.status, app.calls) == (status, 0)
    value = answer.header("WWW-Authenticate")
    assert answer.header("Set-Cookie") is None
    if challenge == "own":
        assert value == 'Bearer realm="own"'
    elif challenge == "default":
        assert answer.json == {"msg": "Token has expired"}
    else:
        assert value is not None and params(value)["error"] == '"invalid_token"'


# -- RFC 6750 2.1-2.3: one token, in one place ---------------------------------------------------

LOCATIONS = ["headers", "cookies", "query_string", "json"]
LOCATION_CASES = [
    pytest.param({"Authorization": "Bearer {t}"}, "", None, 200, id="header-only"),
    pytest.param({"Cookie": "access_token_cookie={t}"}, "", None, 200, id="cookie-only"),
    pytest.param({}, "jwt={t}", None, 200, id="query-only"),
    pytest.param({"Content-Type": "application/json"}, "", '{{"access_token": "{t}"}}', 200,
                 id="json-body-only"),
    pytest.param({"Authorization": "Bearer {t}", "Cookie": "access_token_cookie={t}"}, "", None, 400,
                 id="header-and-cookie"),
    pytest.param({"Authorization": "Bearer {t}"}, "jwt={t}", None, 400, id="header-and-query"),
    pytest.param({"Cookie": "access_token_cookie={t}; access_token_cookie={t}"}, "", None, 400,
                 id="cookie-twice"),
    pytest.param({}, "jwt={t}&jwt={t}", None, 400, id="query-parameter-twice"),
    pytest.param({"Authorization": "Bearer {t}", "Content-Type": "application/json"}, "",
                 '{{"access_token": "{t}"}}', 400, id="header-and-json-body"),
    pytest.param({"Content-Type": "application/json"}, "", '{{"access_token": "{t}", "access_token": "x"}}',
                 400, id="json-duplicate-member"),
    pytest.param({"Content-Type": "application/json"}, "", '{{"access_token": ["{t}"]}}', 400,
                 id="json-token-not-a-string"),
]


@pytest.mark.parametrize(("headers", "query", "body", "status"), LOCATION_CASES)
def test_one_token_in_one_place(headers: dict[str, str], query: str, body: str | None,
                                status: int) -> None:
    jwt = manager(token_location=LOCATIONS, cookie_csrf_protect=False)
    t = token()
    app = Recorder()
    answer = call(wrap(app, jwt, {"/p": "required"}), "/p", "POST",
                  {k: v.format(t=t) for k, v in headers.items()},
                  body.format(t=t).encode() if body else None, QUERY_STRING=query.format(t=t))
    assert answer.status == status and app.calls == (1 if status == 200 else 0)
    if status == 400:
        assert params(answer.header("WWW-Authenticate") or "")["error"] == '"invalid_request"'
        assert t not in answer.body.decode()


def test_query_string_is_off_by_default() -> None:
    app = Recorder()
    answer = call(wrap(app, manager(), {"/p": "required"}), "/p", QUERY_STRING="jwt=" + token())
    assert (answer.status, app.calls) == (401, 0)


# -- RFC 6750 2.2/2.3 shapes: bodies, cookies and query strings that must not confuse the finder -

T = "{t}"
SHAPE_CASES = [
    # deeper than Python's recursion limit but within the values a body is searched in: 400
    pytest.param({"Content-Type": "application/json"}, b"[" * 4000 + b"]" * 4000, "", 400,
                 id="json-body-nested-4000-deep"),
    pytest.param({"Content-Type": "application/json"}, b'{"a":' * 4000 + b"1" + b"}" * 4000, "", 400,
                 id="json-body-objects-4000-deep"),
    # past MAX_JSON_VALUES the body is not searched at all: no token there, 401 unparsed
    pytest.param({"Content-Type": "application/json"}, b"[" * 100000 + b"]" * 100000, "", 401,
                 id="json-body-nested-100000-deep"),
    pytest.param({"Content-Type": "application/json"}, b'{"a":' * 50000 + b"1" + b"}" * 50000, "", 401,
                 id="json-body-objects-50000-deep"),
    pytest.param({"Content-Type": "application/json"}, b'{"access_token": "\xff"}', "", 400,
                 id="json-body-not-utf8"),
    pytest.param({"Content-Type": "application/json"}, b'{"access_token": NaN}', "", 400,
                 id="json-body-nan"),
    pytest.param({"Content-Type": "application/json"}, b'{"x": ' + b"9" * 100000 + b"}", "", 400,
                 id="json-body-100000-digit-number"),
    pytest.param({"Content-Type": "application/json"}, b'\xef\xbb\xbf{"access_token": "{t}"}', "", 400,
                 id="json-body-with-bom"),
    pytest.param({"Content-Type": "text/plain"}, b'{"access_token": "{t}"}', "", 401,
                 id="json-token-in-non-json-body-is-no-token"),
    pytest.param({"Cookie": 'access_token_cookie="{t}"'}, None, "", 200, id="cookie-quoted-value"),
    pytest.param({"Cookie": "Access_Token_Cookie={t}"}, None, "", 401, id="cookie-name-case-differs"),
    pytest.param({"Cookie": "access_token_cookie=" + "x" * 100000}, None, "", 401, id="cookie-huge"),
    pytest.param({}, None, "JWT={t}", 401, id="query-name-case-differs"),
    pytest.param({}, None, "jwt={t};jwt=x", 401, id="query-semicolon-is-not-a-separator"),
    pytest.param({}, None, "jwt=" + "%" * 1000, 401, id="query-broken-percent-encoding"),
    pytest.param({}, None, "jwt[]={t}", 401, id="query-array-syntax-is-another-name"),
]


@pytest.mark.parametrize(("headers", "body", "query", "status"), SHAPE_CASES)
def test_location_shapes(headers: dict[str, str], body: bytes | None, query: str, status: int) -> None:
    jwt = manager(token_location=LOCATIONS, cookie_csrf_protect=False)
    t = token()
    app = Recorder()
    answer = call(wrap(app, jwt, {"/p": "required"}), "/p", "POST",
                  {k: v.replace(T, t) for k, v in headers.items()},
                  body.replace(T.encode(), t.encode()) if body else None,
                  QUERY_STRING=query.replace(T, t))
    assert (answer.status, app.calls) == (status, 1 if status == 200 else 0)
    assert t not in answer.body.decode()
