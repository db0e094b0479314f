"""Keys: HMAC secrets, PEM keys and JWK sets turned into verified key objects once.

What each algorithm does is in :mod:`jwt_wsgi.algorithms`, the JSON form of keys in
:mod:`jwt_wsgi.jwk`. Per request, nothing here runs but :meth:`KeySet.find` (a
dictionary lookup) and the found key's ``verify``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose.exceptions import JOSEError

from .algorithms import (
    ALGORITHMS,
    EC_ALGORITHMS,
    EC_CURVES,
    ED_PRIVATE,
    ED_PUBLIC,
    HMAC_ALGORITHMS,
    JWK_CURVES,
    MIN_RSA_BITS,
    OKP_ALGORITHMS,
    RSA_ALGORITHMS,
    PrivateKey,
    PublicKey,
    Signer,
    Verifier,
    check_algorithms,
    check_key_fits,
    family,
    signer,
    verifier,
)
from .errors import ConfigError
from .jwk import algorithms_for_jwk, public_jwk, public_key_from_jwk, thumbprint
from .keyshapes import looks_like_key
from .settings import warn_security

__all__ = [  # the names other modules and tests import from here
    "ALGORITHMS", "EC_ALGORITHMS", "EC_CURVES", "HMAC_ALGORITHMS", "JWK_CURVES",
    "MIN_HMAC_BYTES", "MIN_RSA_BITS", "NO_HMAC_KEY_MESSAGE", "OKP_ALGORITHMS",
    "RSA_ALGORITHMS", "KeySet", "PrivateKey", "PublicKey", "Signer", "Verifier",
    "algorithms_for_jwk", "check_algorithms", "check_key_fits", "family", "hmac_secret",
    "load_private_pem", "load_public_pem", "public_jwk", "public_key_from_jwk", "signer",
    "thumbprint", "verifier",
]

MIN_HMAC_BYTES = 32
#: The refusal of an HMAC manager without a secret (``from_mapping`` names its key instead).
NO_HMAC_KEY_MESSAGE = "an HMAC algorithm needs secret_key (a random string of 32+ bytes)"


def hmac_secret(secret: str | bytes | None, name: str = "secret_key") -> bytes:
    """Validate an HMAC secret: present, not empty, not a public key in any form."""
    if secret is None:
        raise ConfigError(NO_HMAC_KEY_MESSAGE)
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not raw.strip():
        raise ConfigError(f"{name} is empty; use a random string of at least 32 bytes")
    if looks_like_key(raw):
        raise ConfigError(
            f"{name} looks like a public or private key; asymmetric keys belong in "
            "public_key/private_key with an RS*, PS*, ES* or EdDSA algorithm"
        )
    if len(raw) < MIN_HMAC_BYTES:
        warn_security(f"{name} is {len(raw)} bytes; use at least {MIN_HMAC_BYTES} random bytes")
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
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, *ED_PUBLIC)):
        raise ConfigError(f"{name} must be an RSA, EC, Ed25519 or Ed448 key, "
                          f"not {type(key).__name__}")
    return key


def load_private_pem(pem: str | bytes, name: str = "private_key") -> PrivateKey:
    """Load an unencrypted PEM private key (RSA, EC, Ed25519 or Ed448)."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is not an unencrypted PEM private key") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, *ED_PRIVATE)):
        raise ConfigError(f"{name} must be an RSA, EC, Ed25519 or Ed448 key, "
                          f"not {type(key).__name__}")
    return key


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

    def __bool__(self) -> bool:
        return bool(self._anonymous or self._static[0] or self._static[1]
                    or self._fetched[0] or self._fetched[1])
