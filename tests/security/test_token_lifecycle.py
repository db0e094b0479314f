"""Token lifecycle attacks: what rotation mints from, what a Redis that lost data forgets,
Edwards keys anyone can sign for, and ``jti`` values that name something else."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from jwt_wsgi import JWTManager
from jwt_wsgi.blocklist import MemoryBlocklist, RedisBlocklist
from jwt_wsgi.errors import ConfigError, JWTWSGIError, RefreshTokenReusedError
from jwt_wsgi.jwk import public_jwk
from tests.harness import SECRET
from tests.harness.redis import RedisServer, wait_until

IDP_SECRET = "another-issuer-secret-" + "y" * 24
IDP = "https://idp.example/"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(key: Any) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _sign_es256(key: Any, claims: dict[str, Any], kid: str | None = None) -> str:
    import jwt as pyjwt

    return pyjwt.encode(claims, key, algorithm="ES256", headers={"kid": kid} if kid else None)


def _refresh_claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "admin", "type": "refresh", "jti": "foreign-1", "iat": now,
            "exp": now + 60, "fresh": False}


# -- rotation mints only from tokens this manager signed --------------------------------

OURS = ec.generate_private_key(ec.SECP256R1())
OLD = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def _with_jwks() -> tuple[JWTManager, str]:
    manager = JWTManager(algorithm="ES256", private_key=_pem(OURS),
                         jwks={"keys": [public_jwk(OTHER.public_key(), "idp", "ES256")]})
    return manager, _sign_es256(OTHER, _refresh_claims(), "idp")


def _with_public_key() -> tuple[JWTManager, str]:
    manager = JWTManager(algorithm="ES256", private_key=_pem(OURS),
                         public_key=_public_pem(OTHER.public_key()))
    return manager, _sign_es256(OTHER, _refresh_claims())


def _own_private_key() -> tuple[JWTManager, str]:
    manager = JWTManager(algorithm="ES256", private_key=_pem(OURS))
    return manager, manager.create_refresh_token("admin")


def _previous_signing_key() -> tuple[JWTManager, str]:
    before = JWTManager(algorithm="ES256", signing_keys=[_pem(OLD)])
    after = JWTManager(algorithm="ES256", signing_keys=[_pem(OURS), _pem(OLD)])
    return after, before.create_refresh_token("admin")


def _secret_fallback() -> tuple[JWTManager, str]:
    before = JWTManager(secret_key=IDP_SECRET)
    after = JWTManager(secret_key=SECRET, secret_key_fallbacks=[IDP_SECRET])
    return after, before.create_refresh_token("admin")


@pytest.mark.parametrize("build, rotated", [
    pytest.param(_with_jwks, False, id="a-jwks-key-of-another-issuer"),
    pytest.param(_with_public_key, False, id="a-public_key-that-is-not-the-signing-key"),
    pytest.param(_own_private_key, True, id="own-private-key"),
    pytest.param(_previous_signing_key, True, id="an-earlier-signing_keys-key"),
    pytest.param(_secret_fallback, True, id="an-earlier-secret-in-fallbacks"),
])
def test_rotation_mints_only_from_tokens_this_manager_signed(
        build: Callable[[], tuple[JWTManager, str]], rotated: bool) -> None:
    manager, token = build()
    if rotated:
        _, refresh = manager.rotate_refresh(token)
        assert manager.decode_token(refresh)["sub"] == "admin"
    else:
        manager.decode_token(token)  # the key does verify it as a token...
        with pytest.raises(JWTWSGIError):
            manager.rotate_refresh(token)  # ...but never one to re-sign as ours


# -- a used refresh token stays used when Redis loses its data --------------------------


def _flushall(server: RedisServer) -> None:
    server.client().flushall()


def _restart_empty(server: RedisServer) -> None:
    server.stop()
    server.start()


@pytest.mark.parametrize("lose", [
    pytest.param(_flushall, id="flushall"),
    pytest.param(_restart_empty, id="restart-without-persistence"),
])
def test_used_refresh_token_stays_used_after_redis_data_loss(
        lose: Callable[[RedisServer], None]) -> None:
    server = RedisServer()
    try:
        blocklist = RedisBlocklist(server.url, timeout=0.5)
        manager = JWTManager(secret_key=SECRET, blocklist=blocklist)
        _, first = manager.create_token_pair("alice")
        _, second = manager.rotate_refresh(first)
        lose(server)
        wait_until(lambda: server.client().exists(
            "jwt_wsgi:revoked:consumed:" + manager.decode_token(first)["jti"]), 10,
            "the worker writes back what Redis lost")
        with pytest.raises(RefreshTokenReusedError):
            manager.rotate_refresh(first)  # the thief's copy
        with pytest.raises(JWTWSGIError):
            manager.rotate_refresh(second)  # its family ended with the reuse
        blocklist.close()
    finally:
        server.close()


# -- Edwards public keys of small order ----------------------------------------------

_P25519, _P448 = 2**255 - 19, 2**448 - 2**224 - 1
_ORDER8 = (0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,
           0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7)
SMALL_ORDER = [
    *(pytest.param("Ed25519", y.to_bytes(32, "little"), id=f"ed25519-{name}")
      for name, y in [("identity", 1), ("order-2", _P25519 - 1), ("order-4", 0),
                      ("order-8-a", _ORDER8[0]), ("order-8-b", _ORDER8[1]),
                      ("p", _P25519), ("p-plus-1", _P25519 + 1)]),
    pytest.param("Ed25519", (1 | 1 << 255).to_bytes(32, "little"), id="ed25519-identity-sign"),
    *(pytest.param("Ed448", y.to_bytes(57, "little"), id=f"ed448-{name}")
      for name, y in [("identity", 1), ("order-2", _P448 - 1), ("order-4", 0)]),
]


@pytest.mark.parametrize("crv, x", SMALL_ORDER)
def test_small_order_edwards_keys_never_verify(crv: str, x: bytes) -> None:
    jwks = {"keys": [{"kty": "OKP", "crv": crv, "x": _b64(x), "kid": "k"}]}
    with pytest.raises(ConfigError):  # the only key is unusable
        JWTManager(algorithm="EdDSA", jwks=jwks)
    manager = JWTManager(algorithm="EdDSA", jwks={"keys": [*jwks["keys"], public_jwk(
        ed25519.Ed25519PrivateKey.generate().public_key(), "good", "EdDSA")]})
    header = _b64(json.dumps({"alg": "EdDSA", "kid": "k"}).encode())
    payload = _b64(json.dumps({"sub": "admin"}).encode())
    forged = f"{header}.{payload}.{_b64(x + bytes(len(x)))}"  # R = the key, S = 0
    with pytest.raises(JWTWSGIError):
        manager.decode_token(forged)


def test_small_order_edwards_pem_refused() -> None:
    weak = ed25519.Ed25519PublicKey.from_public_bytes(bytes([1] + [0] * 31))
    with pytest.raises(ConfigError):
        JWTManager(algorithm="EdDSA", public_key=_public_pem(weak))
    assert ed448  # Ed448's small-order keys are refused by OpenSSL itself


# -- a jti that names a family, a used token or a watermark ---------------------------


def _manager() -> JWTManager:
    return JWTManager(secret_key=SECRET, blocklist=MemoryBlocklist(),
                      issuers={IDP: {"secret_key": IDP_SECRET}})


def _idp_token(**claims: Any) -> str:
    import jwt as pyjwt

    now = int(time.time())
    return pyjwt.encode({"sub": "mallory", "iss": IDP, "iat": now, "exp": now + 60, **claims},
                        IDP_SECRET, algorithm="HS256")


@pytest.mark.parametrize("claims", [
    pytest.param(lambda family, refresh: {"jti": "family:" + family}, id="jti-family-prefix"),
    pytest.param(lambda family, refresh: {"jti": "consumed:" + refresh},
                 id="jti-consumed-prefix"),
    pytest.param(lambda family, refresh: {"jti": "x", "type": "refresh", "family": family},
                 id="foreign-refresh-token-naming-our-family"),
])
def test_another_issuers_token_cannot_end_our_family(
        claims: Callable[[str, str], dict[str, Any]]) -> None:
    jwt = _manager()
    access, refresh = jwt.create_token_pair("alice")
    ours = jwt.decode_token(refresh)
    hostile = _idp_token(**claims(ours["family"], ours["jti"]))
    with contextlib.suppress(JWTWSGIError, ValueError):
        jwt.revoke(hostile)  # the app's logout endpoint revokes whatever it is given
    with contextlib.suppress(ValueError):  # or the claims it decoded to
        jwt.revoke({**claims(ours["family"], ours["jti"]), "iss": IDP, "sub": "mallory"})
    jwt.verify(access)  # alice's access token still passes
    jwt.rotate_refresh(refresh)  # and her refresh token rotates


@pytest.mark.parametrize("prefix", [
    pytest.param("app:revoked", id="no-colon"),
    pytest.param("app-revoked-", id="dash"),
    pytest.param("jwt_wsgi:revoked-", id="default-without-its-colon"),
])
def test_a_prefix_whose_watermarks_overlap_it_is_refused(prefix: str) -> None:
    # Its watermark prefix (prefix + "-before:") starts with it: Redis refuses to track
    # both (every request got 503), and a jti "-before:x" would be a watermark's key.
    with pytest.raises(ConfigError, match="end with ':'"):
        RedisBlocklist("redis://127.0.0.1:1/0", prefix=prefix)
