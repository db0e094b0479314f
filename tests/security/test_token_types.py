"""Tokens an identity provider issued for another purpose are not access tokens.

Keycloak writes the purpose in the payload's ``typ`` (``Bearer`` for access tokens;
``ID``, ``Refresh``, ``Offline``, ``Logout`` and action tokens otherwise), RFC 9068 and
others in the header's ``typ``, and an OpenID Connect ID token is known by the hashes only
ID tokens carry. Every case here carries the right issuer, audience and signature: the
type is the only thing wrong, so nothing but the type check can refuse it.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware, SecurityWarning
from tests.harness import NOW, Recorder, manager, sign_hs256

IDP = "https://idp.example/realms/main"
IDP_SECRET = "idp-secret-" + "i" * 40
API = "https://api.example"
CLAIMS = {"sub": "alice", "iat": NOW, "exp": NOW + 300, "jti": "k-1", "iss": IDP,
          "aud": "account", "azp": "web"}


def idp_manager(**options: Any) -> JWTManager:
    """A manager that takes the IdP's tokens beside its own (``issuers=``)."""
    return manager(issuer=API, issuers={IDP: {"secret_key": IDP_SECRET, "audience": "account"}},
                   **options)


def outcome(jwt: JWTManager, header: dict[str, Any], claims: dict[str, Any]) -> tuple[str, int]:
    outcomes: list[str] = []
    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, jwt, routes={"/p": "required"},
                                  on_outcome=lambda o, environ: outcomes.append(o)))
    token = sign_hs256({"alg": "HS256", **header}, claims, IDP_SECRET)
    response = client.get("/p", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == (200 if recorder.calls else 401)
    return outcomes[0], recorder.calls


ACCEPTED = ("authenticated", 1)
REFUSED = ("token_type_invalid", 0)


@pytest.mark.parametrize(("header", "extra", "expected"), [
    pytest.param({"typ": "JWT"}, {"typ": "Bearer"}, ACCEPTED, id="keycloak-access-token"),
    pytest.param({}, {}, ACCEPTED, id="no-type-anywhere"),
    pytest.param({"typ": "at+jwt"}, {}, ACCEPTED, id="rfc9068-access-token"),
    pytest.param({"typ": "application/AT+JWT"}, {}, ACCEPTED, id="rfc9068-media-type-form"),
    pytest.param({}, {"nonce": "n-1"}, ACCEPTED, id="a-nonce-alone-is-no-id-token"),
    pytest.param({"typ": "JWT"}, {"typ": "ID"}, REFUSED, id="keycloak-id-token"),
    pytest.param({"typ": "JWT"}, {"typ": "Refresh"}, REFUSED, id="keycloak-refresh-token"),
    pytest.param({"typ": "JWT"}, {"typ": "Offline"}, REFUSED, id="keycloak-offline-token"),
    pytest.param({"typ": "JWT"}, {"typ": "Logout"}, REFUSED, id="keycloak-logout-token"),
    pytest.param({"typ": "JWT"}, {"typ": "reset-credentials"}, REFUSED,
                 id="keycloak-action-token"),
    pytest.param({"typ": "JWT"}, {"typ": "DPoP"}, REFUSED, id="dpop-bound-token-as-bearer"),
    pytest.param({}, {"typ": None}, REFUSED, id="payload-typ-null"),
    pytest.param({}, {"typ": ["Bearer"]}, REFUSED, id="payload-typ-not-a-string"),
    pytest.param({"typ": "refresh+jwt"}, {}, REFUSED, id="header-refresh-jwt"),
    pytest.param({"typ": "logout+jwt"}, {}, REFUSED, id="header-oidc-logout-token"),
    pytest.param({"typ": "secevent+jwt"}, {}, REFUSED, id="header-security-event"),
    pytest.param({"typ": "dpop+jwt"}, {}, REFUSED, id="header-dpop-proof"),
    pytest.param({"typ": "JWT"}, {"at_hash": "x"}, REFUSED, id="oidc-id-token-at-hash"),
    pytest.param({"typ": "JWT"}, {"c_hash": "x"}, REFUSED, id="oidc-id-token-c-hash"),
    pytest.param({"typ": "JWT"}, {"s_hash": "x"}, REFUSED, id="fapi-id-token-s-hash"),
])
def test_token_types(header: dict[str, Any], extra: dict[str, Any],
                     expected: tuple[str, int]) -> None:
    assert outcome(idp_manager(), header, {**CLAIMS, **extra}) == expected


@pytest.mark.parametrize(("accept", "extra", "expected"), [
    pytest.param(["ID"], {"typ": "ID"}, ACCEPTED, id="id-accepted-on-purpose"),
    pytest.param(["ID"], {"at_hash": "x"}, ACCEPTED, id="id-hashes-accepted-with-id"),
    pytest.param(["ID"], {"typ": "Refresh"}, REFUSED, id="only-what-was-named"),
    pytest.param(["refresh"], {"typ": "REFRESH"}, ACCEPTED, id="compared-without-case"),
    pytest.param(["DPoP"], {"typ": "DPoP"}, ACCEPTED, id="dpop-accepted-on-purpose"),
])
def test_accept_token_types(accept: list[str], extra: dict[str, Any],
                            expected: tuple[str, int]) -> None:
    with pytest.warns(SecurityWarning, match="accept_token_types"):
        jwt = idp_manager(accept_token_types=accept)
    assert outcome(jwt, {"typ": "JWT"}, {**CLAIMS, **extra}) == expected


def test_accept_token_types_from_a_mapping() -> None:
    with pytest.warns(SecurityWarning):
        jwt = JWTManager.from_mapping({"JWT_SECRET_KEY": "s" * 40,
                                       "JWT_ACCEPT_TOKEN_TYPES": "ID, application/Refresh"})
    assert jwt.settings.accept_token_types == ("id", "refresh")


def test_no_warning_without_accept_token_types() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager(accept_token_types=[])


def test_our_own_tokens_pass() -> None:
    jwt = manager()
    token = jwt.create_access_token("alice")
    client = Client(JWTMiddleware(Recorder(), jwt, routes={"/p": "required"}))
    assert client.get("/p", headers={"Authorization": f"Bearer {token}"}).status_code == 200
