"""One error class per cause: each bad token reaches ``on_outcome`` with its own code.

The answer does not change with the cause's class: the same 401, the same JSON message,
the same RFC 6750 ``error="invalid_token"`` challenge, the same ``invalid_token_loader``.
Only the machine code that logs and metrics see names the cause.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import InvalidTokenError, JWTManager, JWTMiddleware
from jwt_wsgi.errors import JWTWSGIError, error_table, refusals
from jwt_wsgi.keys import public_jwk
from tests.harness import NOW, Recorder, forge, keys, manager, sign, sign_hs256

API = "https://api.example"
APP = "https://app.example"
HS = {"alg": "HS256", "typ": "JWT"}
CLAIMS = {"sub": "alice", "iat": NOW, "jti": "j-1", "type": "access", "fresh": False,
          "exp": NOW + 600, "iss": API, "aud": APP}


def claims(**changes: Any) -> dict[str, Any]:
    merged = {**CLAIMS, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def hs(**changes: Any) -> Callable[[], str]:
    return lambda: sign_hs256(HS, claims(**changes))


def hs_header(**header: Any) -> Callable[[], str]:
    return lambda: sign_hs256({**HS, **header}, CLAIMS)


def unknown_kid() -> str:
    return sign({"alg": "RS256", "typ": "JWT", "kid": "nobody"}, CLAIMS, keys().rsa_private)


def rsa_manager() -> JWTManager:
    jwk = public_jwk(keys().rsa_private.public_key(), "k-1", "RS256")
    return manager(algorithm="RS256", jwks={"keys": [jwk]}, issuer=API, audience=APP)


CASES = [
    ("token_too_large", "Token is too large", lambda: "a" * 9000),
    ("token_malformed", "Not enough segments", lambda: "abc.def"),
    ("token_malformed", "Invalid token format", lambda: "a.b.c.d"),
    ("token_malformed", "Invalid header", lambda: forge(b"not json", CLAIMS)),
    ("token_malformed", "Invalid signature encoding",
     lambda: sign_hs256(HS, CLAIMS)[:-1] + "B"),
    ("token_malformed", "Invalid payload", lambda: sign_hs256(HS, b"[1, 2]")),
    ("algorithm_not_allowed", "The specified alg value is not allowed",
     lambda: forge({"alg": "none"}, CLAIMS, b"x")),
    ("header_invalid", "Unsupported header parameter: crit", hs_header(crit=["exp"])),
    ("header_invalid", "Invalid key id", hs_header(kid=7)),
    ("token_type_invalid", "Unsupported token type", hs_header(typ="logout+jwt")),
    ("signature_invalid", "Signature verification failed",
     lambda: sign_hs256(HS, CLAIMS, "another-secret-" + "x" * 40)),
    ("claim_invalid", "Invalid claim: exp must be a NumericDate", hs(exp="tomorrow")),
    ("claim_invalid", "Missing claim: sub", hs(sub=None)),
    ("claim_invalid", "Invalid claim: jti must be a string", hs(jti=5)),
    ("audience_invalid", "Invalid audience", hs(aud="https://other.example")),
    ("audience_invalid", "Missing claim: aud", hs(aud=None)),
    ("audience_invalid", "Invalid claim: aud", hs(aud=[])),
    ("issuer_invalid", "Invalid issuer", hs(iss="https://evil.example")),
    ("token_not_yet_valid", "The token is not yet valid (nbf)", hs(nbf=NOW + 60)),
    ("token_not_yet_valid", "The token was issued in the future (iat)", hs(iat=NOW + 60)),
    ("wrong_token_type", "Only non-refresh tokens are allowed", hs(type="refresh")),
]


def answer(jwt: JWTManager, token: str, path: str = "/p",
           routes: dict[str, Any] | None = None) -> tuple[list[str], Any, Recorder]:
    outcomes: list[str] = []
    recorder = Recorder()
    app = JWTMiddleware(recorder, jwt, routes=routes or {"/p": "required"},
                        on_outcome=lambda outcome, environ: outcomes.append(outcome))
    return outcomes, Client(app).get(path, headers={"Authorization": f"Bearer {token}"}), recorder


@pytest.mark.parametrize(("code", "message", "make"), [
    pytest.param(code, message, make, id=f"{code}:{message}") for code, message, make in CASES
])
def test_each_cause_has_its_code_and_the_same_answer(code: str, message: str,
                                                     make: Callable[[], str]) -> None:
    token = make()
    outcomes, response, recorder = answer(manager(issuer=API, audience=APP), token)
    assert outcomes == [code]
    assert response.status_code == 401 and not recorder.calls
    assert json.loads(response.get_data()) == {"msg": message}
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert token not in response.get_data(as_text=True)


@pytest.mark.parametrize(("code", "message", "jwt", "token", "routes"), [
    pytest.param("key_unknown", "No key matches the token", rsa_manager, unknown_kid, None,
                 id="key_unknown"),
    pytest.param("issuer_invalid", "Unknown issuer",
                 lambda: manager(issuer=API, audience=APP, issuers={
                     "https://partner.example": {"secret_key": "p" * 40}}),
                 hs(iss="https://nobody.example"), None, id="issuer_invalid:unknown-issuer"),
    pytest.param("issuer_invalid", "Issuer not accepted on this route",
                 lambda: manager(issuer=API, audience=APP), hs(),
                 {"/p": {"require": "required", "issuers": ["https://partner.example"]}},
                 id="issuer_invalid:route"),
    pytest.param("token_expired", "Token has expired", lambda: manager(issuer=API, audience=APP),
                 hs(exp=NOW - 1), None, id="token_expired"),
])
def test_causes_found_by_other_parts(code: str, message: str, jwt: Callable[[], JWTManager],
                                     token: Callable[[], str],
                                     routes: dict[str, Any] | None) -> None:
    outcomes, response, recorder = answer(jwt(), token(), routes=routes)
    assert outcomes == [code]
    assert response.status_code == 401 and not recorder.calls
    assert json.loads(response.get_data()) == {"msg": message}


def test_the_invalid_token_loader_still_answers_every_cause() -> None:
    jwt = manager(issuer=API, audience=APP)
    seen: list[str] = []

    @jwt.invalid_token_loader
    def invalid(msg: str) -> tuple[dict[str, str], int]:
        seen.append(msg)
        return {"error": "bad"}, 401

    for _, message, make in CASES[:-1]:  # the last is a wrong type: its own loader too
        _, response, _ = answer(jwt, make())
        assert json.loads(response.get_data()) == {"error": "bad"}
    assert seen == [message for _, message, _ in CASES[:-1]]


def test_every_refusal_has_its_own_code() -> None:
    codes = [cls.code for cls in refusals()]
    assert len(codes) == len(set(codes)), codes


@pytest.mark.parametrize("cls", [pytest.param(cls, id=cls.__name__) for cls in refusals()
                                 if issubclass(cls, InvalidTokenError)])
def test_causes_of_an_invalid_token_answer_as_one(cls: type[JWTWSGIError]) -> None:
    assert (cls.status, cls.error, cls.loader) == (401, "invalid_token", "invalid_token_loader")
    assert isinstance(cls(), InvalidTokenError)


def test_the_errors_table_lists_every_refusal() -> None:
    table = {row["code"]: row for row in error_table()}
    assert table["signature_invalid"] == {
        "name": "SignatureInvalidError", "code": "signature_invalid", "status": 401,
        "error": "invalid_token", "loader": "invalid_token_loader",
        "message": "Signature verification failed",
        "doc": "The signature does not verify with the key the token names."}
    assert table["service_unavailable"]["status"] == 503
    assert {"missing_token", "token_expired", "invalid_token", "claim_invalid"} <= set(table)


def _signed_over(signing_input: str) -> str:
    """A token whose HS256 signature is right for ``signing_input`` exactly as written."""
    import hashlib
    import hmac

    from tests.harness import SECRET, b64

    mac = hmac.new(SECRET.encode(), signing_input.encode("utf-8"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


_GOOD = sign_hs256(HS, CLAIMS)
_HEADER, _PAYLOAD, _SIGNATURE = _GOOD.split(".")


@pytest.mark.parametrize(("message", "token"), [
    pytest.param("Invalid token format", _GOOD + "\n", id="newline-after"),
    pytest.param("Invalid token format", _GOOD + "=", id="padded-signature"),
    pytest.param("Invalid token format", f"{_HEADER}.{_PAYLOAD}.", id="empty-signature"),
    pytest.param("Invalid token format", f"{_HEADER}..{_SIGNATURE}", id="empty-payload"),
    pytest.param("Invalid token format", f".{_PAYLOAD}.{_SIGNATURE}", id="empty-header"),
    pytest.param("Invalid token format", f"{_HEADER}.{_PAYLOAD} .{_SIGNATURE}", id="space"),
    pytest.param("Invalid token format", f"{_HEADER}.{_PAYLOAD}é.{_SIGNATURE}", id="non-ascii"),
    pytest.param("Invalid token format", _signed_over(f"{_HEADER}.{_PAYLOAD}=="),
                 id="signed-padded-payload"),
    pytest.param("Invalid token format", _signed_over(f"{_HEADER}=.{_PAYLOAD}"),
                 id="signed-padded-header"),
    pytest.param("Invalid token format", _signed_over(f"{_HEADER}.{_PAYLOAD[:8]}\n{_PAYLOAD[8:]}"),
                 id="signed-newline-in-payload"),
    pytest.param("Invalid token format", _signed_over(f"{_HEADER}.{_PAYLOAD}+"),
                 id="signed-standard-alphabet"),
    pytest.param("Invalid token format", _GOOD + "." + _SIGNATURE, id="four-segments"),
    pytest.param("Not enough segments", f"{_HEADER}.{_PAYLOAD}", id="two-segments"),
])
def test_a_token_not_in_compact_form_is_refused_as_such(message: str, token: str) -> None:
    """The compact form is judged after the other checks (it costs a regex), so each of
    these first fails somewhere else, or not at all (a right signature over a padded
    segment): the answer must still be the format's, never that other failure's, and never
    a pass."""
    from jwt_wsgi.errors import TokenMalformedError

    jwt = manager(issuer=API, audience=APP)
    assert jwt.decode_token(_GOOD)["sub"] == "alice"
    with pytest.raises(TokenMalformedError) as refused:
        jwt.decode_token(token)
    assert refused.value.message == message
