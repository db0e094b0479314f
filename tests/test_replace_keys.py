"""A running manager's keys replaced step by step (replace_keys), and a second service
that follows the rotation through the JWKS the first one publishes over HTTP."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.errors import JWTWSGIError
from tests.harness import Recorder, bearer
from tests.harness.servers import wsgi_server


def _private(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _verdict(manager: JWTManager, token: str) -> str:
    try:
        manager.verify(token)
    except JWTWSGIError as error:
        return error.code
    return "ok"


def _kids(manager: JWTManager) -> list[str]:
    return [jwk["kid"] for jwk in manager.jwks()["keys"]]


def _kid(token: str) -> str:
    return str(pyjwt.get_unverified_header(token)["kid"])


def _jwks_app(issuer: JWTManager) -> Callable[..., Iterable[bytes]]:
    """What the issuing service serves at /.well-known/jwks.json: its JWKS of the moment."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = json.dumps(issuer.jwks()).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


@pytest.mark.parametrize(("algorithm", "new_key"), [
    pytest.param("RS256", lambda: rsa.generate_private_key(public_exponent=65537,
                                                           key_size=2048), id="RS256"),
    pytest.param("ES256", lambda: ec.generate_private_key(ec.SECP256R1()), id="ES256"),
    pytest.param("EdDSA", ed25519.Ed25519PrivateKey.generate, id="EdDSA"),
])
def test_a_running_rotation_followed_over_http(algorithm: str, new_key: Any) -> None:
    old, nxt = new_key(), new_key()
    issuer = JWTManager(algorithm=algorithm, signing_keys=[_private(old)], token_cache_size=64)
    client = Client(JWTMiddleware(Recorder(), issuer, routes={"/x": "required"}))
    old_kid = _kids(issuer)[0]
    old_token = issuer.create_access_token("alice")
    for _ in range(3):  # from the second time on, the token is in the verified-token cache
        assert client.get("/x", headers=bearer(old_token)).status_code == 200
    assert issuer.token_cache is not None and issuer.token_cache.hits >= 1

    with wsgi_server(_jwks_app(issuer)) as port:
        consumer = JWTManager(algorithm=algorithm,
                              jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json")
        fetcher = consumer.jwks_fetcher
        assert fetcher is not None
        fetcher.refresh_ahead = False  # each step below fetches explicitly
        assert fetcher.refresh() and _verdict(consumer, old_token) == "ok"

        # 1. Publish the next key before it signs: old still signs, both are published.
        issuer.replace_keys(signing_keys=[_private(old), _public(nxt)])
        next_kid = _kids(issuer)[1]
        assert _kids(issuer) == [old_kid, next_kid]
        assert _kid(issuer.create_access_token("bob")) == old_kid
        assert fetcher.refresh() and consumer.keys.find(algorithm, next_kid) is not None

        # 2. Promote it: new tokens carry its kid; the old key's tokens still verify.
        issuer.replace_keys(signing_keys=[_private(nxt), _public(old)])
        assert _kids(issuer) == [next_kid, old_kid]
        new_token = issuer.create_access_token("carol")
        assert _kid(new_token) == next_kid
        for token in (old_token, new_token, new_token):
            assert client.get("/x", headers=bearer(token)).status_code == 200
        # The consumer knew the next key before it signed anything: no fetch needed.
        assert _verdict(consumer, new_token) == _verdict(consumer, old_token) == "ok"

        # 3. Retire the old key: its tokens stop verifying at once, the cached one too.
        hits = issuer.token_cache.hits
        issuer.replace_keys(signing_keys=[_private(nxt)])
        assert _kids(issuer) == [next_kid]
        assert client.get("/x", headers=bearer(old_token)).status_code == 401
        assert _verdict(issuer, old_token) == "signature_invalid"
        assert client.get("/x", headers=bearer(new_token)).status_code == 200
        assert issuer.token_cache.hits == hits  # nothing was answered from the old keys
        assert fetcher.refresh()
        assert _verdict(consumer, old_token) == "key_unknown"
        assert _verdict(consumer, new_token) == "ok"


SECRET_A, SECRET_B = "secret-a-" + "a" * 40, "secret-b-" + "b" * 40


def test_hmac_rotation_with_fallbacks_at_run_time() -> None:
    jwt = JWTManager(secret_key=SECRET_A, token_cache_size=64)
    token_a = jwt.create_access_token("alice")
    for _ in range(2):
        jwt.verify(token_a)  # the second verification keeps it in the cache
    assert jwt.token_cache is not None and len(jwt.token_cache) == 1

    jwt.replace_keys(secret_key=SECRET_B, secret_key_fallbacks=[SECRET_A])
    token_b = jwt.create_access_token("bob")
    assert pyjwt.decode(token_b, SECRET_B, algorithms=["HS256"])["sub"] == "bob"
    with pytest.raises(pyjwt.InvalidSignatureError):  # fallbacks never sign
        pyjwt.decode(token_b, SECRET_A, algorithms=["HS256"])
    minted_elsewhere = pyjwt.encode({"sub": "dave", "type": "access", "fresh": False,
                                     "jti": "j", "iat": 1, "exp": 4_102_444_800},
                                    SECRET_A, algorithm="HS256")
    assert {_verdict(jwt, t) for t in (token_a, token_b, minted_elsewhere)} == {"ok"}

    jwt.replace_keys(secret_key_fallbacks=None)  # the old secret's tokens have expired
    assert jwt.settings.secret_key_fallbacks == ()
    assert _verdict(jwt, token_a) == _verdict(jwt, minted_elsewhere) == "signature_invalid"
    assert _verdict(jwt, token_b) == "ok"


def test_a_refused_replacement_changes_nothing() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwt = JWTManager(algorithm="ES256", signing_keys=[_private(key)])
    kids, token = _kids(jwt), jwt.create_access_token("alice")
    with pytest.raises(ConfigError, match="must be a private key"):
        jwt.replace_keys(signing_keys=[_public(ec.generate_private_key(ec.SECP256R1()))])
    assert _kids(jwt) == kids and _kid(jwt.create_access_token("bob")) == kids[0]
    assert _verdict(jwt, token) == "ok"


def test_from_private_key_to_signing_keys() -> None:
    old, nxt = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwt = JWTManager(algorithm="ES256", private_key=_private(old))
    token = jwt.create_access_token("alice")
    jwt.replace_keys(private_key=None, signing_keys=[_private(nxt), _public(old)])
    assert _verdict(jwt, token) == "ok"
    assert len(_kids(jwt)) == 2 and _kid(jwt.create_access_token("bob")) == _kids(jwt)[0]


def test_renewal_follows_the_new_signing_key() -> None:
    """own_codec (what implicit refresh renews) is replaced with the signer."""
    old, nxt = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwt = JWTManager(algorithm="ES256", signing_keys=[_private(old)])
    jwt.replace_keys(signing_keys=[_private(nxt), _public(old)])
    assert jwt.own_codec is not None
    assert jwt.own_codec.verify(jwt.create_access_token("alice")).claims["sub"] == "alice"


PEM = _private(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(("options", "changes", "message"), [
    pytest.param({"secret_key": SECRET_A}, {"algorithm": "HS512"}, "not algorithm",
                 id="not-a-key-setting"),
    pytest.param({"secret_key": SECRET_A}, {}, "at least one", id="nothing-to-replace"),
    pytest.param({"algorithm": "ES256", "jwks_url": "https://idp.example/jwks.json"},
                 {"jwks": {"keys": []}}, "follow that JWKS on their own", id="fetched-keys"),
    pytest.param({"algorithm": "ES256", "private_key": PEM}, {"signing_keys": [PEM]},
                 "replaces private_key", id="checked-together-as-at-construction"),
    pytest.param({"secret_key": SECRET_A}, {"secret_key": None}, "needs secret_key",
                 id="no-secret-left"),
    pytest.param({"secret_key": SECRET_A}, {"secret_key_fallbacks": [SECRET_A]},
                 "repeats secret_key", id="fallback-repeats-the-secret"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM]}, {"signing_keys": []},
                 "is empty", id="empty-list"),
])
def test_refused_replacements(options: dict[str, Any], changes: dict[str, Any],
                              message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jwt = JWTManager(**options)
    before = jwt.settings
    with pytest.raises(ConfigError, match=message):
        jwt.replace_keys(**changes)
    assert jwt.settings is before
