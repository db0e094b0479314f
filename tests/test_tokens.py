"""Minting and decoding: the claim layout, time rules and the strict checks."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import jwt as pyjwt
import pytest
from werkzeug.test import Client

from jwt_wsgi import (
    ConfigError,
    ExpiredTokenError,
    InvalidTokenError,
    JWTManager,
    JWTMiddleware,
    Token,
)
from tests.harness import NOW, SECRET, Clock, Recorder, bearer, forge, sign_hs256

BASE = {"sub": "alice", "iat": NOW, "nbf": NOW, "exp": NOW + 60, "jti": "j1", "type": "access",
        "fresh": False}
HS = {"alg": "HS256", "typ": "JWT"}


def test_access_token_layout(jwt: JWTManager) -> None:
    claims = jwt.decode_token(jwt.create_access_token("alice", fresh=True,
                                                      additional_claims={"role": "admin"}))
    assert claims["sub"] == "alice" and claims["type"] == "access" and claims["fresh"] is True
    assert claims["iat"] == claims["nbf"] == NOW
    assert claims["exp"] == NOW + 15 * 60
    assert claims["role"] == "admin" and isinstance(claims["jti"], str)
    # As flask-jwt-extended 4.x: csrf whenever cookie CSRF protection is on, wherever the
    # token is read from (a token minted for a header may still be set as a cookie).
    assert isinstance(claims["csrf"], str) and claims["csrf"] != claims["jti"]


def test_refresh_token_layout(jwt: JWTManager) -> None:
    claims = jwt.decode_token(jwt.create_refresh_token("alice"))
    assert claims["type"] == "refresh" and claims["fresh"] is False
    assert claims["exp"] == NOW + 30 * 86400


def test_expiry_options(jwt: JWTManager) -> None:
    assert "exp" not in jwt.decode_token(jwt.create_access_token("a", expires_delta=False))
    assert jwt.decode_token(jwt.create_access_token("a", expires_delta=5))["exp"] == NOW + 5
    fresh = jwt.decode_token(jwt.create_access_token(
        "a", fresh=datetime.timedelta(minutes=5)))["fresh"]
    assert fresh == NOW + 300


def test_non_string_identity_is_refused_when_minting(jwt: JWTManager) -> None:
    with pytest.raises(TypeError, match="identity must be a string"):
        jwt.create_access_token(42)  # type: ignore[arg-type]


def test_user_loaders_shape_minted_tokens(jwt: JWTManager) -> None:
    @jwt.user_identity_loader
    def identity(user: dict[str, str]) -> str:
        return user["name"]

    # As in flask-jwt-extended 4.x, these get what was passed to create_*_token (the
    # user object), not the identity the identity loader made of it.
    @jwt.user_claims_loader
    def claims(user: dict[str, str]) -> dict[str, str]:
        return {"team": "blue-" + user["name"]}

    @jwt.additional_headers_loader
    def headers(user: dict[str, str]) -> dict[str, str]:
        return {"kid": "k-" + user["name"]}

    token = jwt.create_access_token({"name": "bob"})
    assert jwt.decode_token(token)["team"] == "blue-bob"
    assert jwt.decode_token(token)["sub"] == "bob"
    assert pyjwt.get_unverified_header(token)["kid"] == "k-bob"


def test_additional_headers_cannot_change_alg(jwt: JWTManager) -> None:
    with pytest.raises(ValueError, match="alg"):
        jwt.create_access_token("a", additional_headers={"alg": "none"})


def test_tokens_pass_both_ways_with_pyjwt_and_flask_jwt_extended(jwt: JWTManager) -> None:
    ours = JWTManager(secret_key=SECRET)
    theirs = pyjwt.decode(ours.create_access_token("alice"), SECRET, algorithms=["HS256"])
    assert theirs["sub"] == "alice" and theirs["type"] == "access"

    flask = pytest.importorskip("flask", reason="flask is a test dependency")
    import flask_jwt_extended

    app = flask.Flask(__name__)
    app.config["JWT_SECRET_KEY"] = SECRET
    flask_jwt_extended.JWTManager(app)
    with app.app_context():
        token = flask_jwt_extended.create_access_token("carol", fresh=True)
        assert flask_jwt_extended.decode_token(ours.create_access_token("dave"))["sub"] == "dave"
    claims = ours.decode_token(token)
    assert claims["sub"] == "carol" and claims["fresh"] is True


@pytest.mark.parametrize("algorithm", ["RS256", "RS512", "PS256", "PS384"])
def test_rsa_algorithms_round_trip(algorithm: str, rsa_private_pem: bytes,
                                   rsa_public_pem: bytes) -> None:
    issuer = JWTManager(algorithm=algorithm, private_key=rsa_private_pem)
    verifier = JWTManager(algorithm=algorithm, public_key=rsa_public_pem)
    token = issuer.create_access_token("alice")
    assert verifier.decode_token(token)["sub"] == "alice"
    assert pyjwt.decode(token, rsa_public_pem, algorithms=[algorithm])["sub"] == "alice"


def test_es256_round_trip(ec_private_pem: bytes) -> None:
    issuer = JWTManager(algorithm="ES256", private_key=ec_private_pem)
    token = issuer.create_access_token("alice")
    assert issuer.decode_token(token)["sub"] == "alice"


def test_verify_only_manager_cannot_mint(rsa_public_pem: bytes) -> None:
    verifier = JWTManager(algorithm="RS256", public_key=rsa_public_pem)
    with pytest.raises(RuntimeError, match="no signing key"):
        verifier.create_access_token("alice")


@pytest.mark.parametrize(
    ("claims", "error", "message"),
    [
        pytest.param({**BASE, "exp": NOW}, ExpiredTokenError, "expired", id="exp-exactly-now"),
        pytest.param({**BASE, "exp": NOW - 1}, ExpiredTokenError, "expired", id="exp-past"),
        pytest.param({**BASE, "nbf": NOW + 1}, InvalidTokenError, "not yet valid", id="nbf-future"),
        pytest.param({**BASE, "iat": NOW + 1}, InvalidTokenError, "future", id="iat-future"),
        pytest.param({**BASE, "exp": str(NOW + 60)}, InvalidTokenError, "NumericDate",
                     id="exp-string"),
        pytest.param({**BASE, "exp": True}, InvalidTokenError, "NumericDate", id="exp-bool"),
        pytest.param({**BASE, "exp": None}, InvalidTokenError, "NumericDate", id="exp-null"),
        pytest.param({**BASE, "exp": 1e300}, InvalidTokenError, "NumericDate", id="exp-huge"),
        pytest.param({**BASE, "nbf": [NOW]}, InvalidTokenError, "NumericDate", id="nbf-list"),
        pytest.param({k: v for k, v in BASE.items() if k != "sub"}, InvalidTokenError,
                     "Missing claim: sub", id="no-sub"),
        pytest.param({**BASE, "sub": 7}, InvalidTokenError, "sub must be a string", id="int-sub"),
        pytest.param({**BASE, "aud": "someone"}, InvalidTokenError, "audience",
                     id="unexpected-aud"),
        pytest.param({**BASE, "jti": 5}, InvalidTokenError, "jti", id="int-jti"),
        pytest.param({**BASE, "fresh": "yes"}, InvalidTokenError, "fresh", id="string-fresh"),
        pytest.param({**BASE, "scp": 5}, InvalidTokenError, "scp", id="number-scp"),
        pytest.param({**BASE, "scp": ["a", 1]}, InvalidTokenError, "scp", id="mixed-scp"),
        pytest.param({**BASE, "scp": None}, InvalidTokenError, "scp", id="null-scp"),
        pytest.param({**BASE, "scp": {"read": True}}, InvalidTokenError, "scp", id="object-scp"),
        pytest.param({**BASE, "scp": [["read"]]}, InvalidTokenError, "scp", id="nested-scp"),
        pytest.param({**BASE, "scope": None}, InvalidTokenError, "scope", id="null-scope"),
        pytest.param({**BASE, "scope": ["read"]}, InvalidTokenError, "scope", id="list-scope"),
        pytest.param({**BASE, "exp": 10**400}, InvalidTokenError, "NumericDate",
                     id="exp-400-digit-int"),
        pytest.param({**BASE, "fresh": 10**400}, InvalidTokenError, "fresh",
                     id="fresh-400-digit-int"),
    ],
)
def test_claim_rules(jwt: JWTManager, claims: dict[str, object],
                     error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        jwt.decode_token(sign_hs256(HS, claims))


@pytest.mark.parametrize("scopes", [
    pytest.param({"scp": None}, id="scp-null"),
    pytest.param({"scp": {"read": True}}, id="scp-object"),
    pytest.param({"scp": 7}, id="scp-number"),
    pytest.param({"scope": None}, id="scope-null"),
    pytest.param({"scope": ["read"]}, id="scope-list"),
])
def test_malformed_scope_claims_are_invalid_tokens_on_scoped_routes(
        jwt: JWTManager, recorder: Recorder, scopes: dict[str, object]) -> None:
    # Refused when the claims are checked, so a scoped route never meets a null it cannot
    # read (it was a 500 for "scp": null).
    client = Client(JWTMiddleware(recorder, jwt, routes={
        "/scoped": {"require": "required", "scopes": ["read"]}}))
    response = client.get("/scoped", headers=bearer(sign_hs256(HS, {**BASE, **scopes})))
    assert response.status_code == 401, response.get_data(as_text=True)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert recorder.calls == 0


def test_float_time_claims_are_numbers(jwt: JWTManager) -> None:
    assert jwt.decode_token(sign_hs256(HS, {**BASE, "exp": NOW + 0.5}))["sub"] == "alice"


def test_leeway_boundaries() -> None:
    jwt = JWTManager(secret_key=SECRET, leeway=10, clock=Clock())
    assert jwt.decode_token(sign_hs256(HS, {**BASE, "exp": NOW - 9}))
    with pytest.raises(ExpiredTokenError):
        jwt.decode_token(sign_hs256(HS, {**BASE, "exp": NOW - 10}))
    assert jwt.decode_token(sign_hs256(HS, {**BASE, "nbf": NOW + 10}))
    with pytest.raises(InvalidTokenError):
        jwt.decode_token(sign_hs256(HS, {**BASE, "nbf": NOW + 11}))


def test_allow_expired(jwt: JWTManager) -> None:
    assert jwt.decode_token(sign_hs256(HS, {**BASE, "exp": NOW - 5}), allow_expired=True)


def test_require_exp() -> None:
    jwt = JWTManager(secret_key=SECRET, require_exp=True)
    claims = {k: v for k, v in BASE.items() if k != "exp"}
    with pytest.raises(InvalidTokenError, match="exp"):
        jwt.decode_token(sign_hs256(HS, claims))


@pytest.mark.parametrize(
    ("audience", "aud", "ok"),
    [
        pytest.param("api", "api", True, id="string-match"),
        pytest.param("api", ["other", "api"], True, id="list-contains"),
        pytest.param(["api", "web"], "web", True, id="any-of-configured"),
        pytest.param("api", "other", False, id="string-mismatch"),
        pytest.param("api", [], False, id="empty-list"),
        pytest.param("api", ["api", 3], False, id="list-with-number"),
        pytest.param("api", {"api": 1}, False, id="object"),
        pytest.param("api", None, False, id="missing"),
    ],
)
def test_audience_rules(audience: object, aud: object, ok: bool) -> None:
    jwt = JWTManager(secret_key=SECRET, audience=audience, clock=Clock())
    claims = dict(BASE) if aud is None else {**BASE, "aud": aud}
    token = sign_hs256(HS, claims)
    if ok:
        assert jwt.decode_token(token)["sub"] == "alice"
    else:
        with pytest.raises(InvalidTokenError):
            jwt.decode_token(token)


def test_minted_tokens_carry_the_configured_audience_and_issuer() -> None:
    jwt = JWTManager(secret_key=SECRET, audience="api", issuer="https://issuer")
    claims = jwt.decode_token(jwt.create_access_token("a"))
    assert claims["aud"] == "api" and claims["iss"] == "https://issuer"


def test_issuer_must_match() -> None:
    jwt = JWTManager(secret_key=SECRET, issuer="https://good", clock=Clock())
    with pytest.raises(InvalidTokenError, match="issuer"):
        jwt.decode_token(sign_hs256(HS, {**BASE, "iss": "https://evil"}))
    with pytest.raises(InvalidTokenError, match="issuer"):
        jwt.decode_token(sign_hs256(HS, BASE))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: sign_hs256({"alg": "none"}, BASE), id="alg-none"),
        pytest.param(lambda: sign_hs256({"alg": "HS512"}, BASE), id="alg-not-allowed"),
        pytest.param(lambda: sign_hs256({**HS, "crit": ["exp"]}, BASE), id="crit"),
        pytest.param(lambda: sign_hs256({**HS, "enc": "A128GCM"}, BASE), id="jwe-enc"),
        pytest.param(lambda: sign_hs256({**HS, "zip": "DEF"}, BASE), id="jwe-zip"),
        pytest.param(lambda: sign_hs256({**HS, "typ": "dpop+jwt"}, BASE), id="typ-other"),
        pytest.param(lambda: sign_hs256({**HS, "kid": 3}, BASE), id="kid-number"),
        pytest.param(lambda: sign_hs256('{"alg":"HS256","alg":"none"}', BASE), id="dup-header"),
        pytest.param(lambda: sign_hs256(HS, '{"sub":"a","sub":"b"}'), id="dup-claim"),
        pytest.param(lambda: sign_hs256(HS, '{"sub":"a","exp":NaN}'), id="nan"),
        pytest.param(lambda: sign_hs256(HS, '["sub"]'), id="payload-array"),
        pytest.param(lambda: sign_hs256(HS, b"\xff\xfe"), id="payload-not-utf8"),
        pytest.param(lambda: sign_hs256(HS, BASE) + "=", id="padded-signature"),
        pytest.param(lambda: sign_hs256(HS, BASE) + "\n", id="trailing-newline"),
        pytest.param(lambda: " " + sign_hs256(HS, BASE), id="leading-space"),
        pytest.param(lambda: sign_hs256(HS, BASE) + ".x", id="four-segments"),
        pytest.param(lambda: sign_hs256(HS, BASE).replace("-", "+").replace("_", "/"),
                     id="standard-base64-alphabet"),
        pytest.param(lambda: forge(HS, BASE), id="bad-signature"),
        pytest.param(lambda: sign_hs256(HS, BASE, secret="wrong" * 10), id="wrong-secret"),
        pytest.param(lambda: "a" * 9000, id="too-large"),
        pytest.param(lambda: "", id="empty"),
    ],
)
def test_malformed_tokens_are_invalid(jwt: JWTManager, make: Callable[[], str]) -> None:
    with pytest.raises(InvalidTokenError):
        jwt.decode_token(make())


def test_non_canonical_base64_signature_is_refused(jwt: JWTManager) -> None:
    token = sign_hs256(HS, BASE)
    head, _, sig = token.rpartition(".")
    # HS256 signatures are 32 bytes: 43 chars, the last carrying 2 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert jwt.decode_token(token)
    with pytest.raises(InvalidTokenError):
        jwt.decode_token(f"{head}.{twin}")


def _nested_claims(levels: int) -> str:
    """Claims text whose ``x`` holds ``levels`` nested arrays (so ``levels + 1`` in all)."""
    return f'{{"sub":"alice","exp":{NOW + 60},"x":{"[" * levels + "]" * levels}}}'


@pytest.mark.parametrize(("part", "levels", "ok"), [
    pytest.param("payload", 31, True, id="payload-32-levels"),
    pytest.param("payload", 32, False, id="payload-33-levels"),
    pytest.param("payload", 500, False, id="payload-500-levels"),
    pytest.param("header", 31, True, id="header-32-levels"),
    pytest.param("header", 32, False, id="header-33-levels"),
])
def test_nesting_deeper_than_32_levels_is_an_invalid_token(jwt: JWTManager, part: str,
                                                           levels: int, ok: bool) -> None:
    deep = "[" * levels + "]" * levels
    if part == "payload":
        token = sign_hs256(HS, _nested_claims(levels))
    else:
        token = sign_hs256(f'{{"alg":"HS256","x":{deep}}}', BASE)
    if ok:
        assert jwt.decode_token(token)["sub"] == "alice"
    else:
        with pytest.raises(InvalidTokenError, match=f"Invalid {part}"):
            jwt.decode_token(token)


def test_brackets_inside_strings_are_not_nesting(jwt: JWTManager) -> None:
    claims = {**BASE, "note": "[{" * 100, "tags": [["a"], {"b": ["c"]}] * 20}
    assert jwt.decode_token(sign_hs256(HS, claims))["note"] == "[{" * 100


@pytest.mark.parametrize("loader", [
    pytest.param(False, id="token-cache"),
    pytest.param(True, id="token-cache-and-blocklist-loader"),
])
def test_a_deeply_nested_token_is_refused_every_time(loader: bool, recorder: Recorder) -> None:
    # Each later use went through the token cache's recursive copy: a 500 from the second
    # request on, or a 503 at once when a blocklist loader's copy hit the recursion limit.
    jwt = JWTManager(secret_key=SECRET, clock=Clock())
    if loader:
        jwt.token_in_blocklist_loader(lambda jwt_header, jwt_payload: False)
    client = Client(JWTMiddleware(recorder, jwt, routes={"/p": "required"}))
    token = sign_hs256(HS, _nested_claims(500))
    for _ in range(3):
        response = client.get("/p", headers=bearer(token))
        assert response.status_code == 401, response.get_data(as_text=True)
        assert response.json == {"msg": "Invalid payload"}
    assert recorder.calls == 0
    assert client.get("/p", headers=bearer(sign_hs256(HS, BASE))).status_code == 200


def test_decode_token_takes_ascii_bytes(jwt: JWTManager) -> None:
    token = jwt.create_access_token("alice")
    assert jwt.decode_token(token.encode("ascii"))["sub"] == "alice"
    assert jwt.decode_token(bytearray(token, "ascii"))["sub"] == "alice"


@pytest.mark.parametrize("token", [
    pytest.param(None, id="none"),
    pytest.param(42, id="int"),
    pytest.param(["a.b.c"], id="list"),
    pytest.param("é.b.c".encode(), id="non-ascii-bytes"),
    pytest.param(b"\xff\xfe.x.y", id="undecodable-bytes"),
    pytest.param(b"", id="empty-bytes"),
])
def test_decode_token_refuses_other_types_with_its_own_error(jwt: JWTManager,
                                                             token: object) -> None:
    with pytest.raises(InvalidTokenError):
        jwt.decode_token(token)  # type: ignore[arg-type]


def test_revoke_takes_a_bytes_token(jwt: JWTManager) -> None:
    token = jwt.create_access_token("alice")
    jwt.revoke(token.encode("ascii"))
    assert jwt.blocklist.contains(jwt.decode_token(token)["jti"])


@pytest.mark.parametrize("identity", [
    pytest.param(42, id="int"),
    pytest.param({"id": 1, "roles": ["a"]}, id="object"),
    pytest.param("alice", id="string"),
])
def test_identity_claim_other_than_sub_may_hold_any_json(identity: object,
                                                         recorder: Recorder) -> None:
    # As flask-jwt-extended's JWT_VERIFY_SUB: the string rule is about sub only.
    jwt = JWTManager(secret_key=SECRET, identity_claim="identity")
    token = jwt.create_access_token(identity)
    claims = jwt.decode_token(token)
    assert claims["identity"] == identity and "sub" not in claims
    client = Client(JWTMiddleware(recorder, jwt, routes={"/me": "required"}))
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert recorder.environs[-1]["jwt_wsgi.identity"] == identity


@pytest.mark.parametrize(("claims", "message"), [
    pytest.param({**BASE, "identity": 42, "sub": 7}, "sub must be a string", id="int-sub"),
    pytest.param({**BASE, "identity": None}, "Missing claim: identity", id="null-identity"),
    pytest.param(BASE, "Missing claim: identity", id="no-identity"),
])
def test_identity_claim_other_than_sub_is_still_checked(claims: dict[str, object],
                                                        message: str) -> None:
    jwt = JWTManager(secret_key=SECRET, identity_claim="identity", clock=Clock())
    with pytest.raises(InvalidTokenError, match=message):
        jwt.decode_token(sign_hs256(HS, claims))


def test_verify_sub_off_allows_a_non_string_sub() -> None:
    jwt = JWTManager(secret_key=SECRET, verify_sub=False)
    assert jwt.decode_token(jwt.create_access_token(42))["sub"] == 42  # type: ignore[arg-type]


@pytest.mark.parametrize("build", [
    pytest.param(lambda clock: JWTManager(secret_key=SECRET, clock=clock), id="keyword"),
    pytest.param(lambda clock: JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET}, clock=clock),
                 id="from-mapping"),
])
def test_the_clock_is_a_parameter(build: Callable[[Clock], JWTManager]) -> None:
    clock = Clock(NOW)
    jwt = build(clock)
    token = jwt.create_access_token("alice", expires_delta=60)
    assert jwt.decode_token(token)["iat"] == NOW
    clock.now = NOW + 60
    with pytest.raises(ExpiredTokenError):
        jwt.decode_token(token)


def test_a_clock_that_is_not_callable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="clock must be a callable"):
        JWTManager(secret_key=SECRET, clock=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("cache_size", [pytest.param(0, id="no-cache"),
                                        pytest.param(8, id="cache")])
def test_verify_returns_a_token_every_time(cache_size: int) -> None:
    jwt = JWTManager(secret_key=SECRET, token_cache_size=cache_size, clock=Clock())
    token = jwt.create_access_token("alice", additional_claims={"roles": ["a"]})
    for _ in range(3):  # miss, admitted, hit
        verified = jwt.verify(token)
        assert isinstance(verified, Token)
        assert verified.claims["sub"] == "alice" and verified.header["alg"] == "HS256"
        assert verified.claims["roles"] == ["a"]
        header, claims = verified
        assert (header, claims) == (verified.header, verified.claims)
        claims["roles"].append("mutated")  # the caller's own copy
