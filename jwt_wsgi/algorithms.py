"""Algorithms: which JWS algorithms exist here, and a signer or verifier for each.

Signing and verification go through python-jose's key classes on the cryptography
backend (HS*, RS*, ES*). RSASSA-PSS (PS*) and EdDSA (RFC 8037: Ed25519 and Ed448),
which python-jose does not offer, go to the same cryptography library directly. HS*
verification computes the HMAC with hashlib from pads prepared once
(:class:`_HMACVerifier`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from jose.backends import ECKey, RSAKey
from jose.backends.native import HMACKey

from .errors import ConfigError
from .settings import warn_security

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
#: RFC 8037's EdDSA (the key's curve decides) and RFC 9864's fully specified names.
OKP_ALGORITHMS = frozenset({"EdDSA", "Ed25519", "Ed448"})
#: The key type each fully specified Edwards algorithm needs.
_ED_CURVE_OF = {"Ed25519": (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey),
                "Ed448": (ed448.Ed448PublicKey, ed448.Ed448PrivateKey)}
ALGORITHMS = HMAC_ALGORITHMS | RSA_ALGORITHMS | EC_ALGORITHMS | OKP_ALGORITHMS
EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
JWK_CURVES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MIN_RSA_BITS = 2048

EdPublicKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
EdPrivateKey = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | EdPublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | EdPrivateKey
ED_PUBLIC = (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
ED_PRIVATE = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)


def _small_order_encodings() -> frozenset[bytes]:
    """The encodings of the points of small order (and their non-canonical spellings)
    on edwards25519 and edwards448, with the sign bit cleared (as libsodium lists them)."""
    p25519, p448 = 2**255 - 19, 2**448 - 2**224 - 1
    order8 = (0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,
              0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7)
    found = {y.to_bytes(32, "little") for y in (0, 1, p25519 - 1, p25519, p25519 + 1, *order8)}
    found |= {y.to_bytes(57, "little") for y in (0, 1, p448 - 1, p448, p448 + 1)}
    return frozenset(found)


#: An Ed25519 key of small order (the identity, say) verifies a signature that any
#: one can make for any message: ``R`` the same point, ``S`` zero. OpenSSL takes such
#: keys; a key set that holds one must not.
_SMALL_ORDER = _small_order_encodings()


def weak_edwards_key(raw: bytes) -> bool:
    """Whether a raw Ed25519 or Ed448 public key is a point of small order."""
    return raw[:-1] + bytes([raw[-1] & 0x7F]) in _SMALL_ORDER if raw else True


class Signer(Protocol):
    def sign(self, msg: bytes) -> bytes: ...


class Verifier(Protocol):
    def verify(self, msg: bytes, sig: bytes) -> bool: ...


class _PSSKey:
    """RSASSA-PSS (RFC 7518 3.5): MGF1 with the same hash, salt as long as the hash."""

    def __init__(self, key: rsa.RSAPublicKey | rsa.RSAPrivateKey, algorithm: str) -> None:
        self._key = key
        self._hash = _HASHES[algorithm[2:]]()
        self._padding = padding.PSS(mgf=padding.MGF1(self._hash), salt_length=self._hash.digest_size)

    def sign(self, msg: bytes) -> bytes:
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return self._key.sign(msg, self._padding, self._hash)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        assert isinstance(self._key, rsa.RSAPublicKey)
        try:
            self._key.verify(sig, msg, self._padding, self._hash)
        except (InvalidSignature, ValueError):
            return False
        return True


class _EdDSAKey:
    """EdDSA (RFC 8037 3.1) with an Ed25519 or Ed448 key: no hash, no parameters."""

    __slots__ = ("_key",)

    def __init__(self, key: EdPublicKey | EdPrivateKey) -> None:
        self._key = key

    def sign(self, msg: bytes) -> bytes:
        assert isinstance(self._key, ED_PRIVATE)
        return self._key.sign(msg)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        assert isinstance(self._key, ED_PUBLIC)
        try:
            self._key.verify(sig, msg)
        except (InvalidSignature, ValueError):
            return False
        return True


class _HMACVerifier:
    """HS256/384/512 verification (RFC 2104 HMAC, RFC 7518 3.2) with the key's inner and
    outer hash states prepared once: a token costs two hash copies instead of a new HMAC.

    The key goes through python-jose's :class:`HMACKey` first, so that its refusals
    (a PEM or SSH public key used as a secret) still apply.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, algorithm: str) -> None:
        prepared: bytes = HMACKey(key, algorithm).prepared_key
        new = getattr(hashlib, "sha" + algorithm[2:])
        block = new().block_size
        if len(prepared) > block:
            prepared = new(prepared).digest()
        prepared = prepared.ljust(block, b"\0")
        self._inner = new(bytes(b ^ 0x36 for b in prepared))
        self._outer = new(bytes(b ^ 0x5C for b in prepared))

    def verify(self, msg: bytes, sig: bytes) -> bool:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return hmac.compare_digest(outer.digest(), sig)


class AnyOf:
    """Verify with any of a few keys (a rotation: the current key and the previous ones).

    Tried in order, each once: the work a forged token causes is bounded by the number of
    keys kept, which the settings cap.
    """

    __slots__ = ("_verifiers",)

    def __init__(self, verifiers: list[Any]) -> None:
        self._verifiers = tuple(verifiers)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        return any(v.verify(msg, sig) for v in self._verifiers)


class _SafeVerifier:
    """Wrap a library verifier so that any exception means "not verified", never a crash."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            return self._inner.verify(msg, sig) is True
        except Exception:  # noqa: BLE001 - a verifier that raises has not verified
            return False


def family(algorithm: str) -> str:
    """``"HMAC"``, ``"RSA"`` or ``"EC"`` for a supported JWS algorithm."""
    if algorithm in HMAC_ALGORITHMS:
        return "HMAC"
    if algorithm in RSA_ALGORITHMS:
        return "RSA"
    if algorithm in EC_ALGORITHMS:
        return "EC"
    if algorithm in OKP_ALGORITHMS:
        return "OKP"
    raise ConfigError(
        f"unsupported algorithm {algorithm!r}; choose one of {', '.join(sorted(ALGORITHMS))}"
    )


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """Refuse ``none``, unknown algorithms, and HMAC mixed with public-key algorithms."""
    algs = tuple(algorithms)
    for alg in algs:
        if alg.strip().lower() == "none":
            raise ConfigError("the 'none' algorithm is never allowed: tokens must be signed")
        family(alg)
    families = {family(alg) for alg in algs}
    if "HMAC" in families and len(families) > 1:
        raise ConfigError(
            "HMAC and public-key algorithms cannot be accepted together: a public key "
            "would then work as an HMAC secret (RFC 8725 2.1). Use two managers or issuers."
        )
    return algs


def check_key_fits(key: PublicKey | PrivateKey, algorithm: str, name: str) -> None:
    """Refuse a key whose type or curve does not fit the algorithm."""
    if algorithm in RSA_ALGORITHMS:
        if not isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
            raise ConfigError(f"{name} is {_kind(key)} key; {algorithm} needs an RSA key")
        if key.key_size < MIN_RSA_BITS:
            warn_security(f"{name} is a {key.key_size}-bit RSA key; use {MIN_RSA_BITS}+ bits")
    elif algorithm in OKP_ALGORITHMS:
        if not isinstance(key, _ED_CURVE_OF.get(algorithm, (*ED_PUBLIC, *ED_PRIVATE))):
            wanted = "an Ed25519 or Ed448" if algorithm == "EdDSA" else f"an {algorithm}"
            raise ConfigError(f"{name} is {_kind(key)} key; {algorithm} needs {wanted} key")
        public = key.public_key() if isinstance(key, ED_PRIVATE) else key
        if isinstance(public, ED_PUBLIC) and weak_edwards_key(_raw(public)):
            raise ConfigError(f"{name} is a point of small order: anyone could sign for it")
    elif algorithm in EC_ALGORITHMS:
        if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
            raise ConfigError(f"{name} is {_kind(key)} key; {algorithm} needs an EC key")
        if key.curve.name != EC_CURVES[algorithm]:
            raise ConfigError(f"{name} is on curve {key.curve.name}; {algorithm} needs "
                              f"{EC_CURVES[algorithm]}")
    else:
        raise ConfigError(f"{name} is {_kind(key)} key; {algorithm} is HMAC and needs "
                          "secret_key (a random string of 32+ bytes)")


def _raw(key: EdPublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kind(key: Any) -> str:
    """``an RSA``, ``an EC``, ``an Ed25519``: what a key is, for messages."""
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "an RSA"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return "an EC"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "an Ed25519"
    return "an Ed448"


def verifier(key: bytes | PublicKey, algorithm: str) -> Verifier:
    """A verifier for one algorithm, built once."""
    inner: Any
    if algorithm in HMAC_ALGORITHMS:
        assert isinstance(key, bytes)
        return _HMACVerifier(key, algorithm)  # raises nothing on bytes: no wrapper needed
    if algorithm.startswith("PS"):
        assert isinstance(key, rsa.RSAPublicKey)
        inner = _PSSKey(key, algorithm)
    elif algorithm in OKP_ALGORITHMS:
        assert isinstance(key, ED_PUBLIC)
        return _EdDSAKey(key)  # raises nothing: its verify catches what cryptography raises
    elif algorithm in RSA_ALGORITHMS:
        inner = RSAKey(key, algorithm)
    else:
        inner = ECKey(key, algorithm)
    return _SafeVerifier(inner)


def signer(key: bytes | PrivateKey, algorithm: str) -> Signer:
    """A signer for one algorithm, built once."""
    if algorithm in HMAC_ALGORITHMS:
        return HMACKey(key, algorithm)  # type: ignore[no-any-return]
    if algorithm.startswith("PS"):
        assert isinstance(key, rsa.RSAPrivateKey)
        return _PSSKey(key, algorithm)
    if algorithm in OKP_ALGORITHMS:
        assert isinstance(key, ED_PRIVATE)
        return _EdDSAKey(key)
    if algorithm in RSA_ALGORITHMS:
        return RSAKey(key, algorithm)  # type: ignore[no-any-return]
    return ECKey(key, algorithm)  # type: ignore[no-any-return]
