"""Refresh-token rotation: each refresh token is used once; a second use ends its family.

Every refresh token that :meth:`~jwt_wsgi.JWTManager.rotate_refresh` mints carries a
``family`` claim naming the chain it belongs to (the first refresh token of a login
starts it). Rotating consumes the old token through a :class:`Ledger` whose ``consume``
is atomic across every process that shares it: Redis ``SET NX`` for a
:class:`~jwt_wsgi.blocklist.RedisBlocklist`, a lock for the in-memory store. When a
consumed token comes back, someone holds a copy of it (a thief, or a client that
replayed it): the whole family is revoked, the new pair included, and the answer goes
through ``refresh_token_reused_loader``. This is the reuse detection of the OAuth 2.0
Security Best Current Practice (RFC 9700 4.14.2).
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from .errors import (
    InvalidTokenError,
    JWTWSGIError,
    RefreshTokenReusedError,
    RevokedTokenError,
    ServiceUnavailableError,
    WrongTokenTypeError,
)
from .tokens import RESERVED_JTI_PREFIXES, new_jti

if TYPE_CHECKING:
    from .manager import JWTManager
    from .revoking import Revoking

#: The claim that names a token's family, on the refresh and access tokens of a rotation.
FAMILY_CLAIM = "family"
#: How a revoked family sits in the blocklist beside revoked ``jti`` values.
FAMILY_KEY = "family:"
#: How a used refresh token sits in the blocklist too: the ledger's ``SET NX`` decides
#: races, and this entry, replicated and written back by
#: :class:`~jwt_wsgi.blocklist.RedisBlocklist` when Redis loses data (a restart, a
#: FLUSHALL), keeps a used token used when the ledger has forgotten it.
CONSUMED_KEY = "consumed:"
assert (FAMILY_KEY, CONSUMED_KEY) == RESERVED_JTI_PREFIXES


class Ledger(Protocol):
    """Where used refresh tokens are remembered until they expire."""

    def consume(self, jti: str, expires_at: float | None) -> bool:
        """Mark ``jti`` used; ``True`` only for the first call, in every process."""


class MemoryLedger:
    """Used refresh tokens of one process, behind a lock; entries leave when they expire."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._used: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._max = max_entries

    def consume(self, jti: str, expires_at: float | None) -> bool:
        now = time.time()
        until = math.inf if expires_at is None else expires_at
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, old = heapq.heappop(self._heap)
                self._used.pop(old, None)
            if jti in self._used:
                return False
            if len(self._used) >= self._max:
                # Forgetting a used token would let it be used again: refuse instead.
                raise RuntimeError("MemoryLedger is full; use RedisBlocklist")
            self._used[jti] = until
            heapq.heappush(self._heap, (until, jti))
            return True


class RedisLedger:
    """Used refresh tokens in Redis: ``SET <prefix><jti> 1 NX EX <ttl>``, one key each.

    One key per token, so it works the same on a single Redis, behind Sentinel and in a
    Cluster (no command spans two slots). The keys live under their own prefix, outside
    the revoked set that workers replicate.
    """

    def __init__(self, client: Any, prefix: str = "jwt_wsgi:consumed:") -> None:
        self._client = client
        self._prefix = prefix

    def consume(self, jti: str, expires_at: float | None) -> bool:
        ttl = None if expires_at is None else max(1, math.ceil(expires_at - time.time()))
        return bool(self._client.set(self._prefix + jti, b"1", nx=True, ex=ttl))


def ledger_for(blocklist: Any) -> Ledger:
    """The ledger that shares a blocklist's reach: its Redis, or this process."""
    own = getattr(blocklist, "consume", None)
    if callable(own):
        return blocklist  # type: ignore[no-any-return]
    client = getattr(blocklist, "redis_client", None)
    if client is not None:
        return RedisLedger(client)
    return MemoryLedger()


#: Claims a rotation mints anew; every other claim of the old token carries over.
_MINTED = frozenset({"iat", "nbf", "exp", "jti", "type", "fresh", "csrf", "iss", "aud",
                     FAMILY_CLAIM, "refresh_jti"})


def rotate(manager: JWTManager, token: str) -> tuple[str, str]:
    """:meth:`JWTManager.rotate_refresh`: verify, consume once, mint the next pair."""
    # Only keys this manager signs or signed with: a token that a jwks, jwks_url or
    # public_key key verifies was minted elsewhere and must not come back signed by us.
    codec = manager.rotation_codec
    if codec is None:
        raise RuntimeError("this manager has no signing key: set secret_key or private_key")
    header, claims = codec.verify(token)
    try:
        manager.codec.check_times(claims)
        if claims.get("type") != "refresh":
            raise WrongTokenTypeError("Only refresh tokens are allowed")
        manager.check_revoked(header, claims)
        jti = claims.get("jti")
        family = claims.get(FAMILY_CLAIM, jti)  # a token from before rotation starts one
        if not isinstance(jti, str) or not jti or not isinstance(family, str) or not family:
            raise InvalidTokenError("Refresh token cannot be rotated")
        strong = getattr(manager.blocklist, "contains_now", None)
        try:
            ended = callable(strong) and bool(strong(FAMILY_KEY + family))
        except Exception as exc:
            raise ServiceUnavailableError("Revocation store unavailable") from exc
        if ended:
            raise RevokedTokenError()  # ended by another worker a moment ago
        exp = claims.get("exp")
        until = float(exp) + manager.settings.leeway if isinstance(exp, (int, float)) else None
        try:
            used = bool(manager.blocklist.contains(CONSUMED_KEY + jti))
            first = not used and manager.refresh_ledger.consume(jti, until)
            if first:
                manager.blocklist.add(CONSUMED_KEY + jti, until)
        except Exception as exc:
            raise ServiceUnavailableError("Refresh token store unavailable") from exc
        if not first:
            try:
                revoke_family(manager, family)
            except Exception as exc:  # still refused: the token was used before
                raise ServiceUnavailableError("Revocation store unavailable") from exc
            raise RefreshTokenReusedError()
    except JWTWSGIError as error:
        raise error.with_token(header, claims) from None
    identity = claims.get(manager.settings.identity_claim)
    carried = {name: value for name, value in claims.items()
               if name not in _MINTED and name != manager.settings.identity_claim}
    refresh_jti = new_jti()
    s = manager.settings
    refresh = manager._create("refresh", identity, False, None, s.refresh_token_expires,
                              {**carried, FAMILY_CLAIM: family, "jti": refresh_jti}, None,
                              loaders=False)
    access = manager._create("access", identity, False, None, s.access_token_expires,
                             {**carried, FAMILY_CLAIM: family, "refresh_jti": refresh_jti},
                             None, loaders=False)
    return access, refresh


def revoke_family(manager: Revoking, family: str) -> None:
    """Refuse every token of a family for as long as any of them could still verify."""
    lifetime = manager.settings.refresh_token_expires
    until = None if lifetime is None else (
        manager.codec.clock() + lifetime.total_seconds() + manager.settings.leeway)
    manager.blocklist.add(FAMILY_KEY + family, until)
