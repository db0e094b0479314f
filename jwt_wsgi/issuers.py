"""Issuers: which keys, audience and algorithms verify the tokens of which ``iss``.

A manager has its own keys (``secret_key``, ``public_key``, ``private_key``, ``jwks``,
``jwks_url``) and, with ``issuers=``, more issuers beside them, for example an internal
HS256 issuer and an OIDC identity provider::

    jwt = JWTManager(secret_key=SECRET, issuer="https://api.example.com", issuers={
        "https://tenant.eu.auth0.com/": {
            "jwks_url": "https://tenant.eu.auth0.com/.well-known/jwks.json",
            "audience": "https://api.example.com",
            "algorithms": ["RS256"],
        },
    })

A token is routed by its (not yet verified) ``iss`` claim to exactly one issuer, and only
that issuer's keys are tried: a key of issuer A never verifies a token that claims to come
from B. A token whose ``iss`` names no issuer is refused before any signature is checked.
The manager's own keys take tokens whose ``iss`` is the manager's ``issuer`` (or, when
``issuer`` is unset, tokens without ``iss``).
"""

from __future__ import annotations

import binascii
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, IssuerInvalidError, TokenMalformedError, TokenTooLargeError
from .keyring import hmac_keys, signing_keys
from .keys import (
    HMAC_ALGORITHMS,
    KeySet,
    PublicKey,
    Signer,
    check_algorithms,
    check_key_fits,
    family,
    load_private_pem,
    load_public_pem,
    signer,
    verifier,
)
from .settings import Settings
from .tokens import _COMPACT, KeyLookup, Token, TokenCodec, b64decode, parse_json_object

if TYPE_CHECKING:
    from .jwks import JWKSFetcher

KEY_SETTINGS = ("secret_key", "private_key", "public_key", "jwks", "jwks_url", "oidc_issuer",
                "signing_keys")
ISSUER_KEYS = frozenset({"secret_key", "public_key", "jwks", "jwks_url", "audience",
                         "algorithms", "max_token_lifetime"})


@dataclasses.dataclass
class KeyMaterial:
    """The keys built from one issuer's settings."""

    keys: KeySet
    signer: Signer | None = None
    signing_public_key: PublicKey | None = None
    #: The JWKs to publish (``signing_keys``), the signing one first.
    published: list[dict[str, str]] = dataclasses.field(default_factory=list)
    fetcher: JWKSFetcher | None = None  # when jwks_url is set
    #: The keys this issuer signs or signed with (the signing key, ``signing_keys``,
    #: ``secret_key`` and its fallbacks), without ``public_key``, ``jwks`` or a fetched
    #: set: what may verify a token this manager is to mint from (refresh rotation).
    own: KeySet | None = None

    @property
    def find(self) -> KeyLookup:
        return self.fetcher.find if self.fetcher is not None else self.keys.find


def has_keys(settings: Settings) -> bool:
    return any(getattr(settings, name) not in (None, ()) for name in KEY_SETTINGS)


def load_keys(settings: Settings) -> KeyMaterial:
    """Build the verification (and signing) keys an issuer's settings describe.

    :raises ConfigError: a key that is missing, unreadable or does not fit the algorithms.
    """
    s = settings
    algorithms = check_algorithms((*s.allowed_algorithms, s.algorithm))[:-1]
    material = KeyMaterial(KeySet())
    keys = material.keys
    if family(s.algorithm) == "HMAC" or all(a in HMAC_ALGORITHMS for a in algorithms):
        if (s.private_key is not None or s.public_key is not None or s.jwks or s.jwks_url
                or s.oidc_issuer or s.signing_keys):
            raise ConfigError("public_key, private_key, signing_keys and JWKS settings need an "
                              "RS*, PS*, ES* or EdDSA algorithm; HMAC algorithms use secret_key")
        secret = hmac_keys(s, algorithms, keys)
        material.own = keys  # every HMAC secret here is this manager's own
        if s.algorithm in HMAC_ALGORITHMS:
            material.signer = signer(secret, s.algorithm)
        return material
    if s.secret_key_fallbacks:
        raise ConfigError("secret_key_fallbacks are HMAC secrets; with public-key algorithms "
                          "rotate keys with signing_keys")
    public = load_public_pem(s.public_key) if s.public_key is not None else None
    own = material.own = KeySet()
    if s.signing_keys:
        material.signer, material.signing_public_key, material.published = signing_keys(
            s, algorithms, keys, _fits, own)
    if s.private_key is not None:
        private = load_private_pem(s.private_key)
        check_key_fits(private, s.algorithm, "private_key")
        material.signer = signer(private, s.algorithm)
        material.signing_public_key = private.public_key()
        for alg in algorithms:
            if _fits(private.public_key(), alg):
                own.add(verifier(private.public_key(), alg), alg)
        if public is None:
            public = private.public_key()
    if public is not None:
        fitting = [alg for alg in algorithms if _fits(public, alg)]
        if not fitting:
            raise ConfigError(f"public_key does not fit any of {', '.join(algorithms)}")
        for alg in fitting:
            check_key_fits(public, alg, "public_key")
            keys.add(verifier(public, alg), alg)
    if s.jwks is not None and not keys.add_jwks(s.jwks, algorithms):
        raise ConfigError("jwks holds no signing key usable with " + ", ".join(algorithms))
    if s.jwks_url:
        from .jwks import JWKSFetcher

        material.fetcher = JWKSFetcher(
            s.jwks_url, keys, algorithms, cache_seconds=s.jwks_cache_seconds,
            refetch_seconds=s.jwks_refetch_seconds, timeout=s.jwks_timeout)
    elif s.oidc_issuer:
        from .discovery import DiscoveryFetcher

        material.fetcher = DiscoveryFetcher(
            s.oidc_issuer, keys, algorithms, cache_seconds=s.jwks_cache_seconds,
            refetch_seconds=s.jwks_refetch_seconds, timeout=s.jwks_timeout)
    elif not keys:
        raise ConfigError(f"{s.algorithm} needs a key to verify with: set public_key, "
                          "private_key, jwks, jwks_url or oidc_issuer")
    return material


def _fits(key: Any, algorithm: str) -> bool:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_key_fits(key, algorithm, "key")
    except ConfigError:
        return False
    return True


@dataclasses.dataclass
class Issuer:
    """One accepted issuer: its name, settings, keys and the codec that verifies its tokens."""

    name: str
    settings: Settings
    material: KeyMaterial
    codec: TokenCodec


def build_issuer(name: str, config: Any, parent: Settings) -> Issuer:
    """Build one entry of ``issuers=``; the parent's claim rules and JWKS timings carry over."""
    where = f"issuers[{name!r}]"
    if not isinstance(name, str) or not name:
        raise ConfigError("issuers: each issuer is named by its non-empty 'iss' value")
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where} must be a dict with keys, audience and algorithms")
    unknown = set(config) - ISSUER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; use {sorted(ISSUER_KEYS)}")
    given = [k for k in ("secret_key", "public_key", "jwks", "jwks_url") if config.get(k)]
    if not given:
        raise ConfigError(f"{where} needs secret_key, public_key, jwks or jwks_url")
    algorithms = config.get("algorithms")
    if algorithms is None:
        algorithms = ["HS256"] if given == ["secret_key"] else ["RS256"]
    if isinstance(algorithms, str):
        algorithms = [a for a in algorithms.replace(",", " ").split() if a]
    if not isinstance(algorithms, (list, tuple)) or not algorithms:
        raise ConfigError(f"{where}: algorithms must be a non-empty list such as ['RS256']")
    inherited = {f: getattr(parent, f) for f in (
        "leeway", "identity_claim", "verify_sub", "require_exp", "max_token_size",
        "jwks_cache_seconds", "jwks_refetch_seconds", "jwks_timeout", "accept_token_types",
        "max_token_lifetime")}
    if "max_token_lifetime" in config:  # an issuer's own bound (None: none for it)
        inherited["max_token_lifetime"] = config["max_token_lifetime"]
    try:
        settings = Settings.build(
            **inherited, algorithm=algorithms[0], decode_algorithms=algorithms,
            secret_key=config.get("secret_key"), public_key=config.get("public_key"),
            jwks=config.get("jwks"), jwks_url=config.get("jwks_url"),
            audience=config.get("audience"), issuer=name)
        material = load_keys(settings)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Issuer(name, settings, material, TokenCodec(settings, material.find, None))


class IssuerRouter:
    """Sends each token to the codec of the issuer its ``iss`` names; refuses the rest.

    :param default: the manager's own codec, or ``None`` when it has no verification keys.
    :param default_issuer: the ``iss`` the manager's own keys accept (``None``: tokens
        without ``iss``).
    """

    def __init__(self, issuers: Mapping[str, Issuer], default: TokenCodec | None,
                 default_issuer: str | None, max_size: int) -> None:
        self.issuers = dict(issuers)
        self._codecs = {name: issuer.codec for name, issuer in issuers.items()}
        if default is not None and default_issuer is not None:
            self._codecs.setdefault(default_issuer, default)
        self._default_without_iss = default if default_issuer is None else None
        self._max_size = max_size

    def verify(self, token: str) -> Token:
        """Verify with the keys of the issuer named by the token's ``iss``."""
        if len(token) > self._max_size:
            raise TokenTooLargeError()
        if not _COMPACT.fullmatch(token):
            raise TokenMalformedError("Not enough segments" if token.count(".") < 2
                                      else "Invalid token format")
        try:
            payload = parse_json_object(b64decode(token.split(".")[1]))
        except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
            raise TokenMalformedError("Invalid payload") from None
        iss = payload.get("iss")
        if iss is None:
            codec = self._default_without_iss
        else:
            codec = self._codecs.get(iss) if isinstance(iss, str) else None
        if codec is None:
            raise IssuerInvalidError("Unknown issuer", "iss")
        return codec.verify(token)


def parse_issuers(parent: Settings) -> dict[str, Issuer]:
    """Build every issuer of ``parent.issuers``; refuse one that repeats the manager's own."""
    issuers: dict[str, Issuer] = {}
    for name, config in (parent.issuers or {}).items():
        if name == parent.issuer and has_keys(parent):
            raise ConfigError(f"issuers[{name!r}] repeats the manager's own issuer; configure "
                              "its keys in one place")
        issuers[name] = build_issuer(name, config, parent)
    return issuers
