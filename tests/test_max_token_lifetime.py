"""max_token_lifetime: access tokens valid for longer than the bound are refused, as Kong's
maximum_expiration does; minting one is refused too, and issuers= entries are bound."""

from __future__ import annotations

import datetime
import warnings
from typing import Any

import jwt as pyjwt
import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.errors import JWTWSGIError
from tests.harness import Recorder, bearer

SECRET = "s" * 40
PARTNER, PARTNER_SECRET = "https://partner.example/", "p" * 40
NOW = 2_000.0


def _verdict(manager: JWTManager, token: str) -> str:
    try:
        manager.verify(token)
    except JWTWSGIError as error:
        return error.code
    return "ok"


def _token(claims: dict[str, Any], secret: str = SECRET) -> str:
    return pyjwt.encode({"sub": "alice", "type": "access", "fresh": False, "jti": "j",
                         **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(("claims", "verdict"), [
    pytest.param({"iat": 1_000, "exp": 1_000 + 3600}, "ok", id="exactly-the-bound"),
    pytest.param({"iat": 1_000, "exp": 1_000 + 3601}, "token_lifetime_too_long",
                 id="a-second-over"),
    pytest.param({"iat": 1_000.5, "exp": 1_000 + 3600.75}, "token_lifetime_too_long",
                 id="fractions-over"),
    pytest.param({"iat": 1_000}, "token_lifetime_too_long", id="no-exp"),
    pytest.param({"exp": 4_000}, "token_lifetime_too_long", id="no-iat"),
    pytest.param({"iat": 1_000, "exp": 10**10, "type": "refresh"}, "ok",
                 id="refresh-tokens-are-not-bound"),
    pytest.param({"iat": 1_000, "exp": 10**10, "type": None}, "token_lifetime_too_long",
                 id="no-type-is-an-access-token"),
])
def test_verification(claims: dict[str, Any], verdict: str) -> None:
    manager = JWTManager(secret_key=SECRET, max_token_lifetime="1h",
                         access_token_expires="15m", clock=lambda: NOW)
    claims = {name: value for name, value in claims.items() if value is not None}
    token = _token(claims)
    if "type" not in claims:
        token = pyjwt.encode({"sub": "alice", "jti": "j", **claims}, SECRET, algorithm="HS256")
    assert _verdict(manager, token) == verdict


def test_without_the_bound_nothing_is_refused() -> None:
    manager = JWTManager(secret_key=SECRET, clock=lambda: NOW)
    assert _verdict(manager, _token({"iat": 1_000, "exp": 10**10})) == "ok"
    assert _verdict(manager, _token({})) == "ok"


def test_the_refusal_has_its_own_code_and_a_401() -> None:
    manager = JWTManager(secret_key=SECRET, max_token_lifetime="1h",
                         access_token_expires="15m", clock=lambda: NOW)
    client = Client(JWTMiddleware(Recorder(), manager, routes={"/x": "required"}))
    answer = client.get("/x", headers=bearer(_token({"iat": 1_000, "exp": 1_000 + 7200})))
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("call", "message"), [
    pytest.param(lambda m: m.create_access_token("a", expires_delta=7200),
                 "lifetime too long", id="seconds-over"),
    pytest.param(lambda m: m.create_access_token("a", expires_delta=datetime.timedelta(
        hours=2)), "lifetime too long", id="timedelta-over"),
    pytest.param(lambda m: m.create_access_token("a", expires_delta=False),
                 "lifetime unknown", id="no-expiry"),
    pytest.param(lambda m: m.create_access_token("a", additional_claims={"exp": 10**9}),
                 "lifetime too long", id="exp-in-additional-claims"),
])
def test_minting_over_the_bound_is_refused(call: Any, message: str) -> None:
    manager = JWTManager(secret_key=SECRET, max_token_lifetime="1h",
                         access_token_expires="15m", clock=lambda: NOW)
    with pytest.raises(ValueError, match=f"(?i){message}.*max_token_lifetime is 1 hour"):
        call(manager)


@pytest.mark.parametrize(("call", "lifetime"), [
    pytest.param(lambda m: m.create_access_token("a"), 900, id="default"),
    pytest.param(lambda m: m.create_access_token("a", expires_delta=3600), 3600,
                 id="exactly-the-bound"),
    pytest.param(lambda m: m.create_refresh_token("a"), 30 * 86400, id="refresh-not-bound"),
    pytest.param(lambda m: m.create_token_pair("a")[0], 900, id="pair-access"),
])
def test_minting_within_the_bound(call: Any, lifetime: int) -> None:
    manager = JWTManager(secret_key=SECRET, max_token_lifetime="1h",
                         access_token_expires="15m", clock=lambda: NOW)
    token = call(manager)
    claims = pyjwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == lifetime


@pytest.mark.parametrize(("options", "message"), [
    pytest.param({"secret_key": SECRET, "max_token_lifetime": "10m"},
                 "access_token_expires \\(15 minutes\\) is over max_token_lifetime",
                 id="default-lifetime-over-the-bound"),
    pytest.param({"secret_key": SECRET, "max_token_lifetime": "1h",
                  "access_token_expires": "never"}, "\\(never\\) is over",
                 id="never-expiring-with-a-bound"),
    pytest.param({"secret_key": SECRET, "max_token_lifetime": 0}, "max_token_lifetime",
                 id="zero"),
    pytest.param({"secret_key": SECRET, "max_token_lifetime": "soon"}, "max_token_lifetime",
                 id="not-a-duration"),
])
def test_unworkable_bounds_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JWTManager(**options)


def test_a_manager_that_only_verifies_may_keep_the_default_lifetime() -> None:
    """access_token_expires matters only where tokens are minted."""
    verifier = JWTManager(algorithm="HS256", max_token_lifetime="5m", clock=lambda: NOW,
                          issuers={PARTNER: {"secret_key": PARTNER_SECRET}})
    token = _token({"iss": PARTNER, "iat": 1_900, "exp": 1_900 + 300}, PARTNER_SECRET)
    assert _verdict(verifier, token) == "ok"


@pytest.mark.parametrize(("partner", "lifetime", "verdict"), [
    pytest.param({}, 3600, "ok", id="inherits-the-bound-within"),
    pytest.param({}, 3601, "token_lifetime_too_long", id="inherits-the-bound-over"),
    pytest.param({"max_token_lifetime": "2h"}, 7200, "ok", id="own-longer-bound"),
    pytest.param({"max_token_lifetime": 600}, 601, "token_lifetime_too_long",
                 id="own-shorter-bound"),
    pytest.param({"max_token_lifetime": None}, 10**6, "ok", id="own-bound-switched-off"),
])
def test_issuers_are_bound(partner: dict[str, Any], lifetime: int, verdict: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about any of these settings
        manager = JWTManager(secret_key=SECRET, max_token_lifetime="1h",
                             access_token_expires="15m", clock=lambda: NOW,
                             issuer="https://us.example/",
                             issuers={PARTNER: {"secret_key": PARTNER_SECRET, **partner}})
    token = _token({"iss": PARTNER, "iat": 1_000, "exp": 1_000 + lifetime}, PARTNER_SECRET)
    assert _verdict(manager, token) == verdict


def test_from_mapping_reads_a_duration() -> None:
    manager = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET,
                                       "JWT_MAX_TOKEN_LIFETIME": "2h"})
    assert manager.settings.max_token_lifetime == datetime.timedelta(hours=2)
