"""EdDSA (RFC 8037; RFC 9864's Ed25519 and Ed448 names): signing, verifying, JWKs, interop."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.jwk import public_jwk, thumbprint
from tests.harness import Recorder, bearer, forge, need

CURVES = {"Ed25519": ed25519.Ed25519PrivateKey, "Ed448": ed448.Ed448PrivateKey}


def _pems(curve: str) -> tuple[str, str]:
    key = CURVES[curve].generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [
        pytest.param("Ed25519", "EdDSA", id="ed25519-as-EdDSA"),
        pytest.param("Ed448", "EdDSA", id="ed448-as-EdDSA"),
        pytest.param("Ed25519", "Ed25519", id="rfc9864-Ed25519"),
        pytest.param("Ed448", "Ed448", id="rfc9864-Ed448"),
    ],
)
def test_signs_and_verifies(curve: str, algorithm: str) -> None:
    private, public = _pems(curve)
    signer = JWTManager(algorithm=algorithm, private_key=private)
    token = signer.create_access_token("alice")
    verifier = JWTManager(algorithm=algorithm, public_key=public)
    assert verifier.decode_token(token)["sub"] == "alice"
    client = Client(JWTMiddleware(Recorder(), verifier, routes={"/x": "required"}))
    assert client.get("/x", headers=bearer(token)).status_code == 200
    # One flipped signature bit is refused.
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert client.get("/x", headers=bearer(f"{head}.{body}.{flipped}")).status_code == 401
    # The published JWK reads back as the same key, kid = RFC 7638 thumbprint.
    jwk = signer.jwks()["keys"][0]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", curve, algorithm)
    assert jwk["kid"] == thumbprint(jwk)
    from_jwks = JWTManager(algorithm=algorithm, jwks=signer.jwks())
    assert from_jwks.decode_token(token)["sub"] == "alice"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"algorithm": "EdDSA", "private_key": "rsa"}, "is an RSA key; EdDSA needs",
                     id="rsa-key-for-EdDSA"),
        pytest.param({"algorithm": "EdDSA", "private_key": "ec"}, "is an EC key; EdDSA needs",
                     id="ec-key-for-EdDSA"),
        pytest.param({"algorithm": "Ed25519", "private_key": "ed448"},
                     "is an Ed448 key; Ed25519 needs an Ed25519 key", id="ed448-key-for-Ed25519"),
        pytest.param({"algorithm": "ES256", "private_key": "ed25519"},
                     "is an Ed25519 key; ES256 needs an EC key", id="ed25519-key-for-ES256"),
        pytest.param({"algorithm": "EdDSA", "private_key": "ed25519",
                      "decode_algorithms": ["EdDSA", "HS256"]}, "HMAC and public-key",
                     id="EdDSA-mixed-with-HMAC"),
        pytest.param({"algorithm": "HS256", "secret_key": "ed25519-public-pem"},
                     "looks like a public or private key", id="ed25519-public-key-as-secret"),
        pytest.param({"algorithm": "HS256", "secret_key": "okp-jwk"},
                     "looks like a public or private key", id="okp-jwk-as-secret"),
    ],
)
def test_family_rules(settings: dict[str, Any], message: str) -> None:
    keys = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    ed_public = keys["ed25519"].public_key()  # type: ignore[union-attr]
    values = {
        **{name: key.private_bytes(serialization.Encoding.PEM,  # type: ignore[union-attr]
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()).decode()
           for name, key in keys.items()},
        "ed25519-public-pem": ed_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "okp-jwk": json.dumps(public_jwk(ed_public, "k", "EdDSA")),
    }
    resolved = {name: values.get(value, value) if name.endswith("key") else value
                for name, value in settings.items()}
    with pytest.raises(ConfigError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        JWTManager(**resolved)


def test_algorithm_confusion_with_the_public_key_is_refused() -> None:
    """An HS256 token MACed with the Ed25519 public key (PEM or raw) never verifies."""
    import hashlib
    import hmac

    from tests.harness import b64

    _, public = _pems("Ed25519")
    manager = JWTManager(algorithm="EdDSA", public_key=public)
    raw = serialization.load_pem_public_key(public.encode()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    client = Client(JWTMiddleware(Recorder(), manager, routes={"/x": "required"}))
    for secret in (public.encode(), raw):
        signing_input = f"{b64(json.dumps({'alg': 'HS256'}))}.{b64(json.dumps({'sub': 'x'}))}"
        sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert client.get("/x", headers=bearer(f"{signing_input}.{b64(sig)}")).status_code == 401
    # And alg "EdDSA" over a token whose signature is empty or garbage.
    for sig in (b"", b"\0" * 64, b"x" * 200):
        token = forge({"alg": "EdDSA"}, {"sub": "x"}, sig) if sig else \
            forge({"alg": "EdDSA"}, {"sub": "x"}).rsplit(".", 1)[0] + ".AA"
        assert client.get("/x", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("jwk_change", "verifies"),
    [
        pytest.param({}, True, id="as-published"),
        pytest.param({"crv": "Ed448"}, False, id="wrong-curve"),
        pytest.param({"crv": "X25519"}, False, id="key-agreement-curve"),
        pytest.param({"alg": "Ed448"}, False, id="alg-of-the-other-curve"),
        pytest.param({"kty": "EC"}, False, id="kty-EC"),
        pytest.param({"use": "enc"}, False, id="use-enc"),
        pytest.param({"x": "AAAA"}, False, id="short-x"),
    ],
)
def test_okp_jwk_rules(jwk_change: dict[str, str], verifies: bool) -> None:
    private, _ = _pems("Ed25519")
    signer = JWTManager(algorithm="EdDSA", private_key=private)
    token = signer.create_access_token("alice")
    jwk = {**signer.jwks()["keys"][0], **jwk_change}
    if not verifies:
        with pytest.raises(ConfigError, match="no signing key usable"):
            JWTManager(algorithm="EdDSA", jwks={"keys": [jwk]})
        return
    assert JWTManager(algorithm="EdDSA", jwks={"keys": [jwk]}).decode_token(token)["sub"] == "alice"


CLAIMS = {"sub": "alice", "type": "access", "fresh": False, "jti": "j1", "iat": 1_700_000_000,
          "nbf": 1_700_000_000, "exp": 4_102_444_800}


def _pyjwt_sign(private: str, claims: dict[str, Any]) -> str:
    pyjwt = need("jwt")
    return str(pyjwt.encode(claims, private, algorithm="EdDSA"))


def _pyjwt_verify(public: str, jwks: dict[str, Any], token: str) -> dict[str, Any]:
    pyjwt = need("jwt")
    return dict(pyjwt.decode(token, public, algorithms=["EdDSA"]))


def _joserfc_sign(private: str, claims: dict[str, Any]) -> str:
    joserfc = need("joserfc")
    from joserfc import jwt
    from joserfc.jwk import OKPKey

    del joserfc
    with warnings.catch_warnings():  # joserfc warns that RFC 9864 deprecates "EdDSA"
        warnings.simplefilter("ignore")
        return jwt.encode({"alg": "EdDSA"}, claims, OKPKey.import_key(private),
                          algorithms=["EdDSA"])


def _joserfc_verify(public: str, jwks: dict[str, Any], token: str) -> dict[str, Any]:
    need("joserfc")
    from joserfc import jwt
    from joserfc.jwk import KeySet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).claims)


def _jwcrypto_sign(private: str, claims: dict[str, Any]) -> str:
    need("jwcrypto")
    from jwcrypto import jwk, jwt

    token = jwt.JWT(header={"alg": "EdDSA"}, claims=claims)
    token.make_signed_token(jwk.JWK.from_pem(private.encode()))
    return str(token.serialize())


def _jwcrypto_verify(public: str, jwks: dict[str, Any], token: str) -> dict[str, Any]:
    need("jwcrypto")
    from jwcrypto import jwk, jwt

    verified = jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(json.dumps(jwks)),
                       algs=["EdDSA"], check_claims=False)
    return dict(json.loads(verified.claims))


LIBRARIES = {"pyjwt": (_pyjwt_sign, _pyjwt_verify), "joserfc": (_joserfc_sign, _joserfc_verify),
             "jwcrypto": (_jwcrypto_sign, _jwcrypto_verify)}


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_tokens_pass_both_ways(library: str) -> None:
    sign, verify = LIBRARIES[library]
    private, public = _pems("Ed25519")
    ours = JWTManager(algorithm="EdDSA", private_key=private)
    # theirs -> ours
    theirs = sign(private, dict(CLAIMS))
    assert ours.decode_token(theirs)["sub"] == "alice"
    # ours -> theirs, with the key taken from our published JWKS
    token = ours.create_access_token("bob", additional_claims={"role": "admin"})
    claims = verify(public, ours.jwks(), token)
    assert (claims["sub"], claims["role"], claims["type"]) == ("bob", "admin", "access")
