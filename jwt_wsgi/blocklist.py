"""Revocation stores: ``add(jti, expires_at)`` and ``contains(jti) -> bool``.

:class:`MemoryBlocklist` serves one process; :class:`RedisBlocklist` shares revocations
between workers and machines. A store that cannot answer raises, and the middleware
fails closed (503): a revoked token is never let through because the store is down.
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigError


@runtime_checkable
class Blocklist(Protocol):
    """What a revocation store provides."""

    def add(self, jti: str, expires_at: float | None) -> None: ...

    def contains(self, jti: str) -> bool: ...


class MemoryBlocklist:
    """Revoked ``jti`` values for one process; entries leave when their token expires.

    :param max_entries: a bound on the entries kept; past it, the entries closest to
        expiry are dropped first and a ``RuntimeError`` is raised if none has expired,
        so a flood of revocations cannot grow memory without end.
    :param no_expiry_seconds: how long to keep a token that has no ``exp``.
    """

    def __init__(self, max_entries: int = 1_000_000,
                 no_expiry_seconds: float = 365 * 86400) -> None:
        if max_entries <= 0:
            raise ConfigError("max_entries must be positive")
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._max = max_entries
        self._no_expiry = no_expiry_seconds

    def add(self, jti: str, expires_at: float | None) -> None:
        now = time.time()
        until = expires_at if expires_at is not None else now + self._no_expiry
        if until <= now:
            return
        with self._lock:
            self._purge(now)
            if len(self._expiry) >= self._max and jti not in self._expiry:
                raise RuntimeError("MemoryBlocklist is full; use RedisBlocklist or raise max_entries")
            self._expiry[jti] = max(until, self._expiry.get(jti, 0.0))
            heapq.heappush(self._heap, (self._expiry[jti], jti))

    def contains(self, jti: str) -> bool:
        until = self._expiry.get(jti)
        return until is not None and until > time.time()

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

    :param url: a ``redis://`` URL.
    :param prefix: prepended to every key.
    :param timeout: seconds for connecting and for each command; never an unbounded wait.
    :param client: an existing ``redis.Redis`` client instead of ``url``.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "jwt_wsgi:revoked:",
                 timeout: float = 1.0, client: Any = None,
                 no_expiry_seconds: int = 365 * 86400) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - redis is a dependency
            raise ConfigError("RedisBlocklist needs the 'redis' package: pip install redis") from None
        if timeout <= 0:
            raise ConfigError("timeout must be a positive number of seconds")
        if client is None:
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigError("url must start with redis://, rediss:// or unix://")
            pool = redis.ConnectionPool.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout,
                health_check_interval=30)
            client = redis.Redis(connection_pool=pool)
        self._client = client
        self._prefix = prefix
        self._no_expiry = no_expiry_seconds

    def add(self, jti: str, expires_at: float | None) -> None:
        ttl = self._no_expiry if expires_at is None else int(expires_at - time.time()) + 1
        if ttl > 0:
            self._client.set(self._prefix + jti, b"1", ex=ttl)

    def contains(self, jti: str) -> bool:
        return bool(self._client.exists(self._prefix + jti))
