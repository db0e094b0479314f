"""Signing-key rotation (signing_keys, secret_key_fallbacks) and max_token_lifetime."""

from __future__ import annotations

import warnings
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.errors import JWTWSGIError
from tests.harness import Recorder, bearer


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


@pytest.mark.parametrize(("algorithm", "new_key"), [
    pytest.param("ES256", lambda: ec.generate_private_key(ec.SECP256R1()), id="ES256"),
    pytest.param("EdDSA", ed25519.Ed25519PrivateKey.generate, id="EdDSA"),
    pytest.param("RS256", lambda: rsa.generate_private_key(public_exponent=65537,
                                                           key_size=2048), id="RS256"),
])
def test_a_rotation_step_by_step(algorithm: str, new_key: Any) -> None:
    old, nxt = new_key(), new_key()
    # 1. Today: the old key signs.
    today = JWTManager(algorithm=algorithm, signing_keys=[_private(old)])
    old_token = today.create_access_token("alice")
    # 2. Publish the next key before it signs: old still signs, both verify and are published.
    publish = JWTManager(algorithm=algorithm, signing_keys=[_private(old), _public(nxt)])
    assert publish.jwks()["keys"][0]["kid"] == today.jwks()["keys"][0]["kid"]
    assert len(publish.jwks()["keys"]) == 2
    consumer = JWTManager(algorithm=algorithm, jwks=publish.jwks())  # another service
    # 3. Promote the next key; keep the old one until its tokens expire.
    promoted = JWTManager(algorithm=algorithm, signing_keys=[_private(nxt), _private(old)])
    new_token = promoted.create_access_token("bob")
    assert pyjwt.get_unverified_header(new_token)["kid"] == promoted.jwks()["keys"][0]["kid"]
    client = Client(JWTMiddleware(Recorder(), promoted, routes={"/x": "required"}))
    for token in (old_token, new_token, old_token):  # the second old one is a cache hit
        assert client.get("/x", headers=bearer(token)).status_code == 200
    assert _verdict(consumer, new_token) == _verdict(consumer, old_token) == "ok"
    # 4. Retire the old key: its tokens stop verifying, the new ones keep working.
    retired = JWTManager(algorithm=algorithm, signing_keys=[_private(nxt)])
    assert _verdict(retired, old_token) == "signature_invalid"
    assert _verdict(retired, new_token) == "ok"
    assert [k["kid"] for k in retired.jwks()["keys"]] == [promoted.jwks()["keys"][0]["kid"]]


def test_kid_less_tokens_are_tried_against_each_listed_key() -> None:
    old, nxt = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    token = pyjwt.encode({"sub": "carol", "type": "access", "fresh": False, "jti": "j",
                          "iat": 1, "exp": 4_102_444_800}, _private(old), algorithm="ES256")
    manager = JWTManager(algorithm="ES256", signing_keys=[_private(nxt), _public(old)])
    assert _verdict(manager, token) == "ok"
    assert _verdict(JWTManager(algorithm="ES256", signing_keys=[_private(nxt)]),
                    token) == "signature_invalid"


def test_hmac_fallbacks_verify_and_never_sign() -> None:
    old, new = "old-secret-" + "o" * 40, "new-secret-" + "n" * 40
    before = JWTManager(secret_key=old).create_access_token("alice")
    theirs = pyjwt.encode({"sub": "bob", "type": "access", "fresh": False, "jti": "j",
                           "iat": 1, "exp": 4_102_444_800}, old, algorithm="HS256")
    rotated = JWTManager(secret_key=new, secret_key_fallbacks=[old])
    assert _verdict(rotated, before) == _verdict(rotated, theirs) == "ok"
    minted = rotated.create_access_token("carol")
    assert pyjwt.decode(minted, new, algorithms=["HS256"])["sub"] == "carol"
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(minted, old, algorithms=["HS256"])
    done = JWTManager(secret_key=new)
    assert _verdict(done, before) == "signature_invalid"


PEM = _private(ec.generate_private_key(ec.SECP256R1()))


def _public_of(pem: str) -> str:
    return _public(serialization.load_pem_private_key(pem.encode(), None))


@pytest.mark.parametrize(("options", "message"), [
    pytest.param({"algorithm": "ES256", "signing_keys": PEM}, "list of PEM keys",
                 id="one-key-not-in-a-list"),
    pytest.param({"algorithm": "ES256", "signing_keys": []}, "signing_keys is empty",
                 id="empty-list"),
    pytest.param({"algorithm": "ES256", "signing_keys": [], "jwks_url": "https://idp/jwks"},
                 "signing_keys is empty", id="empty-list-beside-other-keys"),
    pytest.param({"secret_key": "s" * 40, "secret_key_fallbacks": []},
                 "secret_key_fallbacks is empty", id="empty-fallbacks"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM], "public_key": _public(
        ec.generate_private_key(ec.SECP256R1()))}, "replaces public_key",
        id="with-public-key"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM, _public_of(PEM)]}, "same key",
                 id="private-and-its-public-half"),
    pytest.param({"algorithm": "ES256", "signing_keys": ["-----BEGIN PRIVATE KEY-----\nxx\n"
                                                         "-----END PRIVATE KEY-----\n"]},
                 r"signing_keys\[0\] is not an unencrypted PEM", id="unreadable-names-entry"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM, "not a key"]},
                 r"signing_keys\[1\] is not a PEM public key", id="second-not-a-key"),
    pytest.param({"secret_key": "s" * 40, "secret_key_fallbacks": [PEM]},
                 r"secret_key_fallbacks\[0\] looks like a public or private key",
                 id="fallback-is-a-pem-key"),
    pytest.param({"secret_key": "s" * 40, "secret_key_fallbacks": ["o" * 40] * 9},
                 "at most 8", id="too-many-fallbacks"),
    pytest.param({"algorithm": "ES256", "signing_keys": [_public(ec.generate_private_key(
        ec.SECP256R1()))]}, "must be a private key", id="first-key-public"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM], "private_key": PEM},
                 "replaces private_key", id="with-private-key"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM, PEM]}, "twice", id="duplicate"),
    pytest.param({"algorithm": "ES256", "signing_keys": [PEM] * 1 + [
        _private(ec.generate_private_key(ec.SECP256R1())) for _ in range(8)]}, "at most 8",
        id="too-many"),
    pytest.param({"algorithm": "ES256", "signing_keys": [_private(rsa.generate_private_key(
        public_exponent=65537, key_size=2048))]}, "ES256 needs an EC key", id="wrong-type"),
    pytest.param({"secret_key_fallbacks": ["o" * 40]}, "set secret_key",
                 id="fallbacks-without-secret"),
    pytest.param({"secret_key": "s" * 40, "secret_key_fallbacks": ["s" * 40]},
                 "repeats secret_key", id="fallback-is-the-secret"),
    pytest.param({"secret_key": "s" * 40, "secret_key_fallbacks": "o" * 40},
                 "list of secrets", id="fallback-not-a-list"),
    pytest.param({"algorithm": "HS256", "secret_key": "s" * 40, "signing_keys": [PEM]},
                 "HMAC algorithms use secret_key", id="signing-keys-with-hmac"),
])
def test_unworkable_rotation_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        JWTManager(**options)


def test_from_mapping_takes_json_lists() -> None:
    manager = JWTManager.from_mapping({
        "JWT_SECRET_KEY": "n" * 40, "JWT_SECRET_KEY_FALLBACKS": '["' + "o" * 40 + '"]'})
    assert manager.settings.secret_key_fallbacks == ("o" * 40,)
