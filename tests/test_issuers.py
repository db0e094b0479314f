"""Several issuers at once: the token's ``iss`` picks the keys, audience and algorithms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.keys import public_jwk
from tests.harness import SECRET, Recorder, bearer, sign_hs256
from tests.test_jwks import JWKSServer

API = "https://api.example.com"
IDP = "https://idp.example.com/"
PARTNER = "https://partner.example.com"


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def partner_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {"keys": [public_jwk(key.public_key(), kid, "RS256")]}


def idp_token(key: rsa.RSAPrivateKey, kid: str, iss: Any, **claims: Any) -> str:
    """A token as an identity provider would sign it (RS256, kid, its iss and aud)."""
    minter = JWTManager(algorithm="RS256", private_key=_pem(key))
    extra = {"aud": API, **claims}
    if iss is not None:
        extra["iss"] = iss
    return minter.create_access_token("bob", additional_claims=extra,
                                      additional_headers={"kid": kid})


@pytest.fixture
def manager(idp_key: rsa.RSAPrivateKey, partner_key: rsa.RSAPrivateKey) -> JWTManager:
    return JWTManager(secret_key=SECRET, issuer=API, issuers={
        IDP: {"jwks": jwks(idp_key, "idp-1"), "audience": API, "algorithms": ["RS256"]},
        PARTNER: {"public_key": partner_key.public_key().public_bytes(
                      serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
                  "audience": [API, "other"]},
    })


@pytest.fixture
def client(manager: JWTManager) -> Client:
    return Client(JWTMiddleware(Recorder(), manager, routes={
        "/internal/*": {"require": "required", "issuers": [API]},
        "/partners/*": {"require": "required", "issuers": [PARTNER, IDP]},
    }, default="required"))


def test_each_issuer_verifies_its_own_tokens(client: Client, manager: JWTManager,
                                             idp_key: Any, partner_key: Any) -> None:
    own = manager.create_access_token("alice")
    for token in (own, idp_token(idp_key, "idp-1", IDP),
                  idp_token(partner_key, "any-kid", PARTNER)):
        response = client.get("/", headers=bearer(token))
        assert response.status_code == 200, response.json


@pytest.mark.parametrize("case", [
    pytest.param("hs-secret-claims-idp", id="own-secret-claiming-idp"),
    pytest.param("idp-key-claims-partner", id="idp-key-claiming-partner"),
    pytest.param("partner-key-claims-idp", id="partner-key-claiming-idp"),
    pytest.param("idp-key-claims-api", id="idp-key-claiming-own-issuer"),
])
def test_a_key_of_one_issuer_never_verifies_another(case: str, client: Client,
                                                    idp_key: Any, partner_key: Any) -> None:
    token = {
        "hs-secret-claims-idp": lambda: sign_hs256(
            {"alg": "HS256", "typ": "JWT"}, {"sub": "x", "iss": IDP, "aud": API}),
        "idp-key-claims-partner": lambda: idp_token(idp_key, "idp-1", PARTNER),
        "partner-key-claims-idp": lambda: idp_token(partner_key, "idp-1", IDP),
        "idp-key-claims-api": lambda: idp_token(idp_key, "idp-1", API),
    }[case]()
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json["msg"] in {"Signature verification failed",
                                    "The specified alg value is not allowed",
                                    "No key matches the token"}


@pytest.mark.parametrize(("iss", "msg"), [
    pytest.param("https://evil.example.com", "Unknown issuer", id="unknown"),
    pytest.param(None, "Unknown issuer", id="missing-with-own-issuer-set"),
    pytest.param(["https://idp.example.com/"], "Unknown issuer", id="list"),
    pytest.param("https://idp.example.com", "Unknown issuer", id="no-trailing-slash"),
])
def test_unknown_issuer_is_refused_before_the_signature(iss: Any, msg: str, client: Client,
                                                        idp_key: Any) -> None:
    token = idp_token(idp_key, "idp-1", iss)
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"msg": msg}


def test_audience_is_per_issuer(client: Client, idp_key: Any, partner_key: Any) -> None:
    assert client.get("/", headers=bearer(idp_token(idp_key, "idp-1", IDP, aud="other"))
                      ).status_code == 401
    assert client.get("/", headers=bearer(idp_token(partner_key, "k", PARTNER, aud="other"))
                      ).status_code == 200
    assert client.get("/", headers=bearer(idp_token(idp_key, "idp-1", IDP, aud=[]))
                      ).status_code == 401


def test_route_policy_restricts_issuers(client: Client, manager: JWTManager,
                                        idp_key: Any, partner_key: Any) -> None:
    own = manager.create_access_token("alice")
    idp = idp_token(idp_key, "idp-1", IDP)
    partner = idp_token(partner_key, "k", PARTNER)
    assert client.get("/internal/x", headers=bearer(own)).status_code == 200
    response = client.get("/internal/x", headers=bearer(idp))
    assert response.status_code == 401
    assert response.json == {"msg": "Issuer not accepted on this route"}
    assert client.get("/partners/x", headers=bearer(partner)).status_code == 200
    assert client.get("/partners/x", headers=bearer(idp)).status_code == 200
    assert client.get("/partners/x", headers=bearer(own)).status_code == 401


def test_from_mapping_takes_issuers_as_json(idp_key: Any) -> None:
    manager = JWTManager.from_mapping({
        "JWT_SECRET_KEY": SECRET, "JWT_ISSUER": API,
        "JWT_ISSUERS": json.dumps({IDP: {"jwks": jwks(idp_key, "idp-1"), "audience": API}}),
    })
    claims = manager.decode_token(idp_token(idp_key, "idp-1", IDP))
    assert claims["iss"] == IDP and claims["sub"] == "bob"


def test_only_other_issuers_verifies_but_cannot_mint(idp_key: Any) -> None:
    manager = JWTManager(algorithm="RS256", issuers={IDP: {"jwks": jwks(idp_key, "idp-1"),
                                                           "audience": API}})
    assert manager.decode_token(idp_token(idp_key, "idp-1", IDP))["sub"] == "bob"
    with pytest.raises(RuntimeError, match="no signing key"):
        manager.create_access_token("alice")


def test_own_keys_without_issuer_take_tokens_without_iss(idp_key: Any) -> None:
    manager = JWTManager(secret_key=SECRET, issuers={IDP: {"jwks": jwks(idp_key, "idp-1"),
                                                           "audience": API}})
    assert manager.decode_token(manager.create_access_token("alice"))["sub"] == "alice"
    forged = sign_hs256({"alg": "HS256"}, {"sub": "x", "iss": "https://elsewhere"})
    client = Client(JWTMiddleware(Recorder(), manager, default="required"))
    assert client.get("/", headers=bearer(forged)).json == {"msg": "Unknown issuer"}


def test_issuer_with_jwks_url(idp_key: Any) -> None:
    server = JWKSServer()
    try:
        server.jwks = jwks(idp_key, "idp-1")
        manager = JWTManager(secret_key=SECRET, issuer=API, issuers={
            IDP: {"jwks_url": server.url, "audience": API}})
        client = Client(JWTMiddleware(Recorder(), manager, default="required"))
        assert client.get("/", headers=bearer(idp_token(idp_key, "idp-1", IDP))
                          ).status_code == 200
        assert server.requests == 1
        # Tokens of the manager's own issuer never touch the identity provider.
        assert client.get("/", headers=bearer(manager.create_access_token("a"))
                          ).status_code == 200
        assert server.requests == 1
    finally:
        server.stop()


@pytest.mark.parametrize(("issuers", "match"), [
    pytest.param({IDP: {"audience": API}}, "needs secret_key, public_key, jwks or jwks_url",
                 id="no-keys"),
    pytest.param({IDP: {"jwks_url": "https://x/jwks", "color": 1}}, "unknown keys",
                 id="unknown-key"),
    pytest.param({IDP: {"jwks_url": "https://x/jwks", "algorithms": []}}, "non-empty list",
                 id="no-algorithms"),
    pytest.param({IDP: {"jwks_url": "https://x/jwks", "algorithms": ["none"]}}, "'none'",
                 id="alg-none"),
    pytest.param({IDP: {"jwks_url": "https://x/jwks", "algorithms": ["HS256", "RS256"]}},
                 "HMAC and public-key", id="mixed-families"),
    pytest.param({IDP: {"secret_key": SECRET, "algorithms": ["RS256"]}}, "needs a key",
                 id="secret-for-rs256"),
    pytest.param({IDP: {"jwks_url": "ftp://x/jwks"}}, "http", id="bad-url"),
    pytest.param({IDP: "https://x/jwks"}, "map each issuer", id="not-a-dict"),
    pytest.param("{not json", "JSON", id="bad-json"),
    pytest.param({API: {"jwks_url": "https://x/jwks"}}, "repeats the manager's own",
                 id="own-issuer-twice"),
])
def test_bad_issuers_are_config_errors(issuers: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        JWTManager(secret_key=SECRET, issuer=API, issuers=issuers)


def test_an_issuers_rotation_changes_the_managers_generation(idp_key: Any,
                                                              partner_key: Any) -> None:
    server = JWKSServer()
    try:
        server.jwks = jwks(idp_key, "idp-1")
        manager = JWTManager(secret_key=SECRET, issuer=API, issuers={
            IDP: {"jwks_url": server.url, "audience": API}})
        fetcher = manager.issuers[IDP].material.fetcher
        assert manager.decode_token(idp_token(idp_key, "idp-1", IDP))
        before = manager.keys.generation
        server.jwks = jwks(partner_key, "idp-2")
        assert fetcher.refresh()
        assert manager.keys.generation > before
        assert manager.decode_token(idp_token(partner_key, "idp-2", IDP))["sub"] == "bob"
    finally:
        server.stop()
