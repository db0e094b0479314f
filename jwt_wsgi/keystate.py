"""What a manager signs and verifies with, built as one object and replaced as one.

:class:`KeyState` holds a manager's own keys and everything made from them: the key set,
the codec that signs (its signer and the ``kid`` it writes travel together), the codec
that renews, the function that verifies a token's signature (through ``issuers=`` when
there are any) and the JWKS to publish. The request path reads the manager's state once
per token, so :meth:`~jwt_wsgi.JWTManager.replace_keys` swaps every part at once: no
token is signed by a new key while the old set verifies, or checked against half of each.

Only the keys a manager holds itself are replaced (:data:`REPLACEABLE`). Keys fetched
from ``jwks_url`` or ``oidc_issuer`` follow the provider's JWKS on their own, and
``issuers=`` entries keep theirs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .issuers import Issuer, IssuerRouter, has_keys, load_keys
from .keys import KeySet, PublicKey, Signer, public_jwk, thumbprint
from .minting import check_lifetime_bound
from .renewal import own_codec
from .settings import Settings
from .tokens import KeyLookup, Token, TokenCodec

if TYPE_CHECKING:
    from .jwks import JWKSFetcher

#: The settings :meth:`~jwt_wsgi.JWTManager.replace_keys` takes: the keys a manager holds.
REPLACEABLE = ("signing_keys", "private_key", "public_key", "secret_key",
               "secret_key_fallbacks", "jwks")


@dataclasses.dataclass(frozen=True, eq=False)
class KeyState:
    """One manager's keys and what is built on them (see the module docstring)."""

    settings: Settings
    keys: KeySet
    #: The :class:`~jwt_wsgi.jwks.JWKSFetcher` when ``jwks_url`` (or ``oidc_issuer``) is set.
    fetcher: JWKSFetcher | None
    find: KeyLookup
    signer: Signer | None
    signing_public_key: PublicKey | None
    #: The public JWKs :meth:`~jwt_wsgi.JWTManager.jwks` serves, the signing key first;
    #: empty when the manager signs with an HMAC secret or cannot sign.
    published: tuple[dict[str, str], ...]
    codec: TokenCodec
    #: Verifies only what the signing key signed (``None``: the manager cannot sign).
    own_codec: TokenCodec | None
    #: Verifies only tokens signed by a key this manager signs or signed with (no
    #: ``public_key``, ``jwks`` or fetched key): what ``rotate_refresh`` rotates.
    rotation_codec: TokenCodec | None
    verify: Callable[[str], Token]
    #: Whether any key set of this manager is fetched (own or an issuer's).
    fetchers: bool


def build_state(settings: Settings, issuers: Mapping[str, Issuer],
                clock: Callable[[], float], parent: KeySet | None = None) -> KeyState:
    """Load the keys ``settings`` describe and build the codecs on them.

    :param parent: the key set being replaced; the new one starts a generation past it.
    :raises ConfigError: a key that is missing, unreadable or does not fit.
    """
    signer: Signer | None = None
    public: PublicKey | None = None
    published: tuple[dict[str, str], ...] = ()
    fetcher: JWKSFetcher | None = None
    own_keys: KeySet | None = None
    if issuers and not has_keys(settings):
        keys = KeySet()  # only other issuers: this manager verifies but cannot mint
        find: KeyLookup = keys.find
    else:
        material = load_keys(settings)
        keys, fetcher, find = material.keys, material.fetcher, material.find
        signer, public = material.signer, material.signing_public_key
        own_keys = material.own
        published = tuple(material.published) or _own_jwk(public, settings.algorithm)
    if signer is not None:
        check_lifetime_bound(settings)
    if parent is not None:
        keys.generation = parent.generation + 1
    header = {"kid": published[0]["kid"]} if published else None
    codec = TokenCodec(settings, find, signer, header, clock=clock)
    verify = codec.verify
    if issuers:
        own = codec if has_keys(settings) else None
        verify = IssuerRouter(issuers, own, settings.issuer, settings.max_token_size).verify
    # One generation for every key the manager trusts: an issuer's rotation changes it.
    for issuer in issuers.values():
        issuer.material.keys.parent = keys
    rotation = None if signer is None or own_keys is None else TokenCodec(
        settings, own_keys.find, signer, header, clock=clock)
    return KeyState(
        settings, keys, fetcher, find, signer, public, published, codec,
        own_codec(settings, signer, public, header), rotation, verify,
        fetcher is not None or any(i.material.fetcher is not None for i in issuers.values()))


def _own_jwk(public: PublicKey | None, algorithm: str) -> tuple[dict[str, str], ...]:
    if public is None:
        return ()
    jwk = public_jwk(public, "", algorithm)
    jwk["kid"] = thumbprint(jwk)
    return (jwk,)


def replacement(current: KeyState, changes: Mapping[str, Any]) -> Settings:
    """The settings ``changes`` make of the current ones, validated as at construction.

    :raises ConfigError: a name that is not a key setting, a manager whose keys are
        fetched, or any setting the manager would refuse.
    """
    unknown = sorted(set(changes) - set(REPLACEABLE))
    if unknown:
        raise ConfigError(f"replace_keys() takes {', '.join(REPLACEABLE)}; not "
                          f"{', '.join(unknown)} (other settings need a new manager)")
    if not changes:
        raise ConfigError("replace_keys() needs at least one key setting")
    if current.fetcher is not None:
        raise ConfigError("this manager's keys come from jwks_url or oidc_issuer and follow "
                          "that JWKS on their own; replace_keys() replaces keys held here")
    return current.settings.replace(**changes)
