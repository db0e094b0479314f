"""Keys: HMAC secrets, PEM keys and JWK sets turned into verified key objects once.

Signing and verification go through python-jose's key classes on the cryptography
backend (HS*, RS*, ES*); RSASSA-PSS (PS*), which python-jose does not offer, goes to the
same cryptography library directly. HS* verification computes the HMAC with hashlib
from pads prepared once (:class:`_HMACVerifier`). Per request, nothing here runs but
:meth:`KeySet.find` (a dictionary lookup) and the found key's ``verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jose.backends import ECKey, RSAKey
from jose.backends.native import HMACKey
from jose.exceptions import JOSEError

from .errors import ConfigError
from .keyshapes import looks_like_key
from .settings import warn_security

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
ALGORITHMS = HMAC_ALGORITHMS | RSA_ALGORITHMS | EC_ALGORITHMS
EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
JWK_CURVES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MIN_HMAC_BYTES = 32
#: The refusal of an HMAC manager without a secret (``from_mapping`` names its key instead).
NO_HMAC_KEY_MESSAGE = "an HMAC algorithm needs secret_key (a random string of 32+ bytes)"
MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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


def hmac_secret(secret: str | bytes | None) -> bytes:
    """Validate an HMAC secret: present, not empty, not a public key in any form."""
    if secret is None:
        raise ConfigError(NO_HMAC_KEY_MESSAGE)
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not raw.strip():
        raise ConfigError("secret_key is empty; use a random string of at least 32 bytes")
    if looks_like_key(raw):
        raise ConfigError(
            "secret_key looks like a public or private key; asymmetric keys belong in "
            "public_key/private_key with an RS*, PS* or ES* algorithm"
        )
    if len(raw) < MIN_HMAC_BYTES:
        warn_security(f"secret_key is {len(raw)} bytes; use at least {MIN_HMAC_BYTES} random bytes")
    return raw


def load_public_pem(pem: str | bytes, name: str = "public_key") -> PublicKey:
    """Load a PEM public key or X.509 certificate; refuse anything else."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    key: Any
    try:
        if b"CERTIFICATE" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is not a PEM public key or certificate") from None
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise ConfigError(f"{name} must be an RSA or EC key, not {type(key).__name__}")
    return key


def load_private_pem(pem: str | bytes) -> PrivateKey:
    """Load an unencrypted PEM private key (RSA or EC)."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError("private_key is not an unencrypted PEM private key") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError(f"private_key must be an RSA or EC key, not {type(key).__name__}")
    return key


def check_key_fits(key: PublicKey | PrivateKey, algorithm: str, name: str) -> None:
    """Refuse a key whose type or curve does not fit the algorithm."""
    if algorithm in RSA_ALGORITHMS:
        if not isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
            raise ConfigError(f"{name} is an EC key; {algorithm} needs an RSA key")
        if key.key_size < MIN_RSA_BITS:
            warn_security(f"{name} is a {key.key_size}-bit RSA key; use {MIN_RSA_BITS}+ bits")
    elif algorithm in EC_ALGORITHMS:
        if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
            raise ConfigError(f"{name} is an RSA key; {algorithm} needs an EC key")
        if key.curve.name != EC_CURVES[algorithm]:
            raise ConfigError(f"{name} is on curve {key.curve.name}; {algorithm} needs "
                              f"{EC_CURVES[algorithm]}")
    else:
        raise ConfigError(f"{name} is a public-key key; {algorithm} needs secret_key")


def verifier(key: bytes | PublicKey, algorithm: str) -> Verifier:
    """A verifier for one algorithm, built once."""
    inner: Any
    if algorithm in HMAC_ALGORITHMS:
        assert isinstance(key, bytes)
        return _HMACVerifier(key, algorithm)  # raises nothing on bytes: no wrapper needed
    if algorithm.startswith("PS"):
        assert isinstance(key, rsa.RSAPublicKey)
        inner = _PSSKey(key, algorithm)
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
    if algorithm in RSA_ALGORITHMS:
        return RSAKey(key, algorithm)  # type: ignore[no-any-return]
    return ECKey(key, algorithm)  # type: ignore[no-any-return]


# -- JWK ------------------------------------------------------------------------------

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
    if kty == "oct":
        secret = base64.urlsafe_b64decode(str(jwk.get("k", "")) + "==")
        if len(secret) == 0:
            raise ValueError("empty oct key")
        return secret
    raise ValueError("unsupported key type")


def algorithms_for_jwk(jwk: Mapping[str, Any], allowed: Iterable[str]) -> tuple[str, ...]:
    """The allowed algorithms this JWK may verify: bound by its ``kty``, ``crv`` and ``alg``."""
    kty = jwk.get("kty")
    fits = {"RSA": RSA_ALGORITHMS, "EC": EC_ALGORITHMS, "oct": HMAC_ALGORITHMS}.get(str(kty))
    if not fits:
        return ()
    algs = [alg for alg in allowed if alg in fits]
    if kty == "EC":
        algs = [alg for alg in algs if JWK_CURVES.get(str(jwk.get("crv"))) == alg]
    if "alg" in jwk:
        algs = [alg for alg in algs if alg == jwk["alg"]]
    return tuple(algs)


def public_jwk(key: PublicKey, kid: str, algorithm: str) -> dict[str, str]:
    """The public JWK of an RSA or EC key, for a JWKS endpoint."""
    def b64(number: int, length: int | None = None) -> str:
        size = length or max(1, (number.bit_length() + 7) // 8)
        return base64.urlsafe_b64encode(number.to_bytes(size, "big")).rstrip(b"=").decode()

    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"kty": "RSA", "kid": kid, "alg": algorithm, "use": "sig",
                "n": b64(nums.n), "e": b64(nums.e)}
    ecnums = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    crv = {v: k for k, v in JWK_CURVES.items()}[algorithm]
    return {"kty": "EC", "kid": kid, "alg": algorithm, "use": "sig", "crv": crv,
            "x": b64(ecnums.x, size), "y": b64(ecnums.y, size)}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a stable ``kid`` for a public key."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "oct": ("k", "kty")}
    members = required[str(jwk["kty"])]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"),
                           sort_keys=True).encode("utf-8")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical)
    return base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode("ascii")


_Table = tuple[dict[tuple[str, str], Verifier], dict[str, list[Verifier]]]


def _jwks_table(jwks: Mapping[str, Any], allowed: Iterable[str]) -> tuple[_Table, int]:
    """Verifiers of every usable signing key of a JWKS, by ``(kid, alg)`` and kid-less by alg."""
    allowed = tuple(allowed)
    by_kid: dict[tuple[str, str], Verifier] = {}
    kidless: dict[str, list[Verifier]] = {}
    added = 0
    keys = jwks.get("keys", ())
    for jwk in keys if isinstance(keys, list) else ():
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        algs = algorithms_for_jwk(jwk, allowed)
        if not algs:
            continue
        try:
            key = public_key_from_jwk(jwk)
        except (ValueError, TypeError, JOSEError):
            continue
        for alg in algs:
            if kid is None:
                kidless.setdefault(alg, []).append(verifier(key, alg))
            else:
                by_kid[(kid, alg)] = verifier(key, alg)
        added += 1
    return (by_kid, kidless), added


class KeySet:
    """The verification keys of one issuer, looked up by a token's ``alg`` and ``kid``.

    Three groups, searched in this order:

    * keys from a JWKS (``jwks=`` and the fetched ``jwks_url`` set): a ``kid`` must name
      one exactly; a token without ``kid`` may use the only key that fits its ``alg``;
    * configured keys without a ``kid`` (``secret_key``, ``public_key`` PEM): they serve
      tokens with any ``kid`` or none.

    A token's ``alg`` only selects among keys bound to that algorithm when they were added
    (a JWK's ``kty``, ``crv`` and ``alg`` must agree with it), so a key never verifies under
    an algorithm it was not meant for. The fetched group is replaced in one assignment, so
    a lookup never sees half of a rotation.
    """

    def __init__(self) -> None:
        self._anonymous: dict[str, Verifier] = {}
        self._static: _Table = ({}, {})
        self._fetched: _Table = ({}, {})
        self._only: dict[str, Verifier] = {}
        #: Changes whenever the keys change: caches of verified tokens key on it.
        self.generation = 0
        #: A key set whose generation changes with this one's (a manager's, for its issuers).
        self.parent: KeySet | None = None

    def add(self, verifier_: Verifier, algorithm: str, kid: str | None = None) -> None:
        """Add one key for one algorithm; without ``kid`` it serves tokens with any kid."""
        if kid is None:
            self._anonymous[algorithm] = verifier_
        else:
            self._static[0][(kid, algorithm)] = verifier_
        self._changed()

    def add_jwks(self, jwks: Mapping[str, Any], allowed: Iterable[str]) -> int:
        """Add every usable signing key of a static JWKS; return how many were added."""
        (by_kid, kidless), added = _jwks_table(jwks, allowed)
        self._static[0].update(by_kid)
        for alg, verifiers in kidless.items():
            self._static[1].setdefault(alg, []).extend(verifiers)
        self._changed()
        return added

    def replace_fetched(self, jwks: Mapping[str, Any], allowed: Iterable[str]) -> int:
        """Swap in a newly fetched JWKS; return how many usable keys it holds.

        The set the provider publishes is authoritative: one without any usable key (empty,
        other algorithms, ``use: enc`` only) still replaces the fetched group, so a key the
        provider withdrew stops verifying. Keeping the last good set when a fetch *fails* is
        the fetcher's decision, not this one's.
        """
        self._fetched, added = _jwks_table(jwks, allowed)
        self._changed()
        return added

    def _changed(self) -> None:
        only: dict[str, list[Verifier]] = {}
        for by_kid, kidless in (self._static, self._fetched):
            for (_, alg), found in by_kid.items():
                only.setdefault(alg, []).append(found)
            for alg, verifiers in kidless.items():
                only.setdefault(alg, []).extend(verifiers)
        self._only = {alg: found[0] for alg, found in only.items() if len(found) == 1}
        self.bump()

    def bump(self) -> None:
        """Mark a change, here and in the parent set."""
        self.generation += 1
        if self.parent is not None:
            self.parent.bump()

    def find(self, algorithm: str, kid: Any) -> Verifier | None:
        """The key for a token's header, or ``None`` when none fits."""
        if isinstance(kid, str):
            found = self._static[0].get((kid, algorithm)) or self._fetched[0].get((kid, algorithm))
            if found is not None:
                return found
        elif kid is None and algorithm not in self._anonymous:
            return self._only.get(algorithm)
        return self._anonymous.get(algorithm)

    def knows_kid(self, kid: str) -> bool:
        return any(k == kid for table in (self._static, self._fetched) for k, _ in table[0])

    def __bool__(self) -> bool:
        return bool(self._anonymous or self._static[0] or self._static[1]
                    or self._fetched[0] or self._fetched[1])
