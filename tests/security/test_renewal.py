"""Implicit refresh (``refresh_expiring_access_cookie``) must not launder tokens.

Each case logs in with an access cookie that is about to expire and asks a route whose
app calls the helper. A token that is not ours is never re-signed; a renewed token keeps
every claim that carries meaning, stays fresh no longer than it was, and never outlives
the session's bound; nothing the helper meets ends in a 500.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware, refresh_expiring_access_cookie
from jwt_wsgi.keys import public_jwk
from tests.harness import NOW, SECRET, Clock, sign_hs256

API = "https://api.example"
PARTNER = "https://partner.example"
PARTNER_SECRET = "partner-secret-" + "p" * 40
SOON = NOW + 14 * 60  # one minute before a 15-minute token expires


def frozen(jwt: JWTManager, at: float) -> JWTManager:
    """Move the manager's clock (a :class:`Clock` given as ``clock=``) to ``at``."""
    clock = jwt.clock
    assert isinstance(clock, Clock)
    clock.now = at
    return jwt


def renewing_app(jwt: JWTManager) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "application/json")]
        max_session = environ.get("test.max_session")
        options = {"max_session": max_session} if max_session is not None else {}
        refresh_expiring_access_cookie(environ, headers, manager=jwt, **options)
        start_response("200 OK", headers)
        return [b"{}"]

    return app


def ask(jwt: JWTManager, token: str, path: str = "/api",
        max_session: datetime.timedelta | None = None) -> tuple[int, str | None]:
    """Call with ``token`` as the access cookie; the status and the renewed token, if any."""
    client = Client(JWTMiddleware(renewing_app(jwt), jwt, routes={
        "/api": "required", "/fresh": "fresh", "/partner-only": {
            "require": "required", "issuers": [PARTNER]}}))
    client.set_cookie("access_token_cookie", token)
    response = client.get(path, environ_overrides={"test.max_session": max_session})
    assert token not in response.get_data(as_text=True)
    renewed = [c for c in response.headers.getlist("Set-Cookie")
               if c.startswith("access_token_cookie=")]
    assert len(renewed) <= 1
    return response.status_code, renewed[0].split(";")[0].split("=", 1)[1] if renewed else None


def cookie_manager(**options: Any) -> JWTManager:
    options.setdefault("secret_key", SECRET)
    return JWTManager(token_location=["cookies"], clock=Clock(), **options)


# -- tokens that are not ours are never renewed ----------------------------------------

def _partner_token() -> tuple[JWTManager, str]:
    jwt = cookie_manager(issuer=API, issuers={PARTNER: {"secret_key": PARTNER_SECRET}})
    token = sign_hs256({"alg": "HS256", "typ": "JWT"}, {
        "sub": "mallory", "iss": PARTNER, "type": "access", "jti": "p-1", "fresh": False,
        "iat": NOW, "exp": NOW + 15 * 60}, PARTNER_SECRET)
    return jwt, token


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _decode_only_key_token() -> tuple[JWTManager, str]:
    """The manager signs with its private key and also verifies an IdP's JWKS key: a token
    of the IdP's verifies here, but it is not ours to re-sign."""
    ours, theirs = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    for _ in range(2))
    jwt = cookie_manager(secret_key=None, algorithm="RS256", private_key=_pem(ours),
                         jwks={"keys": [public_jwk(theirs.public_key(), "idp-1", "RS256")]})
    idp = JWTManager(algorithm="RS256", private_key=_pem(theirs), clock=Clock())
    return jwt, idp.create_access_token("idp-user", additional_headers={"kid": "idp-1"})


def _refresh_linked_token() -> tuple[JWTManager, str]:
    jwt = cookie_manager()
    return jwt, jwt.create_access_token("alice", additional_claims={"refresh_jti": "r-1"})


def _identity_loader_token() -> tuple[JWTManager, str]:
    jwt = cookie_manager()

    @jwt.user_identity_loader
    def identity(user: dict[str, str]) -> str:  # documented as taking a user object
        return user["name"]

    return jwt, jwt.create_access_token({"name": "bob"})


def _custom_claims_token() -> tuple[JWTManager, str]:
    jwt = cookie_manager(issuer=API, audience="https://app.example")

    @jwt.user_claims_loader
    def claims(identity: str) -> dict[str, str]:
        return {"role": "reader"}  # what the loader says now must not replace what was signed

    return jwt, jwt.create_access_token("alice", additional_claims={
        "role": "admin", "family": "fam-1", "scope": "a b"})


def _own_token(**kwargs: Any) -> Callable[[], tuple[JWTManager, str]]:
    def build() -> tuple[JWTManager, str]:
        jwt = cookie_manager()
        return jwt, jwt.create_access_token("alice", **kwargs)

    return build


def _renewed_token() -> tuple[JWTManager, str]:
    """A token renewed once already: its auth_time says when the session began."""
    jwt = cookie_manager()
    first = jwt.create_access_token("alice")
    frozen(jwt, SOON)
    status, renewed = ask(jwt, first)
    assert status == 200 and renewed is not None
    return jwt, renewed


DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize(("build", "at", "max_session", "expected"), [
    pytest.param(_partner_token, SOON, None, None, id="another-issuers-token-is-not-re-signed"),
    pytest.param(_decode_only_key_token, SOON, None, None,
                 id="a-token-of-a-verify-only-key-is-not-re-signed"),
    pytest.param(_refresh_linked_token, SOON, None, {"refresh_jti": "r-1", "sub": "alice"},
                 id="refresh-jti-survives"),
    pytest.param(_identity_loader_token, SOON, None, {"sub": "bob"},
                 id="identity-loader-is-not-called-with-the-identity"),
    pytest.param(_custom_claims_token, SOON, None, {
        "role": "admin", "family": "fam-1", "scope": "a b", "iss": API,
        "aud": "https://app.example"}, id="custom-claims-iss-and-aud-survive"),
    pytest.param(_own_token(fresh=True), SOON, None, {"fresh": NOW + 15 * 60},
                 id="fresh-lasts-as-long-as-it-did"),
    pytest.param(_own_token(fresh=NOW + 60), SOON, None, {"fresh": NOW + 60},
                 id="a-fresh-timestamp-is-kept"),
    pytest.param(_own_token(), SOON, None, {"fresh": False, "auth_time": NOW,
                                            "exp": SOON + 15 * 60},
                 id="first-renewal-records-the-session-start"),
    pytest.param(_own_token(), SOON, datetime.timedelta(minutes=20),
                 {"exp": NOW + 20 * 60}, id="renewal-stops-at-the-session-bound"),
    pytest.param(_renewed_token, SOON + 14 * 60, None, {"auth_time": NOW},
                 id="the-session-start-is-carried-on"),
    pytest.param(_renewed_token, SOON + 14 * 60, datetime.timedelta(minutes=15), None,
                 id="a-session-at-its-bound-is-not-renewed"),
    pytest.param(_own_token(expires_delta=False), SOON, None, None,
                 id="a-token-that-never-expires-is-left-alone"),
    pytest.param(_own_token(additional_claims={"auth_time": "yesterday"}), SOON, None, None,
                 id="an-unreadable-session-start-is-not-renewed"),
])
def test_renewal(build: Callable[[], tuple[JWTManager, str]], at: int,
                 max_session: datetime.timedelta | None, expected: dict[str, Any] | None) -> None:
    jwt, token = build()
    before = jwt.decode_token(token)
    status, renewed = ask(frozen(jwt, at), token, max_session=max_session)
    assert status == 200
    if expected is None:
        assert renewed is None
        return
    assert renewed is not None
    claims = jwt.decode_token(renewed)
    assert claims["jti"] != before["jti"] and claims["iat"] == at
    for name, value in expected.items():
        assert claims[name] == value, name
    kept = {k: v for k, v in before.items() if k not in ("iat", "nbf", "exp", "jti", "fresh")}
    assert {k: claims[k] for k in kept} == kept


def test_revoking_the_refresh_token_ends_a_renewed_session() -> None:
    jwt, token = _refresh_linked_token()
    _, renewed = ask(frozen(jwt, SOON), token)
    assert renewed is not None
    jwt.revoke({"jti": "r-1", "exp": NOW + 30 * 86400})
    status, again = ask(jwt, renewed)
    assert status == 401 and again is None


def test_a_renewed_partner_token_could_not_pass_a_route_for_partners_only() -> None:
    jwt, token = _partner_token()
    status, renewed = ask(frozen(jwt, SOON), token, "/partner-only")
    assert status == 200 and renewed is None


def test_freshness_is_not_extended_by_renewal() -> None:
    jwt, token = _own_token(fresh=True)()
    _, renewed = ask(frozen(jwt, SOON), token, "/fresh")
    assert renewed is not None
    frozen(jwt, NOW + 15 * 60 + 1)  # the first token's exp has passed; the new one is valid
    assert ask(jwt, renewed, "/api")[0] == 200
    assert ask(jwt, renewed, "/fresh")[0] == 401


class FailingStore:
    """A revocation store that answers until it is told to fail."""

    def __init__(self) -> None:
        self.down = False

    def add(self, jti: str, expires_at: float | None) -> None:
        pass

    def contains(self, jti: str) -> bool:
        if self.down:
            raise ConnectionError("store down")
        return False


def test_a_store_failing_during_renewal_leaves_the_response_alone() -> None:
    store = FailingStore()
    jwt = JWTManager(secret_key=SECRET, token_location=["cookies"], blocklist=store,
                     clock=Clock())
    token = jwt.create_access_token("alice")
    frozen(jwt, SOON)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "application/json")]
        store.down = True  # the middleware asked already; the renewal asks again
        refresh_expiring_access_cookie(environ, headers, manager=jwt)
        start_response("200 OK", headers)
        return [json.dumps({"ok": True}).encode()]

    client = Client(JWTMiddleware(app, jwt, routes={"/api": "required"}))
    client.set_cookie("access_token_cookie", token)
    response = client.get("/api")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_a_wrong_response_type_is_refused_on_every_call() -> None:
    jwt = cookie_manager()
    with pytest.raises(TypeError, match="webob or werkzeug Response"):
        refresh_expiring_access_cookie({}, object(), manager=jwt)
