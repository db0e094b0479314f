"""JWTManager: settings and keys, composed with minting, loaders and revocation.

The jobs live in their own modules: :mod:`~jwt_wsgi.minting` (creating tokens),
:mod:`~jwt_wsgi.loaders` (registering loaders), :mod:`~jwt_wsgi.revoking` (the blocklist);
this one builds the keys and reads tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .blocklist import Blocklist, MemoryBlocklist
from .cache import TokenCache
from .errors import (
    ConfigError,
    JWTWSGIError,
    TokenMalformedError,
)
from .handlers import Responders
from .issuers import parse_issuers
from .keys import NO_HMAC_KEY_MESSAGE, KeySet, PublicKey
from .keystate import KeyState, build_state, replacement
from .loaders import Loaders
from .minting import Minting
from .revoking import Revoking
from .rotation import ledger_for, rotate
from .settings import Settings
from .tokens import Token, TokenCodec
from .wiring import (
    check_settings_argument,
)

if TYPE_CHECKING:
    from .jwks import JWKSFetcher

logger = logging.getLogger("jwt_wsgi")


class JWTManager(Minting, Loaders, Revoking):
    """Settings, keys and loaders for one token issuer/verifier.

    :param settings: a prebuilt :class:`Settings`; otherwise the keyword options build one.
    :param blocklist: a revocation store (``add``/``contains``); a
        :class:`~jwt_wsgi.blocklist.MemoryBlocklist` by default.
    :param clock: a callable returning the current time in seconds since the epoch, read
        for every time rule and every minted ``iat`` (default :func:`time.time`); pass a
        frozen one in tests.
    :raises ConfigError: for any setting that cannot work.

    ::

        jwt = JWTManager(secret_key=os.environ["JWT_SECRET"])
        token = jwt.create_access_token("alice", fresh=True)
    """

    def __init__(self, settings: Settings | None = None, *, blocklist: Blocklist | None = None,
                 clock: Callable[[], float] | None = None, **options: Any) -> None:
        if settings is not None and not isinstance(settings, Settings):
            # A Settings was checked when it was made; anything else never was, and is
            # refused with the form to write: JWTManager(app), (app.config), ("secret").
            check_settings_argument(settings)
        if settings is not None and options:
            raise ConfigError("pass either a Settings object or keyword options, not both")
        if clock is not None and not callable(clock):
            raise ConfigError("clock must be a callable returning seconds since the epoch")
        self.settings = settings if settings is not None else Settings.build(**options)
        self.blocklist: Blocklist = blocklist if blocklist is not None else MemoryBlocklist()
        use_clock = getattr(self.blocklist, "use_clock", None)
        if clock is not None and callable(use_clock):  # expiries are in this clock's time
            use_clock(clock)
        #: Where :meth:`rotate_refresh` remembers used refresh tokens: the blocklist's reach.
        self.refresh_ledger = ledger_for(self.blocklist)
        if not (callable(getattr(self.blocklist, "add", None))
                and callable(getattr(self.blocklist, "contains", None))):
            raise ConfigError("blocklist must have add(jti, expires_at) and contains(jti) methods")
        self.issuers = parse_issuers(self.settings)
        #: The keys and everything built on them (a :class:`~jwt_wsgi.keystate.KeyState`),
        #: replaced as a whole by :meth:`replace_keys`: another object means other keys.
        self.key_state = build_state(self.settings, self.issuers, clock or time.time)
        self._replacing = threading.Lock()
        #: Verified tokens seen before (``None`` when ``token_cache_size`` is 0).
        self.token_cache = TokenCache(self.settings.token_cache_size) \
            if self.settings.token_cache_size else None
        # What a cached verification depends on besides the keys (fixed for this manager).
        self._validation = (self.settings.issuer, self.settings.audience, self.settings.leeway,
                            self.settings.allowed_algorithms, tuple(self.issuers))
        self.responders = Responders(self.settings.error_message_key,
                                     self.settings.header_type, self.settings.realm)
        self._blocklist_loader: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None
        self._claims_loader: Callable[[Any], Mapping[str, Any]] | None = None
        self._headers_loader: Callable[[Any], Mapping[str, Any]] | None = None
        self._identity_loader: Callable[[Any], Any] | None = None
        #: The registered ``user_lookup_loader``, read by the middleware on each request.
        self.lookup_user: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None

    @property
    def clock(self) -> Callable[[], float]:
        """The clock this manager reads (see the ``clock`` parameter)."""
        return self.codec.clock

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, blocklist: Blocklist | None = None,
                     clock: Callable[[], float] | None = None) -> JWTManager:
        """Build from ``JWT_*`` keys, such as a Flask ``app.config`` or INI strings."""
        try:
            return cls(Settings.from_mapping(mapping), blocklist=blocklist, clock=clock)
        except ConfigError as exc:
            if str(exc) != NO_HMAC_KEY_MESSAGE:
                raise
            # flask-jwt-extended falls back to Flask's SECRET_KEY; we keep refusing (the session
            # secret should not also sign tokens) but say which key is missing.
            message = "an HMAC algorithm needs JWT_SECRET_KEY (a random string of 32+ bytes)"
            if mapping.get("SECRET_KEY"):
                message += ("; jwt_wsgi does not read SECRET_KEY as flask-jwt-extended does: "
                            "set JWT_SECRET_KEY, preferably to a secret of its own")
            raise ConfigError(message) from None

    # -- keys -----------------------------------------------------------------------

    @property
    def keys(self) -> KeySet:
        """The key set that verifies this manager's own tokens (its ``generation`` keys
        the verified-token cache)."""
        return self.key_state.keys

    @property
    def jwks_fetcher(self) -> JWKSFetcher | None:
        """The :class:`~jwt_wsgi.jwks.JWKSFetcher` when ``jwks_url`` is set."""
        return self.key_state.fetcher

    @property
    def codec(self) -> TokenCodec:
        """The codec that signs with the current signing key and verifies with the keys."""
        return self.key_state.codec

    @property
    def own_codec(self) -> TokenCodec | None:
        """Verifies only tokens this manager's signing key signed (``None``: it cannot
        sign); what :func:`~jwt_wsgi.renewal.renew_access_token` renews."""
        return self.key_state.own_codec

    @property
    def rotation_codec(self) -> TokenCodec | None:
        """Verifies only tokens a key this manager signs or signed with signed: what
        :meth:`rotate_refresh` rotates (``None``: it cannot sign)."""
        return self.key_state.rotation_codec

    @property
    def signing_public_key(self) -> PublicKey | None:
        """The public half of the signing key (``None`` for HMAC or no signing key)."""
        return self.key_state.signing_public_key

    def replace_keys(self, **keys: Any) -> None:
        """Replace this manager's own keys while it runs; every worker that should follow
        calls it too (or is restarted with the new settings).

        Takes ``signing_keys``, ``private_key``, ``public_key``, ``secret_key``,
        ``secret_key_fallbacks`` and ``jwks``, as the constructor does; the settings not
        named keep their values, and ``None`` clears one. The result is validated as at
        construction (a :class:`ConfigError` changes nothing), then the signer and the
        key set are swapped together: the next token is signed by the new first key,
        and a token of a key no longer listed stops verifying at once, also when it was
        in the verified-token cache.

        ::

            jwt.replace_keys(signing_keys=[next_pem, current_pem])   # promote the next key
            jwt.replace_keys(secret_key=new, secret_key_fallbacks=[old])

        :raises ConfigError: another setting, a manager whose own keys come from
            ``jwks_url`` or ``oidc_issuer``, or keys the constructor would refuse.
        """
        with self._replacing:
            current = self.key_state
            settings = replacement(current, keys)
            state = build_state(settings, self.issuers, current.codec.clock, current.keys)
            # One assignment: a reader holds the old state or the new one, never a mix.
            self.key_state = state
            self.settings = settings
        logger.info("jwt_wsgi: keys replaced; %d published, signing kid %s",
                    len(state.published),
                    state.published[0]["kid"] if state.published else "(not published)")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS of the private key this manager signs with (with
        ``signing_keys``: of every key, the signing one first).

        Serve it (for example at ``/.well-known/jwks.json``) so that other services can
        verify this manager's tokens with ``jwks_url``. The ``kid`` is the key's RFC 7638
        thumbprint, and every token minted here carries it.

        :raises RuntimeError: the manager signs with an HMAC secret (never published) or
            cannot sign at all.
        """
        published = self.key_state.published
        if not published:
            raise RuntimeError("jwks() needs private_key with an RS*, PS*, ES* or EdDSA "
                               "algorithm; "
                               "an HMAC secret_key is never published")
        return {"keys": [dict(jwk) for jwk in published]}

    # -- reading --------------------------------------------------------------------

    def decode_token(self, token: str | bytes, allow_expired: bool = False) -> dict[str, Any]:
        """Verify a token and return its claims (the blocklist is not consulted).

        :param token: the compact token, as ``str`` or ASCII ``bytes`` (as PyJWT takes it).
        :raises jwt_wsgi.errors.JWTWSGIError: a subclass saying what is wrong, also when
            ``token`` is not a string at all.
        """
        header, claims = self.key_state.verify(_token_text(token))
        try:
            self.codec.check_times(claims, allow_expired=allow_expired)
        except JWTWSGIError as error:
            raise error.with_token(header, claims) from None
        return claims

    def verify(self, token: str) -> Token:
        """Everything the middleware checks of a token itself: signature, claims, clock,
        revocation. Returns a :class:`~jwt_wsgi.tokens.Token` (header, claims) whose dicts
        the caller owns.

        A token in the verified-token cache skips parsing and the signature check; the
        clock and revocation are checked on every call, and only a success is cached.
        """
        state = self.key_state  # read once: keys replaced meanwhile never mix with these
        cache = self.token_cache
        if cache is None:
            verified = state.verify(token)
            self.check_now(*verified)
            return verified
        # Taken before verifying: a key change during verification makes the put a no-op.
        # Replaced keys are another KeySet, so nothing cached under the old ones is found.
        keys = state.keys
        context = (keys, keys.generation, self._validation)
        found = cache.get(token, context)
        if found is not None:
            # A hit skips the key lookup, where a JWKS set is refreshed when it expires: do
            # that here, for this token's issuer only (another's dead endpoint never delays
            # it); a refetch that changed the keys sends the token through full checks.
            fetcher = self._fetcher_of(state, found[1]) if state.fetchers else None
            if fetcher is not None:
                fetcher.refresh_if_expired()
                if keys.generation != context[1]:  # drops what the old keys verified
                    context = (keys, keys.generation, self._validation)
                    found = cache.get(token, context)
        if found is not None:
            self.check_now(*found)
            return found
        header, claims = state.verify(token)
        self.check_now(header, claims)
        return cache.put(token, context, header, claims)

    def _fetcher_of(self, state: KeyState, claims: dict[str, Any]) -> JWKSFetcher | None:
        """The JWKS fetcher whose keys verified a token with these claims, if any."""
        iss = claims.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        return issuer.material.fetcher if issuer is not None else state.fetcher

    def check_now(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        """What can change after a token was verified: the clock and revocation."""
        try:
            self.codec.check_times(claims)
            self.check_revoked(header, claims)
        except JWTWSGIError as error:
            raise error.with_token(header, claims) from None

    # -- rotation -------------------------------------------------------------------

    def rotate_refresh(self, refresh_token: str | bytes) -> tuple[str, str]:
        """Trade a refresh token for a new ``(access, refresh)`` pair of the same family.

        The old token is consumed exactly once, atomically across every worker that
        shares the blocklist (Redis ``SET NX`` with :class:`RedisBlocklist`, a lock in
        memory). A second use revokes the whole family, access tokens included, and
        raises :class:`RefreshTokenReusedError` (answered by
        ``refresh_token_reused_loader``, 401). A refresh token minted without a family
        (before rotation was used, or by flask-jwt-extended) starts one. Only tokens
        this manager signed are rotated; custom claims carry over, and no loader runs
        (the identity is already the claim's value).

        :raises jwt_wsgi.errors.JWTWSGIError: the token does not verify, is not a refresh
            token, is revoked or was used before; answer it with
            ``jwt.responders.respond(error, environ)``.
        """
        return rotate(self, _token_text(refresh_token))


def _token_text(token: object) -> str:
    """A token given to the public API as text: ``str``, or ``bytes`` of ASCII."""
    if isinstance(token, str):
        return token
    if isinstance(token, (bytes, bytearray)):
        try:
            return token.decode("ascii")
        except UnicodeDecodeError:
            raise TokenMalformedError("Invalid token format") from None
    raise TokenMalformedError("Token must be a string")
