"""RedisBlocklist: revocations shared through Redis, answered from a local replica."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError
from .replica import Replica, StaleReplicaError


class RedisBlocklist:
    """Revoked ``jti`` values in Redis, shared by every worker and host.

    Each key is ``<prefix><jti>`` and expires with the token, so an operator's
    ``redis-cli SET jwt_wsgi:revoked:<jti> 1 EX 600`` revokes in every worker. Each worker
    process keeps a replica of the revoked set (see :mod:`jwt_wsgi.replica`): loaded when
    the process first checks a token, kept current by what Redis pushes, so
    :meth:`contains` is a dictionary lookup. A revocation reaches every worker within
    milliseconds; if a worker cannot prove its view is younger than ``max_staleness``
    seconds (Redis down, frozen, unreachable), :meth:`contains` raises and the manager
    answers 503 until the view is current again: never a stale 200.

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
    :param prefix: prepended to every ``jti``; watermarks of
        :meth:`~jwt_wsgi.JWTManager.revoke_all` live under ``<prefix without its last
        ':'>-before:`` (``jwt_wsgi:revoked-before:<identity>``).
    :param timeout: seconds for connecting and for each command.
    :param max_staleness: seconds a worker's view may lag behind Redis before it fails
        closed (default 2). A heartbeat goes every quarter of it.
    :param max_connections: the size of the pool for writes (``url`` only).
    :param client: instead of ``url``, a ``redis.Redis``, a
        ``redis.cluster.RedisCluster``, or a Sentinel ``master_for(...)`` client.
    :param no_expiry_seconds: how long to keep a token that has no ``exp``; ``None``
        (the default) keeps it for good, since such a token never stops verifying.

    The server must allow ``CLIENT TRACKING`` (Redis 6+), ``SUBSCRIBE``, ``SCAN``,
    ``PTTL``, ``INFO``; ``CONFIG`` is not needed. ::

        jwt = JWTManager(secret_key=..., blocklist=RedisBlocklist("redis://10.0.0.5:6379/0"))
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "jwt_wsgi:revoked:",
                 timeout: float = 1.0, client: Any = None,
                 no_expiry_seconds: int | None = None, max_connections: int = 50,
                 max_staleness: float = 2.0) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:  # pragma: no cover - redis is a dependency
            raise ConfigError("RedisBlocklist needs the 'redis' package: pip install redis") from None
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= 60):
            raise ConfigError("timeout must be a number of seconds between 0 and 60")
        if not (isinstance(max_staleness, (int, float)) and 0.05 <= max_staleness <= 3600):
            raise ConfigError("max_staleness must be a number of seconds between 0.05 and 3600")
        if max_connections <= 0:
            raise ConfigError("max_connections must be positive")
        if no_expiry_seconds is not None and not no_expiry_seconds > 0:
            raise ConfigError("no_expiry_seconds must be positive, or None to keep such "
                              "entries for good")
        if not (isinstance(prefix, str) and prefix.strip(":")):
            raise ConfigError("prefix must be a non-empty string")
        if not prefix.endswith(":"):
            # Without it the watermark prefix ("app:revoked-before:") starts with this
            # one: Redis refuses to track overlapping prefixes (every request would get
            # 503), and a jti "-before:x" would name a watermark's key.
            raise ConfigError(f"prefix must end with ':', such as {prefix + ':'!r}")
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
        elif not hasattr(client, "set"):
            raise ConfigError("client must be a redis.Redis, a redis.cluster.RedisCluster or a "
                              "Sentinel master_for(...) client")
        self._client = client
        self._prefix = prefix
        self._mark_prefix = prefix[:-1] + "-before:" if prefix.endswith(":") else prefix + "-before:"
        self._no_expiry = no_expiry_seconds
        self.replica = Replica(self._nodes, (prefix, self._mark_prefix), self._restore,
                               float(max_staleness), float(timeout))

    # -- the request path ------------------------------------------------------------

    def contains(self, jti: str) -> bool:
        replica = self.replica
        if time.monotonic() > replica.fresh_until:
            replica.check_fresh()  # raises StaleReplicaError: the manager answers 503
        until = replica.revoked.get(jti)
        return until is not None and until > time.time()

    def contains_any(self, jtis: Iterable[str]) -> bool:
        return any(self.contains(jti) for jti in jtis)

    def revoked_before(self, identity: str) -> float | None:
        """The watermark of :meth:`~jwt_wsgi.JWTManager.revoke_all` for ``identity``."""
        replica = self.replica
        if time.monotonic() > replica.fresh_until:
            replica.check_fresh()
        mark = replica.marks.get(identity)
        return mark[0] if mark is not None and mark[1] > time.time() else None

    # -- writing ---------------------------------------------------------------------

    def add(self, jti: str, expires_at: float | None) -> None:
        until = self._until(expires_at)
        if until is None:
            return
        self._set(self._prefix + jti, b"1", until)
        self.replica.note(jti, until)
        self.replica.start()  # a worker that revokes keeps its revocations (see _write_back)

    def revoke_all(self, identity: str, before: float, expires_at: float | None) -> None:
        """Refuse every token of ``identity`` issued before ``before`` (a watermark)."""
        until = self._until(expires_at)
        if until is None:
            return
        # A later watermark never goes back in time: GET-compare-SET would race, so the
        # value only grows through a small script.
        key = self._mark_prefix + identity
        ttl = 0 if until == math.inf else max(1, math.ceil((until - time.time()) * 1000))
        self._client.eval(RAISE_WATERMARK, 1, key, repr(float(before)), ttl)
        self.replica.note_mark(identity, before, until)
        self.replica.start()

    def contains_now(self, jti: str) -> bool:
        """Ask Redis itself, not the replica: for rare decisions that must not wait for a
        push (rotating a refresh token whose family another worker just ended)."""
        return bool(self._client.exists(self._prefix + jti))

    @property
    def redis_client(self) -> Any:
        """The Redis client, shared with what else needs this store's Redis (rotation)."""
        return self._client

    def start(self) -> None:
        """Start following Redis now (otherwise it starts with the first check)."""
        self.replica.start()

    def close(self) -> None:
        """Stop following and close the pooled connections (after a fork, or at shutdown)."""
        self.replica.close()
        self._client.close()

    def _until(self, expires_at: float | None) -> float | None:
        now = time.time()
        if expires_at is None:
            return math.inf if self._no_expiry is None else now + self._no_expiry
        return expires_at if expires_at > now else None

    def _set(self, key: str, value: bytes, until: float, only_new: bool = False) -> None:
        # Whole milliseconds, rounded up: the key must never expire before the token does.
        px = None if until == math.inf else max(1, math.ceil((until - time.time()) * 1000))
        self._client.set(key, value, px=px, nx=only_new)

    # -- for the replica ---------------------------------------------------------------

    def _nodes(self, refresh: bool) -> list[Any]:
        """The node clients to follow: the Cluster's primaries, or the one client."""
        client = self._client
        if hasattr(client, "get_primaries"):  # redis.cluster.RedisCluster
            if refresh:
                client.nodes_manager.initialize()
            return [client.get_redis_connection(node) for node in client.get_primaries()]
        return [client]

    def _restore(self, revoked: dict[str, float], marks: dict[str, tuple[float, float]]) -> None:
        """Write back what a Redis that lost data no longer holds (never overwriting)."""
        for jti, until in revoked.items():
            self._set(self._prefix + jti, b"1", until, only_new=True)
        for identity, (before, until) in marks.items():
            ttl = 0 if until == math.inf else max(1, math.ceil((until - time.time()) * 1000))
            self._client.eval(RAISE_WATERMARK, 1, self._mark_prefix + identity,
                              repr(before), ttl)


#: Set KEYS[1] to ARGV[1] unless it already holds a later time; ARGV[2] is the TTL in ms
#: (0: none). The TTL only grows too.
RAISE_WATERMARK = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then
  local ttl = tonumber(ARGV[2])
  local left = redis.call('PTTL', KEYS[1])
  if left >= 0 and (ttl == 0 or ttl > left) then
    if ttl == 0 then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ttl) end
  end
  return 0
end
if tonumber(ARGV[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""

__all__ = ["RedisBlocklist", "StaleReplicaError"]
