"""Revocation on a manager: checking a token against the store, revoking one, and
logging an identity out everywhere (``revoke_all``).

Mixed into :class:`~jwt_wsgi.JWTManager`. A store that cannot answer fails closed: the
check raises :class:`~jwt_wsgi.errors.ServiceUnavailableError` (503), never lets a token in.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .blocklist import Blocklist
from .cache import copy_json
from .errors import RevokedTokenError, ServiceUnavailableError
from .rotation import FAMILY_CLAIM, FAMILY_KEY, revoke_family
from .settings import Settings
from .tokens import RESERVED_JTI_PREFIXES, TokenCodec

logger = logging.getLogger("jwt_wsgi")

#: The claim linking an access token to the refresh token it was minted from; revoking
#: that refresh token revokes the access token too.
REFRESH_JTI_CLAIM = "refresh_jti"


class Probe(NamedTuple):
    """What revocation asks the store about one token (see
    :meth:`Revoking.revocation_probe`)."""

    #: The token's ``jti``, the ``refresh_jti`` it was minted from, its rotation family.
    jtis: tuple[str, ...]
    #: The identity as the store keys watermarks (``None``: the store keeps none).
    who: str | None
    #: The ``iat`` claim as given, compared with a watermark.
    iat: Any


#: Builds a :class:`Probe` without NamedTuple's keyword-handling ``__new__`` (one per
#: verified token).
_new_probe = tuple.__new__


class Revoking:
    """``check_revoked``, ``revoke`` and ``revoke_all`` of :class:`~jwt_wsgi.JWTManager`."""

    settings: Settings
    blocklist: Blocklist
    issuers: Mapping[str, Any]
    _blocklist_loader: Callable[[dict[str, Any], dict[str, Any]], bool] | None

    if TYPE_CHECKING:  # the manager's own
        @property
        def codec(self) -> TokenCodec: ...

        def decode_token(self, token: str | bytes,
                         allow_expired: bool = False) -> dict[str, Any]: ...

    def check_revoked(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        """Raise :class:`RevokedTokenError` if revoked; fail closed if the store cannot say.

        A token that carries a ``refresh_jti`` claim (an access token minted from a refresh
        token, see :data:`REFRESH_JTI_CLAIM`) is revoked too when that refresh token is.
        """
        try:
            revoked = self.is_revoked(self.revocation_probe(claims), header, claims)
        except Exception as exc:
            logger.warning("revocation store failed (%s); refusing with 503", type(exc).__name__)
            raise ServiceUnavailableError("Token revocation status unavailable") from exc
        if revoked:
            raise RevokedTokenError()

    def revocation_probe(self, claims: Mapping[str, Any]) -> Probe:
        """What the store is asked about a token: worked out once per verified token, so
        that a token seen again (the middleware's verdict memo) asks the store only."""
        jti, parent, family = (claims.get("jti"), claims.get(REFRESH_JTI_CLAIM),
                               claims.get(FAMILY_CLAIM))
        if parent is None and family is None:  # the usual token (no generator: hot path)
            jtis: tuple[str, ...] = (jti,) if isinstance(jti, str) else ()
        else:
            jtis = tuple(j for j in (jti, parent) if isinstance(j, str))
            if isinstance(family, str):
                jtis += (FAMILY_KEY + family,)
        identity = claims.get(self.settings.identity_claim)
        marks = identity is not None and callable(getattr(self.blocklist, "revoked_before", None))
        return _new_probe(Probe, (jtis, identity_key(identity) if marks else None,
                                  claims.get("iat")))

    def is_revoked(self, probe: Probe, header: dict[str, Any], claims: dict[str, Any]) -> bool:
        """Whether the store (or the ``token_in_blocklist_loader``) revokes the token of
        ``probe``; a store that fails raises (callers fail closed)."""
        jtis, who, iat = probe
        store = self.blocklist
        if len(jtis) == 1:  # the usual token: one lookup
            if store.contains(jtis[0]):
                return True
        elif jtis:
            contains_any = getattr(store, "contains_any", None)
            if callable(contains_any):
                if contains_any(jtis):
                    return True
            elif any(store.contains(j) for j in jtis):
                return True
        if who is not None:
            before = store.revoked_before(who)  # type: ignore[attr-defined]
            # A token without a usable iat cannot be told apart from an old one.
            if before is not None and (isinstance(iat, bool) or not isinstance(
                    iat, (int, float)) or iat < before):
                return True
        loader = self._blocklist_loader
        # Any truthy answer revokes, as in flask-jwt-extended: redis.exists() gives 1, an
        # ORM lookup gives a row. Reading only ``True`` would fail open. Deep copies: what
        # the loader does to them must not reach the token cache.
        return loader is not None and bool(loader(copy_json(header), copy_json(claims)))

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
        if jti.startswith(RESERVED_JTI_PREFIXES):  # would name a family or a used token
            raise ValueError("the token's jti is not one this store can revoke")
        exp = claims.get("exp")
        # The verifier accepts a token until exp + leeway; the entry must outlive that.
        until = float(exp) + self.settings.leeway if isinstance(exp, (int, float)) else None
        try:
            self.blocklist.add(jti, until)
            # Families are this manager's own: another issuer's token naming one (its
            # issuer chose the claim) must not end a family of ours.
            family, iss = claims.get(FAMILY_CLAIM), claims.get("iss")
            foreign = isinstance(iss, str) and iss in self.issuers
            if claims.get("type") == "refresh" and isinstance(family, str) and not foreign:
                revoke_family(self, family)
        except Exception as exc:
            raise ServiceUnavailableError("Revocation store unavailable") from exc

    def revoke_all(self, identity: Any, before: float | datetime.datetime | None = None) -> float:
        """Log out everywhere: refuse every token of ``identity`` issued before ``before``.

        A watermark is stored for the identity (through the same store, so every worker
        sees it as it sees a revocation); a token whose ``iat`` is earlier is refused, and
        a token without ``iat`` is refused whenever its identity has a watermark (its age
        cannot be told). ``iat`` is in whole seconds (cut, not rounded): a token minted in
        the same second as the watermark, even just after it, is refused too, unless the
        watermark is itself a whole second (``before=1700000000``), when every token minted
        from then on passes. The watermark lasts as long
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


def identity_key(identity: Any) -> str:
    """The identity as the store keys it: a string as is, anything else as compact JSON."""
    if isinstance(identity, str):
        return identity
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
