"""Revocation stores: ``add(jti, expires_at)`` and ``contains(jti) -> bool``.

:class:`MemoryBlocklist` serves one process; :class:`RedisBlocklist` shares revocations
between workers and machines. A store that cannot answer raises, and the middleware
fails closed (503): a revoked token is never let through because the store is down.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigError


@runtime_checkable
class Blocklist(Protocol):
    """What a revocation store provides."""

    def add(self, jti: str, expires_at: float | None) -> None: ...

    def contains(self, jti: str) -> bool: ...


class MemoryBlocklist:
    """Revoked ``jti`` values for one process; entries leave when their token expires.

    :param max_entries: a bound on the entries kept. Expired entries are dropped first;
        if the store is still full, :meth:`add` raises ``RuntimeError`` rather than forget
        a revocation that is still in force, so a flood of revocations cannot grow memory
        without end and cannot silently un-revoke a token either.
    :param no_expiry_seconds: how long to keep a token that has no ``exp``; ``None``
        (the default) keeps it for good, since such a token never stops verifying.
    """

    def __init__(self, max_entries: int = 1_000_000,
                 no_expiry_seconds: float | None = None) -> None:
        if max_entries <= 0:
            raise ConfigError("max_entries must be positive")
        _check_no_expiry(no_expiry_seconds)
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._max = max_entries
        self._no_expiry = no_expiry_seconds

    def add(self, jti: str, expires_at: float | None) -> None:
        now = time.time()
        if expires_at is not None:
            until = expires_at
        else:
            until = math.inf if self._no_expiry is None else now + self._no_expiry
        if until <= now:
            return
        with self._lock:
            self._purge(now)
            current = self._expiry.get(jti)
            if current is None and len(self._expiry) >= self._max:
                raise RuntimeError("MemoryBlocklist is full; use RedisBlocklist or raise max_entries")
            if current is None or until > current:
                self._expiry[jti] = until
                heapq.heappush(self._heap, (until, jti))

    def contains(self, jti: str) -> bool:
        until = self._expiry.get(jti)
        return until is not None and until > time.time()

    def contains_any(self, jtis: Iterable[str]) -> bool:
        return any(self.contains(jti) for jti in jtis)

    def __len__(self) -> int:
        with self._lock:
            self._purge(time.time())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            until, jti = heapq.heappop(self._heap)
            if self._expiry.get(jti) == until:
                del self._expiry[jti]


class RedisBlocklist:
    """Revoked ``jti`` values in Redis, shared by every worker; keys expire with the token.

    Connections come from one bounded pool per store (per worker process); every command
    has a socket timeout, waiting for a free connection is bounded by the same timeout,
    and a broken pooled connection is retried once at once (Redis restarted), never with
    a backoff. When Redis cannot answer, the error reaches the manager, which fails closed
    with a 503: a revoked token is never let through because Redis is down.

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
    :param prefix: prepended to every key.
    :param timeout: seconds for connecting, for each command and for a free connection.
    :param max_connections: the size of the connection pool.
    :param client: an existing ``redis.Redis`` client instead of ``url`` (its own timeouts apply).
    :param no_expiry_seconds: how long to keep a token that has no ``exp``; ``None``
        (the default) keeps it for good, since such a token never stops verifying.

    ::

        jwt = JWTManager(secret_key=..., blocklist=RedisBlocklist("redis://10.0.0.5:6379/0"))
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "jwt_wsgi:revoked:",
                 timeout: float = 1.0, client: Any = None,
                 no_expiry_seconds: int | None = None, max_connections: int = 50) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:  # pragma: no cover - redis is a dependency
            raise ConfigError("RedisBlocklist needs the 'redis' package: pip install redis") from None
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= 60):
            raise ConfigError("timeout must be a number of seconds between 0 and 60")
        if max_connections <= 0:
            raise ConfigError("max_connections must be positive")
        _check_no_expiry(no_expiry_seconds)
        if client is None:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigError("url must start with redis://, rediss:// or unix://")
            try:
                pool = redis.BlockingConnectionPool.from_url(
                    url, max_connections=max_connections, timeout=timeout,
                    socket_timeout=timeout, socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                    health_check_interval=30)
            except ValueError as exc:
                raise ConfigError(f"url is not a usable Redis URL: {exc}") from None
            client = redis.Redis(connection_pool=pool)
        self._client = client
        self._prefix = prefix
        self._no_expiry = no_expiry_seconds

    def add(self, jti: str, expires_at: float | None) -> None:
        # Whole seconds, rounded up: the key must never expire before the token does.
        if expires_at is None:
            if self._no_expiry is None:
                self._client.set(self._prefix + jti, b"1")
                return
            ttl = self._no_expiry
        else:
            ttl = math.ceil(expires_at - time.time())
        if ttl > 0:
            self._client.set(self._prefix + jti, b"1", ex=ttl)

    def contains(self, jti: str) -> bool:
        return bool(self._client.exists(self._prefix + jti))

    def contains_any(self, jtis: Iterable[str]) -> bool:
        """One round trip for several ``jti`` values (a token and its refresh token)."""
        return bool(self._client.exists(*(self._prefix + jti for jti in jtis)))

    @property
    def redis_client(self) -> Any:
        """The Redis client, shared with what else needs this store's Redis (rotation)."""
        return self._client

    def close(self) -> None:
        """Close the pooled connections (after a fork, or at shutdown)."""
        self._client.close()


def _check_no_expiry(seconds: float | None) -> None:
    if seconds is not None and not seconds > 0:
        raise ConfigError("no_expiry_seconds must be positive, or None to keep such entries for good")
