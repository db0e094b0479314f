"""Key rotation: several keys of one issuer, the current one signing, all verifying.

``signing_keys`` holds PEM keys, the first a private key that signs; every key verifies
under its RFC 7638 thumbprint as ``kid`` and is published by
:meth:`~jwt_wsgi.JWTManager.jwks`, so a next key can be published before it signs and a
previous one kept until its tokens expire. ``secret_key_fallbacks`` are earlier HMAC
secrets that verify and never sign (as Flask's ``SECRET_KEY_FALLBACKS``). A token without
a ``kid`` (or with one none of the keys has) is tried against each key that fits its
algorithm, once: the settings cap how many keys there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .algorithms import AnyOf
from .errors import ConfigError
from .jwk import public_jwk, thumbprint
from .keys import (
    KeySet,
    PublicKey,
    check_key_fits,
    hmac_secret,
    load_private_pem,
    load_public_pem,
    signer,
    verifier,
)

if TYPE_CHECKING:
    from .settings import Settings


def hmac_keys(settings: Settings, algorithms: tuple[str, ...], keys: KeySet) -> bytes:
    """Add ``secret_key`` and its fallbacks for every HMAC algorithm; return the signing
    secret."""
    secret = hmac_secret(settings.secret_key)
    fallbacks = [hmac_secret(old, f"secret_key_fallbacks[{index}]")
                 for index, old in enumerate(settings.secret_key_fallbacks)]
    if secret in fallbacks:
        raise ConfigError("secret_key_fallbacks repeats secret_key; list only older secrets")
    for alg in algorithms:
        current = verifier(secret, alg)
        keys.add(AnyOf([current, *(verifier(old, alg) for old in fallbacks)])
                 if fallbacks else current, alg)
    return secret


def signing_keys(settings: Settings, algorithms: tuple[str, ...], keys: KeySet,
                 fits: Any, own: KeySet | None = None,
                 ) -> tuple[Any, PublicKey, list[dict[str, str]]]:
    """Load ``signing_keys``: the first signs; every one verifies under its thumbprint,
    in ``keys`` and in ``own`` (the keys this manager signed with).

    :return: the signer, its public key, and the JWKs to publish (the signing one first).
    :raises ConfigError: a first key that is not private, a key that fits no algorithm,
        a key given twice.
    """
    entries = settings.signing_keys
    text = entries[0].decode() if isinstance(entries[0], bytes) else entries[0]
    if "PRIVATE KEY" not in text:
        raise ConfigError("signing_keys: the first key signs, so it must be a private key "
                          "(the others may be public keys)")
    first = load_private_pem(entries[0], "signing_keys[0]")
    check_key_fits(first, settings.algorithm, "signing_keys[0]")
    published: list[dict[str, str]] = []
    kids: set[str] = set()
    anonymous: dict[str, list[Any]] = {}
    for index, entry in enumerate(entries):
        material = entry.decode() if isinstance(entry, bytes) else entry
        public: PublicKey = (load_private_pem(entry, f"signing_keys[{index}]").public_key()
                             if "PRIVATE KEY" in material
                             else load_public_pem(entry, f"signing_keys[{index}]"))
        fitting = [alg for alg in algorithms if fits(public, alg)]
        if not fitting:
            raise ConfigError(f"signing_keys[{index}] fits none of {', '.join(algorithms)}")
        alg_of_key = settings.algorithm if settings.algorithm in fitting else fitting[0]
        jwk = public_jwk(public, "", alg_of_key)
        kid = jwk["kid"] = thumbprint(jwk)
        if kid in kids:
            raise ConfigError(f"signing_keys[{index}] is the same key as an earlier one")
        kids.add(kid)
        published.append(jwk)
        for alg in fitting:
            check_key_fits(public, alg, f"signing_keys[{index}]")
            for target in (keys, own) if own is not None else (keys,):
                target.add(verifier(public, alg), alg, kid=kid)
            anonymous.setdefault(alg, []).append(verifier(public, alg))
    for alg, verifiers in anonymous.items():  # kid-less tokens, or a kid none of them has
        for target in (keys, own) if own is not None else (keys,):
            target.add(verifiers[0] if len(verifiers) == 1 else AnyOf(verifiers), alg)
    return signer(first, settings.algorithm), first.public_key(), published
