"""JWTManager: settings, keys, loaders, and minting, decoding and revoking tokens."""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .blocklist import Blocklist, MemoryBlocklist
from .cache import TokenCache, copy_json
from .errors import (
    ConfigError,
    JWTWSGIError,
    RevokedTokenError,
    ServiceUnavailableError,
    TokenMalformedError,
)
from .handlers import Responders, Signature
from .issuers import IssuerRouter, has_keys, load_keys, parse_issuers
from .keys import NO_HMAC_KEY_MESSAGE, KeySet, PublicKey, Signer, public_jwk, thumbprint
from .renewal import own_codec
from .rotation import FAMILY_CLAIM, FAMILY_KEY, ledger_for, revoke_family, rotate
from .settings import Settings
from .tokens import Token, TokenCodec, new_jti
from .wiring import (
    check_settings_argument,
    init_app_message,
    loader_function,
    unknown_loader_message,
)

if TYPE_CHECKING:
    from .jwks import JWKSFetcher

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("jwt_wsgi")

#: The claim linking an access token to the refresh token it was minted from; revoking
#: that refresh token revokes the access token too.
REFRESH_JTI_CLAIM = "refresh_jti"


class JWTManager:
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
        else:
            material = load_keys(s)
            self.keys, self._signer = material.keys, material.signer
            self.signing_public_key = material.signing_public_key
            self._published = material.published
            #: The :class:`~jwt_wsgi.jwks.JWKSFetcher` when ``jwks_url`` is set.
            self.jwks_fetcher = material.fetcher
            self._find_key = material.find
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

    # -- loaders --------------------------------------------------------------------

    def _responder(name: str) -> Callable[[JWTManager, F], F]:  # type: ignore[misc]
        def register(self: JWTManager, func: F | None = None) -> F:
            func = loader_function(name, func)
            self.responders.register(name, func)
            return func

        register.__name__ = name
        register.__doc__ = f"Register the ``{name}`` responder (a decorator)."
        return register

    unauthorized_loader = _responder("unauthorized_loader")
    invalid_token_loader = _responder("invalid_token_loader")
    invalid_request_loader = _responder("invalid_request_loader")
    expired_token_loader = _responder("expired_token_loader")
    needs_fresh_token_loader = _responder("needs_fresh_token_loader")
    revoked_token_loader = _responder("revoked_token_loader")
    csrf_error_loader = _responder("csrf_error_loader")
    insufficient_scope_loader = _responder("insufficient_scope_loader")
    service_unavailable_loader = _responder("service_unavailable_loader")
    user_lookup_error_loader = _responder("user_lookup_error_loader")
    refresh_token_reused_loader = _responder("refresh_token_reused_loader")
    del _responder

    def token_in_blocklist_loader(self, func: F | None = None) -> F:
        """Register ``func(jwt_header, jwt_payload) -> bool``: True means revoked."""
        func = loader_function("token_in_blocklist_loader", func)
        Signature(func, (("jwt_header", "jwt_payload"),), "token_in_blocklist_loader")
        self._blocklist_loader = func
        return func

    def user_lookup_loader(self, func: F | None = None) -> F:
        """Register ``func(jwt_header, jwt_payload) -> user`` (flask-jwt-extended 4.x's name).

        It runs once per authenticated request, after the route's policy passed; the user
        is put in ``environ["jwt_wsgi.user"]`` (read it with
        :func:`~jwt_wsgi.context.get_current_user`). ``None`` answers through
        ``user_lookup_error_loader`` (401); an exception is a 500 and the app is not
        called. Nothing is cached between requests: wrap the function in a cache of your
        own if looking users up is costly and a stale user is acceptable.
        """
        func = loader_function("user_lookup_loader", func)
        Signature(func, (("jwt_header", "jwt_payload"),), "user_lookup_loader")
        self.lookup_user = func
        return func

    def user_claims_loader(self, func: F | None = None) -> F:
        """Register ``func(identity) -> dict`` of extra claims for every minted token."""
        func = loader_function("user_claims_loader", func)
        Signature(func, (("identity",),), "user_claims_loader")
        self._claims_loader = func
        return func

    additional_claims_loader = user_claims_loader

    def additional_headers_loader(self, func: F | None = None) -> F:
        """Register ``func(identity) -> dict`` of extra JOSE header fields for minted tokens."""
        func = loader_function("additional_headers_loader", func)
        Signature(func, (("identity",),), "additional_headers_loader")
        self._headers_loader = func
        return func

    def user_identity_loader(self, func: F | None = None) -> F:
        """Register ``func(user) -> identity``: turns what you pass to ``create_*`` into ``sub``."""
        func = loader_function("user_identity_loader", func)
        Signature(func, (("user",),), "user_identity_loader")
        self._identity_loader = func
        return func

    def register_loaders(self, loaders: Mapping[str, Callable[..., Any]]) -> None:
        """Register loaders by name: ``{"expired_token_loader": func, ...}``."""
        for name, func in loaders.items():
            method = getattr(self, name, None)
            if not name.endswith("_loader") or method is None:
                raise TypeError(unknown_loader_message(name, (
                    known for known in dir(self) if known.endswith("_loader")
                    and not known.startswith("_"))))
            method(func)

    def init_app(self, app: object, *args: object, **kwargs: object) -> None:
        """Not jwt_wsgi's form: raises a TypeError that shows the middleware line to write.

        flask-jwt-extended's ``jwt.init_app(app)`` hooks into Flask; jwt_wsgi wraps the
        app's ``wsgi_app`` with :class:`~jwt_wsgi.JWTMiddleware` and a routes table.
        """
        raise TypeError(init_app_message())

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
            fetcher = self._fetcher_of(found[1])
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

    def check_revoked(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        """Raise :class:`RevokedTokenError` if revoked; fail closed if the store cannot say.

        A token that carries a ``refresh_jti`` claim (an access token minted from a refresh
        token, see :data:`REFRESH_JTI_CLAIM`) is revoked too when that refresh token is.
        """
        try:
            jti, parent = claims.get("jti"), claims.get(REFRESH_JTI_CLAIM)
            family = claims.get(FAMILY_CLAIM)
            if parent is None and family is None:  # the usual token: one lookup at most
                revoked = isinstance(jti, str) and bool(self.blocklist.contains(jti))
            else:
                jtis = [j for j in (jti, parent) if isinstance(j, str)]
                if isinstance(family, str):
                    jtis.append(FAMILY_KEY + family)
                if len(jtis) > 1 and callable(getattr(self.blocklist, "contains_any", None)):
                    revoked = bool(self.blocklist.contains_any(jtis))  # type: ignore[attr-defined]
                else:
                    revoked = any(self.blocklist.contains(j) for j in jtis)
            if not revoked:
                revoked = self._issued_before_watermark(claims)
            if not revoked and self._blocklist_loader is not None:
                # Any truthy answer revokes, as in flask-jwt-extended: redis.exists() gives 1,
                # an ORM lookup gives a row. Reading only ``True`` would fail open. Deep
                # copies: what the loader does to them must not reach the token cache.
                revoked = bool(self._blocklist_loader(copy_json(header), copy_json(claims)))
        except Exception as exc:
            logger.warning("revocation store failed (%s); refusing with 503", type(exc).__name__)
            raise ServiceUnavailableError("Token revocation status unavailable") from exc
        if revoked:
            raise RevokedTokenError()

    def revoke(self, token_or_claims: str | bytes | Mapping[str, Any]) -> None:
        """Add a token's ``jti`` to the blocklist for as long as it could still verify:
        until its ``exp`` plus the ``leeway``.

        Revoking a refresh token also refuses every access token minted from it with
        ``additional_claims={"refresh_jti": <the refresh token's jti>}``, and, when it
        belongs to a rotation family (:meth:`rotate_refresh`), every token of the family.

        :param token_or_claims: an encoded token (verified first; an expired one is
            accepted) or its decoded claims.
        :raises ServiceUnavailableError: the store cannot be reached (nothing was revoked).
        """
        if isinstance(token_or_claims, (str, bytes, bytearray)):
            claims: Mapping[str, Any] = self.decode_token(token_or_claims, allow_expired=True)
        else:
            claims = token_or_claims
        jti = claims.get("jti")
        if not isinstance(jti, str):
            raise ValueError("the token has no jti claim and cannot be revoked")
        exp = claims.get("exp")
        # The verifier accepts a token until exp + leeway; the entry must outlive that.
        until = float(exp) + self.settings.leeway if isinstance(exp, (int, float)) else None
        try:
            self.blocklist.add(jti, until)
            family = claims.get(FAMILY_CLAIM)
            if claims.get("type") == "refresh" and isinstance(family, str):
                revoke_family(self, family)
        except Exception as exc:
            raise ServiceUnavailableError("Revocation store unavailable") from exc

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


    # -- log out everywhere (revoke_all) ------------------------------------------------

    def revoke_all(self, identity: Any, before: float | datetime.datetime | None = None) -> float:
        """Log out everywhere: refuse every token of ``identity`` issued before ``before``.

        A watermark is stored for the identity (through the same store, so every worker
        sees it as it sees a revocation); a token whose ``iat`` is earlier is refused, and
        a token without ``iat`` is refused whenever its identity has a watermark (its age
        cannot be told). ``iat`` is in whole seconds: a token minted in the same second
        as the watermark, even just after it, is refused too. The watermark lasts as long
        as the longest configured token lifetime plus the leeway (for good when tokens do
        not expire).

        :param before: a Unix time or an aware ``datetime``; now by default.
        :returns: the watermark, as a Unix time.
        :raises TypeError: the blocklist has no ``revoke_all``.
        :raises ServiceUnavailableError: the store cannot be reached (nothing was stored).
        """
        store_revoke_all = getattr(self.blocklist, "revoke_all", None)
        if not callable(store_revoke_all):
            raise TypeError(f"{type(self.blocklist).__name__} has no revoke_all(identity, "
                            "before, expires_at); MemoryBlocklist and RedisBlocklist have")
        if before is None:
            before = self.codec.clock()
        elif isinstance(before, datetime.datetime):
            before = before.timestamp()
        before = float(before)
        lifetimes = (self.settings.access_token_expires, self.settings.refresh_token_expires)
        until = None if None in lifetimes else before + self.settings.leeway + max(
            lifetime.total_seconds() for lifetime in lifetimes if lifetime is not None)
        try:
            store_revoke_all(identity_key(identity), before, until)
        except Exception as exc:
            raise ServiceUnavailableError("Revocation store unavailable") from exc
        return before

    def _issued_before_watermark(self, claims: Mapping[str, Any]) -> bool:
        revoked_before = getattr(self.blocklist, "revoked_before", None)
        identity = claims.get(self.settings.identity_claim)
        if revoked_before is None or identity is None:
            return False
        before = revoked_before(identity_key(identity))
        if before is None:
            return False
        iat = claims.get("iat")
        return isinstance(iat, bool) or not isinstance(iat, (int, float)) or iat < before


def identity_key(identity: Any) -> str:
    """The identity as the store keys it: a string as is, anything else as compact JSON."""
    if isinstance(identity, str):
        return identity
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)


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
