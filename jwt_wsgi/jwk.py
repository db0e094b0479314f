"""JWK (RFC 7517, 7518, 8037): public keys to and from their JSON form, and thumbprints."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .algorithms import (
    EC_ALGORITHMS,
    HMAC_ALGORITHMS,
    JWK_CURVES,
    MIN_RSA_BITS,
    OKP_ALGORITHMS,
    RSA_ALGORITHMS,
    PublicKey,
    weak_edwards_key,
)

#: RFC 8037 2: the Edwards curves a ``kty: OKP`` signing key may name.
OKP_CURVES: dict[str, Any] = {"Ed25519": ed25519.Ed25519PublicKey, "Ed448": ed448.Ed448PublicKey}


def _b64int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("bad JWK number")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey | bytes:
    """Build a public key (or an ``oct`` secret) from one JWK; raise ValueError if unusable."""
    kty = jwk.get("kty")
    if kty == "RSA":
        key = rsa.RSAPublicNumbers(_b64int(jwk.get("e")), _b64int(jwk.get("n"))).public_key()
        if key.key_size < MIN_RSA_BITS:  # a fetched key gets no start-up warning: refuse it
            raise ValueError(f"RSA key under {MIN_RSA_BITS} bits")
        return key
    if kty == "EC":
        curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
        curve = curves.get(jwk.get("crv"))  # type: ignore[arg-type]
        if curve is None:
            raise ValueError("unsupported EC curve")
        numbers = ec.EllipticCurvePublicNumbers(_b64int(jwk.get("x")), _b64int(jwk.get("y")), curve)
        return numbers.public_key()
    if kty == "OKP":
        loader = OKP_CURVES.get(jwk.get("crv"))  # type: ignore[arg-type]
        x = jwk.get("x")
        if loader is None or not isinstance(x, str):
            raise ValueError("unsupported OKP curve")
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        if weak_edwards_key(raw):
            raise ValueError("OKP key of small order")
        okp: PublicKey = loader.from_public_bytes(raw)
        return okp
    if kty == "oct":
        secret = base64.urlsafe_b64decode(str(jwk.get("k", "")) + "==")
        if len(secret) == 0:
            raise ValueError("empty oct key")
        return secret
    raise ValueError("unsupported key type")


def algorithms_for_jwk(jwk: Mapping[str, Any], allowed: Iterable[str]) -> tuple[str, ...]:
    """The allowed algorithms this JWK may verify: bound by its ``kty``, ``crv`` and ``alg``."""
    kty = jwk.get("kty")
    fits = {"RSA": RSA_ALGORITHMS, "EC": EC_ALGORITHMS, "OKP": OKP_ALGORITHMS,
            "oct": HMAC_ALGORITHMS}.get(str(kty))
    if not fits:
        return ()
    algs = [alg for alg in allowed if alg in fits]
    if kty == "EC":
        algs = [alg for alg in algs if JWK_CURVES.get(str(jwk.get("crv"))) == alg]
    if kty == "OKP":
        crv = jwk.get("crv")
        if crv not in OKP_CURVES:
            return ()
        algs = [alg for alg in algs if alg in ("EdDSA", crv)]
    if "alg" in jwk:
        algs = [alg for alg in algs if alg == jwk["alg"]]
    return tuple(algs)


def public_jwk(key: PublicKey, kid: str, algorithm: str) -> dict[str, str]:
    """The public JWK of an RSA, EC, Ed25519 or Ed448 key, for a JWKS endpoint."""
    def b64(number: int, length: int | None = None) -> str:
        size = length or max(1, (number.bit_length() + 7) // 8)
        return base64.urlsafe_b64encode(number.to_bytes(size, "big")).rstrip(b"=").decode()

    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"kty": "RSA", "kid": kid, "alg": algorithm, "use": "sig",
                "n": b64(nums.n), "e": b64(nums.e)}
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        from cryptography.hazmat.primitives import serialization

        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
        return {"kty": "OKP", "kid": kid, "alg": algorithm, "use": "sig", "crv": crv,
                "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    assert isinstance(key, ec.EllipticCurvePublicKey)
    ecnums = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    crv = {v: k for k, v in JWK_CURVES.items()}[algorithm]
    return {"kty": "EC", "kid": kid, "alg": algorithm, "use": "sig", "crv": crv,
            "x": b64(ecnums.x, size), "y": b64(ecnums.y, size)}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a stable ``kid`` for a public key."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}
    members = required[str(jwk["kty"])]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"),
                           sort_keys=True).encode("utf-8")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical)
    return base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode("ascii")


def private_jwk(key: Any, kid: str, algorithm: str) -> dict[str, str]:
    """The private JWK of an RSA, EC, Ed25519 or Ed448 key (RFC 7518 6.2.2, 6.3.2; RFC
    8037 2), for a secret store that takes keys as JWK. Never publish it."""
    from cryptography.hazmat.primitives import serialization

    def b64(number: int, length: int | None = None) -> str:
        size = length or max(1, (number.bit_length() + 7) // 8)
        return base64.urlsafe_b64encode(number.to_bytes(size, "big")).rstrip(b"=").decode()

    public = public_jwk(key.public_key(), kid, algorithm)
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return {**public, "d": b64(n.d), "p": b64(n.p), "q": b64(n.q), "dp": b64(n.dmp1),
                "dq": b64(n.dmq1), "qi": b64(n.iqmp)}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return {**public, "d": b64(key.private_numbers().private_value, size)}
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return {**public, "d": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
