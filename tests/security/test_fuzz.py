"""Fuzzing with hypothesis: the token parser and whole requests.

Bounded and derandomized so CI is fast and repeatable; ``fuzz/atheris_tokens.py`` runs the
parser for as long as anyone likes. Invariants:

- the parser returns ``(header, claims)`` or raises a :class:`JWTWSGIError`, nothing else;
- a request never gets a 500;
- the app is reached with claims only when a valid token was offered, and without claims
  only where the path's policy is public;
- no token text ever appears in a response body.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwt_wsgi import JWTManager, JWTMiddleware
from jwt_wsgi.errors import JWTWSGIError
from jwt_wsgi.policy import PUBLIC
from tests.harness import NOW, SECRET, Recorder, b64, call, sign_hs256

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

JWT = JWTManager(secret_key=SECRET, token_location=["headers", "cookies", "query_string", "json"],
                 cookie_csrf_protect=False, clock=lambda: float(NOW))
VALID = JWT.create_access_token("alice")
EXPIRED = JWT.create_access_token("alice", expires_delta=-10)
REVOKED = JWT.create_access_token("alice")
JWT.revoke(REVOKED)
FORGED = VALID[: VALID.rindex(".") + 1] + b64(b"\x00" * 32)
NONE_ALG = b64('{"alg":"none"}') + "." + VALID.split(".")[1] + "."
TOKENS = [VALID, EXPIRED, REVOKED, FORGED, NONE_ALG, "a.b.c", "", "Bearer", VALID + "=",
          VALID.upper()]
ROUTES = {"/health": "public", "/public/*": "public", "/opt": "optional",
          "GET,HEAD /health": "public", "DELETE /health": "required",
          "/fresh": "fresh", "/refresh": "refresh",
          "/scoped": {"require": "required", "scopes": ["admin"]}}


# -- the token parser -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                     max_size=3),
    max_leaves=8)
headers = st.fixed_dictionaries(
    {}, optional={"alg": st.sampled_from(["HS256", "HS384", "none", "RS256", "", "hs256"]) | json_values,
                  "typ": st.sampled_from(["JWT", "at+jwt", "JWE"]) | json_values,
                  "kid": st.text(max_size=5) | json_values, "crit": json_values, "zip": json_values})
claim_sets = st.fixed_dictionaries(
    {}, optional={"sub": st.text(max_size=5) | json_values,
                  "exp": st.integers(NOW - 5, NOW + 5) | json_values,
                  "nbf": st.integers(NOW - 5, NOW + 5) | json_values,
                  "iat": st.integers(NOW - 5, NOW + 5) | json_values,
                  "aud": json_values, "iss": json_values, "jti": json_values,
                  "type": st.sampled_from(["access", "refresh"]) | json_values,
                  "fresh": json_values, "scope": json_values, "scp": json_values}).map(
    lambda d: d | json.loads(json.dumps(d)))


def _check_verify(token: str) -> None:
    try:
        header, claims = JWT.verify(token)
    except JWTWSGIError:
        return
    assert isinstance(header, dict) and isinstance(claims, dict)
    assert header.get("alg") == "HS256" and isinstance(claims.get("sub"), str)


@FUZZ
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_\-=+/.]{0,200}", fullmatch=True))
def test_parser_on_arbitrary_text(token: str) -> None:
    _check_verify(token)


@FUZZ
@given(headers, claim_sets, st.booleans())
def test_parser_on_structured_tokens(header: dict[str, Any], claims: dict[str, Any],
                                     correctly_signed: bool) -> None:
    token = sign_hs256(header, claims) if correctly_signed else sign_hs256(header, claims, "x" * 40)
    _check_verify(token)


@FUZZ
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_parser_on_signed_random_bytes(header: bytes, payload: bytes) -> None:
    _check_verify(sign_hs256(header, payload))


# -- whole requests ---------------------------------------------------------------------------------

PATHS = ["/", "/health", "/health/../admin", "/public/x", "/public/%2e%2e/admin", "/opt", "/fresh",
         "/refresh", "/scoped", "/admin", "//admin", "/admin%00", "/x\x01", "/%61dmin", ""]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get", "PROPFIND"]))
    # Any code point, lone surrogates included: a broken server may hand on anything.
    path = draw(st.sampled_from(PATHS) | st.text(st.characters(exclude_categories=()), max_size=20)
                .map(lambda t: "/" + t))
    offered: list[str] = []

    def token() -> str:
        value = draw(st.sampled_from(TOKENS) | st.text(max_size=30))
        offered.append(value)
        return value

    headers: dict[str, str] = {}
    environ: dict[str, Any] = {}
    body: bytes | None = None
    if draw(st.booleans()):
        scheme = draw(st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  ", "Bearer\t"]))
        headers["Authorization"] = scheme + token() + draw(st.sampled_from(["", ", x", " y", " "]))
    if draw(st.booleans()):
        headers["Cookie"] = draw(st.sampled_from(["access_token_cookie=", "x=1; access_token_cookie=",
                                                  "access_token_cookie=\""])) + token()
    if draw(st.booleans()):
        environ["QUERY_STRING"] = draw(st.sampled_from(["jwt=", "a=1&jwt=", "jwt=x&jwt="])) + quote(token())
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["json", "raw", "huge-length"]))
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                        "text/plain", "application/x-www-form-urlencoded"]))
        if kind == "json":
            body = json.dumps({"access_token": token(), "x": draw(json_values)}).encode()
        else:
            body = draw(st.binary(max_size=200))
            if kind == "huge-length":
                environ["CONTENT_LENGTH"] = "99999999999"
    for name in draw(st.lists(st.sampled_from(["Origin", "Access-Control-Request-Method", "X-Csrf-Token",
                                               "Remote-User", "Content-Length",
                                               "X-Http-Method-Override"]), max_size=3)):
        headers[name] = draw(st.sampled_from(["GET", "POST", "delete", " PUT "])
                             | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12))
    if draw(st.booleans()):
        environ.update({"REMOTE_USER": "admin", "jwt_wsgi.claims": {"sub": "admin"}})
    return {"method": method, "path": path, "headers": headers, "environ": environ, "body": body,
            "offered": offered}


class LogText(logging.Handler):
    """Keeps the formatted text (tracebacks included) of everything jwt_wsgi logs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.records.append(text)


LOGS = LogText()
MIDDLEWARE_APP = Recorder()
MIDDLEWARE = JWTMiddleware(MIDDLEWARE_APP, JWT, routes=ROUTES, default="required")


@FUZZ
@given(requests())
def test_whole_requests(request: dict[str, Any]) -> None:
    before = MIDDLEWARE_APP.calls
    LOGS.records.clear()
    logger = logging.getLogger("jwt_wsgi")
    level = logger.level
    logger.addHandler(LOGS)
    logger.setLevel(logging.DEBUG)
    try:
        _request_invariants(request, before)
    finally:
        logger.removeHandler(LOGS)
        logger.setLevel(level)
    logged = "\n".join(LOGS.records)
    for offered in request["offered"]:
        # The refusal log names the path, so text the path itself holds may appear.
        if len(offered) >= 16 and offered not in request["path"]:
            assert offered not in logged


def _request_invariants(request: dict[str, Any], before: int) -> None:
    try:
        answer = call(MIDDLEWARE, request["path"], request["method"], request["headers"],
                      request["body"], **request["environ"])
    except (ValueError, UnicodeError):
        # werkzeug's EnvironBuilder could not build this request at all (the test client's
        # limit, not the middleware's): nothing was sent.
        assert MIDDLEWARE_APP.calls == before
        return
    assert answer.status != 500, request
    body = answer.body.decode("latin-1")
    for offered in request["offered"]:
        if len(offered) >= 16:
            assert offered not in body
    if MIDDLEWARE_APP.calls == before:
        assert answer.status in (400, 401, 403, 413, 415, 503)
        return
    environ = MIDDLEWARE_APP.environs[-1]
    assert environ.get("REMOTE_USER") != "admin"
    if "jwt_wsgi.claims" in environ:
        assert VALID in request["offered"]
        assert environ["jwt_wsgi.claims"]["sub"] == "alice"
    else:
        method = request["method"].upper()
        if method == "OPTIONS" and "Origin" in request["headers"] and \
                "Access-Control-Request-Method" in request["headers"]:
            return  # a CORS preflight passes untouched, by design
        methods = [method]
        if "X-Http-Method-Override" in request["headers"]:
            methods.append(request["headers"]["X-Http-Method-Override"].strip().upper())
        for each in methods:
            policy = MIDDLEWARE.routes.resolve(each, request["path"])
            assert policy == PUBLIC or policy.require == "optional", request
