"""Revocation stores: ``add(jti, expires_at)`` and ``contains(jti) -> bool``.

:class:`MemoryBlocklist` serves one process; :class:`RedisBlocklist` shares revocations
between workers and machines. A store that cannot answer raises, and the middleware
fails closed (503): a revoked token is never let through because the store is down.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from .errors import ConfigError
from .redis_blocklist import RedisBlocklist, StaleReplicaError
from .workers import warn_if_one_of_several

__all__ = ["Blocklist", "MemoryBlocklist", "RedisBlocklist", "StaleReplicaError"]


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

    Entries age by the clock of the manager that uses the store (``JWTManager(clock=...)``
    hands it over with :meth:`use_clock`): the expiry times given to :meth:`add` and
    :meth:`revoke_all` are that clock's, so reading them against another one would drop a
    revocation still in force.
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
        self._built_pid = os.getpid()
        #: identity -> (issued-before, expiry): the watermarks of ``revoke_all``.
        self._marks: dict[str, tuple[float, float]] = {}
        self._clock: Callable[[], float] = time.time

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Age entries by ``clock`` (the manager's) instead of ``time.time``."""
        self._clock = clock

    def add(self, jti: str, expires_at: float | None) -> None:
        # This store is one process's: under several workers, say so once (a logged WARNING).
        warn_if_one_of_several(self._built_pid)
        now = self._clock()
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
        return until is not None and until > self._clock()

    def contains_any(self, jtis: Iterable[str]) -> bool:
        return any(self.contains(jti) for jti in jtis)

    def revoke_all(self, identity: str, before: float, expires_at: float | None) -> None:
        """Refuse every token of ``identity`` issued before ``before`` until ``expires_at``."""
        until = math.inf if expires_at is None else expires_at
        with self._lock:
            now = self._clock()
            for who in [who for who, mark in self._marks.items() if mark[1] <= now]:
                del self._marks[who]
            current = self._marks.get(identity)
            if current is None or before >= current[0]:
                self._marks[identity] = (before, max(until, current[1] if current else until))

    def revoked_before(self, identity: str) -> float | None:
        mark = self._marks.get(identity)
        return mark[0] if mark is not None and mark[1] > self._clock() else None

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            until, jti = heapq.heappop(self._heap)
            if self._expiry.get(jti) == until:
                del self._expiry[jti]


def _check_no_expiry(seconds: float | None) -> None:
    if seconds is not None and not seconds > 0:
        raise ConfigError("no_expiry_seconds must be positive, or None to keep such entries for good")
