"""Minting on a manager: access and refresh tokens, and a login's token pair.

Mixed into :class:`~jwt_wsgi.JWTManager`. The claim layout is flask-jwt-extended 4.x's
(``fresh``, ``iat``, ``jti``, ``type``, the identity claim, ``nbf``, ``exp``, ``csrf``),
so tokens pass both ways between the two libraries.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .durations import span
from .errors import ConfigError
from .revoking import REFRESH_JTI_CLAIM
from .rotation import FAMILY_CLAIM
from .settings import Settings
from .tokens import TokenCodec, lifetime_problem, new_jti


class Minting:
    """``create_access_token``, ``create_refresh_token`` and ``create_token_pair`` of
    :class:`~jwt_wsgi.JWTManager`."""

    settings: Settings
    _claims_loader: Callable[[Any], Mapping[str, Any]] | None
    _headers_loader: Callable[[Any], Mapping[str, Any]] | None
    _identity_loader: Callable[[Any], Any] | None

    if TYPE_CHECKING:  # the manager's own
        @property
        def codec(self) -> TokenCodec: ...

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
        bound = s.max_token_lifetime
        problem = None if bound is None else lifetime_problem(claims, bound.total_seconds())
        if bound is not None and problem is not None:
            # Refused rather than shortened: a caller who asked for a longer token learns
            # it now, not from users whose sessions end early.
            raise ValueError(f"{problem}: max_token_lifetime is {span(bound.total_seconds())}"
                             f" and this {token_type} token would be refused; give a shorter "
                             "expires_delta")
        headers = dict(self._headers_loader(user)) if loaders and self._headers_loader else {}
        headers.update(additional_headers or {})
        return self.codec.encode(claims, headers)

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


def check_lifetime_bound(settings: Settings) -> None:
    """A manager that signs must be able to mint its default access token.

    :raises ConfigError: ``access_token_expires`` is never, or over ``max_token_lifetime``.
    """
    bound, lifetime = settings.max_token_lifetime, settings.access_token_expires
    if bound is not None and (lifetime is None or lifetime > bound):
        shown = "never" if lifetime is None else span(lifetime.total_seconds())
        raise ConfigError(f"access_token_expires ({shown}) is over max_token_lifetime "
                          f"({span(bound.total_seconds())}): every access token minted here would be "
                          "refused; shorten access_token_expires or raise the bound")
