"""JWTManager: settings, keys, loaders, and minting, decoding and revoking tokens."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .blocklist import Blocklist, MemoryBlocklist
from .cache import TokenCache
from .errors import (
    ConfigError,
    JWTWSGIError,
    TokenMalformedError,
)
from .handlers import Responders
from .issuers import IssuerRouter, has_keys, load_keys, parse_issuers
from .keys import NO_HMAC_KEY_MESSAGE, KeySet, PublicKey, Signer, public_jwk, thumbprint
from .loaders import Loaders
from .renewal import own_codec
from .revoking import REFRESH_JTI_CLAIM, Revoking
from .rotation import FAMILY_CLAIM, ledger_for, rotate
from .settings import Settings
from .tokens import Token, TokenCodec, new_jti
from .wiring import (
    check_settings_argument,
)

if TYPE_CHECKING:
    from .jwks import JWKSFetcher

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("jwt_wsgi")



class JWTManager(Loaders, Revoking):
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
        #: Where :meth:`rotate_refresh` remembers used refresh tokens: the blocklist's reach.
        self.refresh_ledger = ledger_for(self.blocklist)
        if not (callable(getattr(self.blocklist, "add", None))
                and callable(getattr(self.blocklist, "contains", None))):
            raise ConfigError("blocklist must have add(jti, expires_at) and contains(jti) methods")
        self._signer: Signer | None = None
        self.signing_public_key: PublicKey | None = None
        self._setup_keys()
        self._public_jwk = self._signing_jwk()
        self.codec = TokenCodec(self.settings, self._find_key, self._signer,
                                {"kid": self._public_jwk["kid"]} if self._public_jwk else None,
                                clock=clock or time.time)
        #: Verifies only tokens this manager's signing key signed (``None``: it cannot
        #: sign); what :func:`~jwt_wsgi.renewal.renew_access_token` renews.
        self.own_codec = own_codec(self.settings, self._signer, self.signing_public_key,
                                   {"kid": self._public_jwk["kid"]} if self._public_jwk else None)
        #: Verifies only tokens signed by a key this manager signs or signed with (no
        #: ``public_key``, ``jwks`` or fetched key): what :meth:`rotate_refresh` rotates.
        self.rotation_codec = None if self._signer is None or self._own_keys is None \
            else TokenCodec(self.settings, self._own_keys.find, self._signer,
                            {"kid": self._public_jwk["kid"]} if self._public_jwk else None,
                            clock=self.codec.clock)
        self._verify_signature = self.codec.verify
        if self.issuers:
            own = self.codec if has_keys(self.settings) else None
            self._verify_signature = IssuerRouter(
                self.issuers, own, self.settings.issuer, self.settings.max_token_size).verify
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

    def _setup_keys(self) -> None:
        s = self.settings
        self.issuers = parse_issuers(s)
        self._published: list[dict[str, str]] = []  # signing_keys' JWKs, when given
        if self.issuers and not has_keys(s):
            # Only other issuers: this manager verifies but cannot mint.
            self.keys, self.jwks_fetcher = KeySet(), None
            self._find_key: Any = self.keys.find
            self._own_keys: KeySet | None = None
        else:
            material = load_keys(s)
            self.keys, self._signer = material.keys, material.signer
            self.signing_public_key = material.signing_public_key
            self._published = material.published
            #: The :class:`~jwt_wsgi.jwks.JWKSFetcher` when ``jwks_url`` is set.
            self.jwks_fetcher = material.fetcher
            self._find_key = material.find
            self._own_keys = material.own
        #: Whether any key set here is fetched (a cache hit then refreshes its issuer's).
        self._fetchers = self.jwks_fetcher is not None or any(
            issuer.material.fetcher is not None for issuer in self.issuers.values())
        # One generation for every key this manager trusts: an issuer's rotation changes it.
        for issuer in self.issuers.values():
            issuer.material.keys.parent = self.keys

    def _signing_jwk(self) -> dict[str, str] | None:
        key = self.signing_public_key
        if key is None:
            return None
        jwk = public_jwk(key, "", self.settings.algorithm)
        jwk["kid"] = thumbprint(jwk)
        return jwk

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS of the private key this manager signs with (with
        ``signing_keys``: of every key, the signing one first).

        Serve it (for example at ``/.well-known/jwks.json``) so that other services can
        verify this manager's tokens with ``jwks_url``. The ``kid`` is the key's RFC 7638
        thumbprint, and every token minted here carries it.

        :raises RuntimeError: the manager signs with an HMAC secret (never published) or
            cannot sign at all.
        """
        if self._public_jwk is None:
            raise RuntimeError("jwks() needs private_key with an RS*, PS*, ES* or EdDSA "
                               "algorithm; "
                               "an HMAC secret_key is never published")
        published = self._published or [self._public_jwk]
        return {"keys": [dict(jwk) for jwk in published]}

    # -- minting --------------------------------------------------------------------

    def create_access_token(self, identity: Any, fresh: bool | float | datetime.timedelta = False,
                            expires_delta: datetime.timedelta | int | bool | None = None,
                            additional_claims: Mapping[str, Any] | None = None,
                            additional_headers: Mapping[str, Any] | None = None) -> str:
        """Mint an access token (claim layout of flask-jwt-extended 4.x).

        :param fresh: ``True``, or a duration/timestamp until which the token is fresh.
        :param expires_delta: lifetime; ``None`` for the default, ``False`` for none.
        """
        return self._create("access", identity, fresh, expires_delta,
                            self.settings.access_token_expires, additional_claims,
                            additional_headers)

    def create_refresh_token(self, identity: Any,
                             expires_delta: datetime.timedelta | int | bool | None = None,
                             additional_claims: Mapping[str, Any] | None = None,
                             additional_headers: Mapping[str, Any] | None = None) -> str:
        """Mint a refresh token (``type: refresh``, never fresh)."""
        return self._create("refresh", identity, False, expires_delta,
                            self.settings.refresh_token_expires, additional_claims,
                            additional_headers)

    def _create(self, token_type: str, identity: Any, fresh: bool | float | datetime.timedelta,
                expires_delta: datetime.timedelta | int | bool | None,
                default_expiry: datetime.timedelta | None,
                additional_claims: Mapping[str, Any] | None,
                additional_headers: Mapping[str, Any] | None, *, loaders: bool = True) -> str:
        """Mint one token; ``loaders=False`` when ``identity`` is already the claim's value
        (a token minted from a verified one), so no loader sees it as a user object."""
        s = self.settings
        user = identity  # what the claims and headers loaders get, as in flask-jwt-extended
        if loaders and self._identity_loader is not None:
            identity = self._identity_loader(identity)
        if s.verify_sub and s.identity_claim == "sub" and not isinstance(identity, str):
            raise TypeError("identity must be a string, as sub is one (or set verify_sub=False, "
                            "or register a user_identity_loader that returns one)")
        now = int(self.codec.clock())
        if isinstance(fresh, datetime.timedelta):
            fresh = now + int(fresh.total_seconds())
        elif not isinstance(fresh, (bool, int, float)):
            raise TypeError("fresh must be a bool, a timedelta or a timestamp")
        claims: dict[str, Any] = {"fresh": fresh, "iat": now, "jti": new_jti(),
                                  "type": token_type, s.identity_claim: identity}
        if s.encode_nbf:
            claims["nbf"] = now
        # As flask-jwt-extended 4.x, whatever token_location says: a token minted here may be
        # set as a cookie by another service (or a later configuration) that checks CSRF.
        if s.cookie_csrf_protect:
            claims["csrf"] = new_jti()
        audience = s.encode_audience or s.audience
        if audience:
            claims["aud"] = audience[0] if len(audience) == 1 else list(audience)
        issuer = s.encode_issuer or s.issuer
        if issuer:
            claims["iss"] = issuer
        lifetime = _lifetime(expires_delta, default_expiry)
        if lifetime is not None:
            claims["exp"] = now + lifetime
        if loaders and self._claims_loader is not None:
            claims.update(self._claims_loader(user))
        if additional_claims:
            claims.update(additional_claims)
        headers = dict(self._headers_loader(user)) if loaders and self._headers_loader else {}
        headers.update(additional_headers or {})
        return self.codec.encode(claims, headers)

    # -- reading --------------------------------------------------------------------

    def decode_token(self, token: str | bytes, allow_expired: bool = False) -> dict[str, Any]:
        """Verify a token and return its claims (the blocklist is not consulted).

        :param token: the compact token, as ``str`` or ASCII ``bytes`` (as PyJWT takes it).
        :raises jwt_wsgi.errors.JWTWSGIError: a subclass saying what is wrong, also when
            ``token`` is not a string at all.
        """
        header, claims = self._verify_signature(_token_text(token))
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
        cache = self.token_cache
        if cache is None:
            verified = self._verify_signature(token)
            self.check_now(*verified)
            return verified
        # Taken before verifying: a key change during verification makes the put a no-op.
        keys = self.keys
        context = (keys, keys.generation, self._validation)
        found = cache.get(token, context)
        if found is not None:
            # A hit skips the key lookup, where a JWKS set is refreshed when it expires: do
            # that here, for this token's issuer only (another's dead endpoint never delays
            # it); a refetch that changed the keys sends the token through full checks.
            fetcher = self._fetcher_of(found[1]) if self._fetchers else None
            if fetcher is not None:
                fetcher.refresh_if_expired()
                if keys.generation != context[1]:  # drops what the old keys verified
                    context = (keys, keys.generation, self._validation)
                    found = cache.get(token, context)
        if found is not None:
            self.check_now(*found)
            return found
        header, claims = self._verify_signature(token)
        self.check_now(header, claims)
        return cache.put(token, context, header, claims)

    def _fetcher_of(self, claims: dict[str, Any]) -> JWKSFetcher | None:
        """The JWKS fetcher whose keys verified a token with these claims, if any."""
        iss = claims.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        return issuer.material.fetcher if issuer is not None else self.jwks_fetcher

    def check_now(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        """What can change after a token was verified: the clock and revocation."""
        try:
            self.codec.check_times(claims)
            self.check_revoked(header, claims)
        except JWTWSGIError as error:
            raise error.with_token(header, claims) from None

    # -- rotation -------------------------------------------------------------------

    def create_token_pair(self, identity: Any, fresh: bool | float | datetime.timedelta = True,
                          additional_claims: Mapping[str, Any] | None = None,
                          ) -> tuple[str, str]:
        """Mint a login's ``(access, refresh)`` pair as one rotation family.

        The access token names the refresh token (``refresh_jti``) and both name the
        family, so revoking the refresh token, or a reuse that :meth:`rotate_refresh`
        detects, refuses the access token too.
        """
        refresh_jti = new_jti()
        family = {FAMILY_CLAIM: refresh_jti}
        extra = dict(additional_claims or {})
        refresh = self.create_refresh_token(identity, additional_claims={
            **extra, **family, "jti": refresh_jti})
        access = self.create_access_token(identity, fresh=fresh, additional_claims={
            **extra, **family, REFRESH_JTI_CLAIM: refresh_jti})
        return access, refresh

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


def _lifetime(value: datetime.timedelta | int | bool | None,
              default: datetime.timedelta | None) -> int | None:
    if value is None:
        return None if default is None else int(default.total_seconds())
    if value is False:
        return None
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError("expires_delta must be a timedelta, seconds, False or None")
