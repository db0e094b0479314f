"""Renewal: a new access token made from a verified one of ours, nothing gained or lost.

Implicit refresh (:func:`~jwt_wsgi.cookies.refresh_expiring_access_cookie`) replaces an
access token that is about to expire. Re-minting it from its identity alone would launder
it: a token from another issuer would come back signed by this manager, the link to the
refresh token it came from (``refresh_jti``) would be lost, and a renewed token could be
renewed for ever. A renewal here therefore:

- takes only tokens signed by this manager's own signing key and passing its own issuer
  and audience rules, re-verified from the token text (never an ``issuers=`` token);
- checks the clock and revocation again, ``refresh_jti`` included;
- keeps every claim as it was (identity, ``iss``, ``aud``, ``refresh_jti``, ``type``,
  ``csrf``, custom claims) and every header parameter but ``alg``/``typ``/``kid``;
  only ``iat``, ``nbf``, ``exp`` and ``jti`` are new;
- keeps freshness as long as it was and no longer: ``fresh: true`` becomes the old
  token's ``exp`` (a NumericDate, as flask-jwt-extended reads it), a timestamp stays;
- never reaches past the session's bound: ``auth_time`` (the first token's ``iat``,
  carried from renewal to renewal) plus ``max_session``. At the bound nothing is renewed
  and the token expires on its own.
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .keys import PublicKey, Signer, Verifier, verifier
from .settings import Settings
from .tokens import RESERVED_ENCODE_HEADERS, TokenCodec, is_numeric_date, new_jti

if TYPE_CHECKING:
    from .manager import JWTManager

logger = logging.getLogger("jwt_wsgi")

#: The claim that carries the start of a session across renewals (OIDC Core 2: the time
#: of the authentication). Absent on a first token, whose ``iat`` is the start.
AUTH_TIME_CLAIM = "auth_time"
#: The longest session when ``max_session`` is not given and refresh tokens never expire.
DEFAULT_MAX_SESSION = datetime.timedelta(days=30)
# Header parameters the codec sets itself on every token it signs.
_SET_BY_CODEC = frozenset({"alg", "typ", "kid", *RESERVED_ENCODE_HEADERS})


class _SignAgain:
    """HMAC verification by signing again: the one key this manager signs with, nothing
    else it may also verify with."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def verify(self, msg: bytes, sig: bytes) -> bool:
        return hmac.compare_digest(self._signer.sign(msg), sig)


def own_codec(settings: Settings, signer: Signer | None, public_key: PublicKey | None,
              signing_headers: Mapping[str, Any] | None) -> TokenCodec | None:
    """A codec that verifies only what this signing key signed, with the manager's own
    issuer and audience rules (``None`` when the manager cannot sign).

    :param public_key: the signing key's public half; ``None`` for an HMAC secret.
    """
    if signer is None:
        return None
    algorithm = settings.algorithm
    own = verifier(public_key, algorithm) if public_key is not None else _SignAgain(signer)

    def find(alg: str, kid: Any) -> Verifier | None:
        return own if alg == algorithm else None

    return TokenCodec(settings, find, signer, signing_headers)


class NotRenewable(Exception):
    """Why a token is not renewed (a fixed reason; never token material)."""


def renew_access_token(manager: JWTManager, token: str, *,
                       max_session: datetime.timedelta | None = None) -> str:
    """A new access token for a valid access token this manager signed.

    :param token: the compact token, as the request sent it.
    :param max_session: the longest a session may last from its first token's ``iat``;
        by default ``refresh_token_expires`` (or :data:`DEFAULT_MAX_SESSION` when refresh
        tokens never expire).
    :raises NotRenewable: the token may not or need not be renewed.
    :raises JWTWSGIError: the token is invalid, expired or revoked, or the revocation
        store cannot say.
    """
    codec = manager.own_codec
    if codec is None:
        raise NotRenewable("this manager cannot sign")
    header, claims = codec.verify(token)  # our key, our issuer and audience rules
    manager.check_now(header, claims)  # the clock and revocation, refresh_jti included
    if claims.get("type") != "access":
        raise NotRenewable("not an access token")
    s = manager.settings
    now = int(manager.clock())
    exp, iat = claims.get("exp"), claims.get("iat")
    if exp is None:
        raise NotRenewable("the token never expires")
    start = claims.get(AUTH_TIME_CLAIM, iat)
    if not is_numeric_date(start) or start > now:
        raise NotRenewable("the token says nothing usable of when its session began")
    if s.access_token_expires is not None:
        lifetime = int(s.access_token_expires.total_seconds())
    elif is_numeric_date(iat):
        lifetime = int(exp - iat)
    else:
        raise NotRenewable("no lifetime to renew for")
    if max_session is None:
        max_session = s.refresh_token_expires or DEFAULT_MAX_SESSION
    new_exp = min(now + lifetime, int(start + max_session.total_seconds()))
    if new_exp <= exp:
        raise NotRenewable("the session is at its bound")
    renewed = dict(claims)
    renewed.update({"iat": now, "jti": new_jti(), "exp": new_exp, AUTH_TIME_CLAIM: start})
    if "nbf" in claims:
        renewed["nbf"] = now
    if claims.get("fresh") is True:
        renewed["fresh"] = exp  # fresh exactly as long as the token it replaces was
    headers = {name: value for name, value in header.items() if name not in _SET_BY_CODEC}
    return codec.encode(renewed, headers)

