"""RFC 7515 (JWS compact form) and RFC 7519 (JWT claims): what a token must look like.

Every case goes through the whole middleware on a ``required`` route with a frozen clock
and names the one thing it changes from a valid token; ``valid`` cases prove that the
harness itself lets a good token through.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwt_wsgi.tokens import MAX_NUMERIC_DATE
from tests.harness import NOW, Recorder, call, manager, sign_hs256, wrap

HEADER = {"alg": "HS256", "typ": "JWT"}
CLAIMS = {"sub": "alice", "iat": NOW, "nbf": NOW, "jti": "j-1", "type": "access",
          "fresh": False, "exp": NOW + 600}
GOOD = sign_hs256(HEADER, CLAIMS)
G_HEADER, G_PAYLOAD, G_SIG = GOOD.split(".")


def claims(**changes: Any) -> dict[str, Any]:
    """The valid claims with some changed; a value of ``...`` removes the claim."""
    result = dict(CLAIMS)
    for name, value in changes.items():
        if value is ...:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def signed_text(header_text: str, payload_text: str) -> str:
    """Correctly signed over JSON text as given (duplicates, NaN, odd spacing survive)."""
    return sign_hs256(header_text, payload_text)


def refused(token: str, **settings: Any) -> tuple[int, str, int]:
    app = Recorder()
    answer = call(wrap(app, manager(**settings)), "/p",
                  headers={"Authorization": f"Bearer {token}"})
    assert token not in answer.body.decode("latin-1")
    message = answer.json.get("msg", "") if answer.status != 200 else ""
    return answer.status, message, app.calls


# -- compact serialization and base64url (RFC 7515 3.1, 7.1; RFC 7515 2: base64url without padding)

COMPACT_CASES = [
    pytest.param(GOOD, True, id="valid-baseline"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}", False, id="two-segments"),
    pytest.param(f"{GOOD}.{G_SIG}", False, id="four-segments"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG}.{G_SIG}.{G_SIG}", False, id="five-segments-jwe-shape"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.", False, id="empty-signature"),
    pytest.param(f".{G_PAYLOAD}.{G_SIG}", False, id="empty-header"),
    pytest.param(f"{G_HEADER}..{G_SIG}", False, id="empty-payload"),
    pytest.param("..", False, id="only-dots"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG}=", False, id="padded-signature"),
    pytest.param(f"{G_HEADER}=.{G_PAYLOAD}.{G_SIG}", False, id="padded-header"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}==.{G_SIG}", False, id="padded-payload"),
    pytest.param(GOOD.replace("-", "+").replace("_", "/") if ("-" in GOOD or "_" in GOOD)
                 else f"{G_HEADER}.{G_PAYLOAD}.{G_SIG[:-1]}+", False, id="standard-base64-alphabet"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG[:-1]}{'B' if G_SIG[-1] == 'A' else 'A'}", False,
                 id="signature-last-char-changed"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG}A", False, id="signature-impossible-length"),
    pytest.param(f"{G_HEADER} .{G_PAYLOAD}.{G_SIG}", 400, id="space-inside-reads-as-two-tokens"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG}\u00e9", False, id="non-ascii-character"),
    pytest.param(f"{G_HEADER}.{G_PAYLOAD}.{G_SIG}%3D", False, id="percent-encoded-padding"),
    pytest.param(GOOD + "." , False, id="trailing-dot"),
    pytest.param("." + GOOD, False, id="leading-dot"),
]


def _noncanonical_signature() -> str:
    """The same signature bytes with unused trailing bits set: decodes alike, is not canonical."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(G_SIG[-1])
    unused_bits = {2: 4, 3: 2}[len(G_SIG) % 4]
    twin = alphabet[last | ((1 << unused_bits) - 1)] if last & ((1 << unused_bits) - 1) == 0 \
        else alphabet[last & ~((1 << unused_bits) - 1)]
    return f"{G_HEADER}.{G_PAYLOAD}.{G_SIG[:-1]}{twin}"


COMPACT_CASES.append(pytest.param(_noncanonical_signature(), False,
                                  id="signature-noncanonical-trailing-bits"))


@pytest.mark.parametrize(("token", "accepted"), COMPACT_CASES)
def test_compact_serialization(token: str, accepted: bool | int) -> None:
    status, _, calls = refused(token)
    if accepted is True:
        assert (status, calls) == (200, 1)
    else:
        assert (status, calls) == (accepted or 401, 0)


# -- the header and payload are JSON objects in UTF-8 (RFC 7515 4, RFC 7519 7.2) -----------------

PAYLOAD_TEXT = json.dumps(CLAIMS)
HEADER_TEXT = json.dumps(HEADER)

JSON_CASES = [
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT, True, id="valid-baseline"),
    pytest.param("[1]", PAYLOAD_TEXT, False, id="header-array"),
    pytest.param('"HS256"', PAYLOAD_TEXT, False, id="header-string"),
    pytest.param("null", PAYLOAD_TEXT, False, id="header-null"),
    pytest.param("{", PAYLOAD_TEXT, False, id="header-truncated-json"),
    pytest.param(HEADER_TEXT, "[1, 2]", False, id="payload-array"),
    pytest.param(HEADER_TEXT, "42", False, id="payload-number"),
    pytest.param(HEADER_TEXT, "null", False, id="payload-null"),
    pytest.param(HEADER_TEXT, '"alice"', False, id="payload-string"),
    pytest.param(HEADER_TEXT, "", False, id="payload-empty-text"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT + "x", False, id="payload-trailing-garbage"),
    pytest.param('{"alg":"HS256","alg":"HS256"}', PAYLOAD_TEXT, False, id="header-duplicate-alg-same"),
    pytest.param('{"alg":"none","alg":"HS256"}', PAYLOAD_TEXT, False, id="header-duplicate-alg-none-first"),
    pytest.param('{"alg":"HS256","typ":"JWT","typ":"JWE"}', PAYLOAD_TEXT, False,
                 id="header-duplicate-typ"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "sub": "admin"}', False,
                 id="payload-duplicate-sub-last-admin"),
    pytest.param(HEADER_TEXT, '{"sub": "admin", ' + PAYLOAD_TEXT[1:], False,
                 id="payload-duplicate-sub-first-admin"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": {"a": 1, "a": 2}}', False,
                 id="payload-duplicate-nested-member"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": NaN}', False, id="payload-nan"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": Infinity}', False, id="payload-infinity"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": -Infinity}', False,
                 id="payload-minus-infinity"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}", False,
                 id="payload-deep-nesting"),
    pytest.param(HEADER_TEXT, "\ufeff" + PAYLOAD_TEXT, False, id="payload-utf8-bom"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "x": "\\ud800"}', True,
                 id="payload-lone-surrogate-escape-is-legal-json"),
    pytest.param(HEADER_TEXT, PAYLOAD_TEXT[:-1] + ', "name": "caf\u00e9"}', True,
                 id="payload-utf8-text"),
    pytest.param(" " + HEADER_TEXT + "\n", PAYLOAD_TEXT, True, id="header-json-whitespace-is-legal"),
]


@pytest.mark.parametrize(("header_text", "payload_text", "accepted"), JSON_CASES)
def test_json_objects(header_text: str, payload_text: str, accepted: bool) -> None:
    status, _, calls = refused(signed_text(header_text, payload_text))
    assert (status, calls) == ((200, 1) if accepted else (401, 0))


def test_payload_not_utf8_is_refused() -> None:
    token = signed_text(HEADER_TEXT, PAYLOAD_TEXT[:-1].encode() + b', "x": "\xff"}')  # type: ignore[arg-type]
    assert refused(token)[::2] == (401, 0)


def test_oversized_token_is_refused_before_parsing() -> None:
    big = signed_text(HEADER_TEXT, json.dumps(claims(pad="x" * 9000)))
    status, message, calls = refused(big)
    assert (status, message, calls) == (401, "Token is too large", 0)
    status, _, calls = refused(big, max_token_size=16384)
    assert (status, calls) == (200, 1)


# -- header parameters (RFC 7515 4.1.11 crit; 4.1.9 typ; RFC 7516/7797 parameters) ---------------

HEADER_CASES = [
    pytest.param({"alg": "HS256"}, True, id="typ-absent"),
    pytest.param({"alg": "HS256", "typ": "JWT"}, True, id="typ-JWT"),
    pytest.param({"alg": "HS256", "typ": "jwt"}, True, id="typ-lowercase-jwt"),
    pytest.param({"alg": "HS256", "typ": "at+jwt"}, True, id="typ-at+jwt"),
    pytest.param({"alg": "HS256", "typ": "application/jwt"}, True, id="typ-application-jwt"),
    pytest.param({"alg": "HS256", "typ": "application/AT+JWT"}, True, id="typ-application-at+jwt"),
    pytest.param({"alg": "HS256", "typ": "JWE"}, False, id="typ-JWE"),
    pytest.param({"alg": "HS256", "typ": "refresh+jwt"}, False, id="typ-refresh+jwt"),
    pytest.param({"alg": "HS256", "typ": "id_token+jwt"}, False, id="typ-other-token-kind"),
    pytest.param({"alg": "HS256", "typ": ""}, False, id="typ-empty"),
    pytest.param({"alg": "HS256", "typ": 1}, False, id="typ-number"),
    pytest.param({"alg": "HS256", "typ": None}, False, id="typ-null"),
    pytest.param({"alg": "HS256", "typ": ["JWT"]}, False, id="typ-list"),
    pytest.param({"alg": "HS256", "crit": ["exp"]}, False, id="crit-registered-name"),
    pytest.param({"alg": "HS256", "crit": ["x-unknown"], "x-unknown": 1}, False, id="crit-unknown"),
    pytest.param({"alg": "HS256", "crit": []}, False, id="crit-empty-list"),
    pytest.param({"alg": "HS256", "crit": None}, False, id="crit-null"),
    pytest.param({"alg": "HS256", "enc": "A256GCM"}, False, id="enc-present"),
    pytest.param({"alg": "HS256", "zip": "DEF"}, False, id="zip-present"),
    pytest.param({"alg": "HS256", "b64": False, "crit": ["b64"]}, False, id="b64-unencoded-payload"),
    pytest.param({"alg": "HS256", "b64": True}, False, id="b64-true"),
    pytest.param({"alg": "HS256", "kid": 7}, False, id="kid-number"),
    pytest.param({"alg": "HS256", "kid": None}, False, id="kid-null"),
    pytest.param({"alg": "HS256", "kid": {"$ne": ""}}, False, id="kid-object"),
    pytest.param({"alg": "HS256", "x-private": {"a": [1]}}, True, id="private-parameter-ignored"),
]


@pytest.mark.parametrize(("header", "accepted"), HEADER_CASES)
def test_header_parameters(header: dict[str, Any], accepted: bool) -> None:
    status, _, calls = refused(sign_hs256(header, CLAIMS))
    assert (status, calls) == ((200, 1) if accepted else (401, 0))


# -- NumericDate claims (RFC 7519 2, 4.1.4-4.1.6) ------------------------------------------------

EXPIRED, NOT_YET, FUTURE_IAT, BAD_TYPE = ("Token has expired", "The token is not yet valid (nbf)",
                                          "The token was issued in the future (iat)", "NumericDate")
TIME_CASES = [
    pytest.param({}, 0, None, id="valid-baseline"),
    pytest.param({"exp": NOW}, 0, EXPIRED, id="exp-exactly-now"),
    pytest.param({"exp": NOW + 1}, 0, None, id="exp-one-second-ahead"),
    pytest.param({"exp": NOW + 0.5}, 0, None, id="exp-half-second-ahead-float"),
    pytest.param({"exp": NOW - 0.5}, 0, EXPIRED, id="exp-half-second-ago-float"),
    pytest.param({"exp": NOW - 1}, 0, EXPIRED, id="exp-one-second-ago"),
    pytest.param({"exp": NOW - 9}, 10, None, id="exp-inside-leeway"),
    pytest.param({"exp": NOW - 10}, 10, EXPIRED, id="exp-at-leeway-boundary"),
    pytest.param({"exp": NOW - 11}, 10, EXPIRED, id="exp-past-leeway"),
    pytest.param({"exp": ...}, 0, None, id="exp-absent-allowed-by-default"),
    pytest.param({"nbf": NOW}, 0, None, id="nbf-exactly-now"),
    pytest.param({"nbf": NOW + 1}, 0, NOT_YET, id="nbf-one-second-ahead"),
    pytest.param({"nbf": NOW + 10}, 10, None, id="nbf-at-leeway-boundary"),
    pytest.param({"nbf": NOW + 11}, 10, NOT_YET, id="nbf-past-leeway"),
    pytest.param({"iat": NOW}, 0, None, id="iat-exactly-now"),
    pytest.param({"iat": NOW + 1}, 0, FUTURE_IAT, id="iat-in-the-future"),
    pytest.param({"iat": NOW + 10}, 10, None, id="iat-future-inside-leeway"),
    pytest.param({"iat": NOW + 11}, 10, FUTURE_IAT, id="iat-future-past-leeway"),
    pytest.param({"iat": 0}, 0, None, id="iat-epoch"),
    pytest.param({"exp": MAX_NUMERIC_DATE}, 0, None, id="exp-year-9999-last-second"),
    pytest.param({"exp": MAX_NUMERIC_DATE + 1}, 0, BAD_TYPE, id="exp-after-year-9999"),
    pytest.param({"exp": 1e300}, 0, BAD_TYPE, id="exp-1e300"),
    pytest.param({"exp": 10 ** 40}, 0, BAD_TYPE, id="exp-huge-integer"),
    pytest.param({"exp": 10 ** 400}, 0, BAD_TYPE, id="exp-400-digit-integer-overflows-floats"),
    pytest.param({"iat": -(10 ** 400)}, 0, BAD_TYPE, id="iat-400-digit-negative"),
    pytest.param({"exp": -1}, 0, BAD_TYPE, id="exp-negative"),
    pytest.param({"iat": -1}, 0, BAD_TYPE, id="iat-negative"),
    pytest.param({"exp": str(NOW + 600)}, 0, BAD_TYPE, id="exp-string"),
    pytest.param({"exp": True}, 0, BAD_TYPE, id="exp-true"),
    pytest.param({"exp": False}, 0, BAD_TYPE, id="exp-false"),
    pytest.param({"exp": None}, 0, BAD_TYPE, id="exp-null"),
    pytest.param({"exp": [NOW + 600]}, 0, BAD_TYPE, id="exp-list"),
    pytest.param({"exp": {"t": NOW + 600}}, 0, BAD_TYPE, id="exp-object"),
    pytest.param({"nbf": [NOW]}, 0, BAD_TYPE, id="nbf-list"),
    pytest.param({"nbf": "0"}, 0, BAD_TYPE, id="nbf-string"),
    pytest.param({"iat": "now"}, 0, BAD_TYPE, id="iat-string"),
    pytest.param({"iat": True}, 0, BAD_TYPE, id="iat-true"),
]


@pytest.mark.parametrize(("changes", "leeway", "why"), TIME_CASES)
def test_time_claims(changes: dict[str, Any], leeway: int, why: str | None) -> None:
    status, message, calls = refused(sign_hs256(HEADER, claims(**changes)), leeway=leeway)
    if why is None:
        assert (status, calls) == (200, 1)
    else:
        assert (status, calls) == (401, 0)
        assert why in message


@pytest.mark.parametrize(
    "literal",
    [
        pytest.param("NaN", id="exp-NaN-text"),
        pytest.param("Infinity", id="exp-Infinity-text"),
        pytest.param("-Infinity", id="exp-minus-Infinity-text"),
        pytest.param("1e400", id="exp-1e400-overflows-to-inf"),
        pytest.param('"1800000600"', id="exp-numeric-string"),
        pytest.param("1800000600.0e0", id="exp-exponent-form-is-a-number"),
    ],
)
def test_time_claims_json_text(literal: str) -> None:
    text = json.dumps(claims(exp=...))[:-1] + f', "exp": {literal}}}'
    status, _, calls = refused(signed_text(HEADER_TEXT, text))
    expected = (200, 1) if literal == "1800000600.0e0" else (401, 0)
    assert (status, calls) == expected


def test_require_exp() -> None:
    token = sign_hs256(HEADER, claims(exp=...))
    assert refused(token, require_exp=True) == (401, "Missing claim: exp", 0)
    assert refused(token)[::2] == (200, 1)


# -- other claim types (RFC 7519 4.1) ---------------------------------------------------------------

CLAIM_TYPE_CASES = [
    pytest.param({"sub": ...}, False, id="sub-missing"),
    pytest.param({"sub": None}, False, id="sub-null"),
    pytest.param({"sub": 42}, False, id="sub-number"),
    pytest.param({"sub": ["alice"]}, False, id="sub-list"),
    pytest.param({"sub": ""}, True, id="sub-empty-string-is-a-string"),
    pytest.param({"jti": 1}, False, id="jti-number"),
    pytest.param({"type": ["access"]}, False, id="type-list"),
    pytest.param({"scope": ["a"]}, False, id="scope-list"),
    pytest.param({"scp": "a b"}, True, id="scp-space-separated-string-azure-style"),
    pytest.param({"scp": 1}, False, id="scp-number"),
    pytest.param({"scp": ["a", 1]}, False, id="scp-mixed-list"),
    pytest.param({"fresh": "yes"}, False, id="fresh-string"),
    pytest.param({"fresh": 10 ** 400}, False, id="fresh-400-digit-integer"),
    pytest.param({"csrf": 1}, False, id="csrf-number"),
    pytest.param({"iss": "anyone"}, True, id="iss-ignored-when-no-issuer-configured"),
    pytest.param({"unknown": {"deep": [1, None]}}, True, id="unregistered-claim-kept"),
]


@pytest.mark.parametrize(("changes", "accepted"), CLAIM_TYPE_CASES)
def test_claim_types(changes: dict[str, Any], accepted: bool) -> None:
    status, _, calls = refused(sign_hs256(HEADER, claims(**changes)))
    assert (status, calls) == ((200, 1) if accepted else (401, 0))



# -- the signature comes first: nothing about the claims is judged (or told) before it ----------

@pytest.mark.parametrize("changes", [
    pytest.param({"exp": NOW - 1}, id="expired"),
    pytest.param({"nbf": NOW + 60}, id="not-yet-valid"),
    pytest.param({"exp": "soon"}, id="bad-claim-type"),
    pytest.param({"sub": ...}, id="missing-sub"),
    pytest.param({"aud": "someone"}, id="unexpected-audience"),
    pytest.param({"jti": "revoked-jti"}, id="revoked"),
])
def test_claims_are_not_judged_before_the_signature(changes: dict[str, Any]) -> None:
    token = sign_hs256(HEADER, claims(**changes), "another-secret-" + "x" * 40)
    jwt = manager()
    jwt.revoke({"jti": "revoked-jti", "exp": NOW + 600})
    app = Recorder()
    answer = call(wrap(app, jwt), "/p", headers={"Authorization": f"Bearer {token}"})
    assert (answer.status, answer.json, app.calls) == (401, {"msg": "Signature verification failed"}, 0)
