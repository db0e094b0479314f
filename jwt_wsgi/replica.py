"""The local replica of the revoked set that :class:`~jwt_wsgi.blocklist.RedisBlocklist`
answers from, kept current by what Redis pushes.

Mechanism: client-side caching in broadcast mode. On each Redis node (one for a single
server or a Sentinel master, every primary of a Cluster) one connection runs
``CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX <prefix>`` and subscribes to
``__redis__:invalidate``: Redis then names every key under the prefixes that is set,
deleted, expired or evicted, whoever wrote it (``redis-cli`` included). A second
connection reads the named keys back (``PTTL``, and ``GET`` for watermarks). Tracking is
switched on before the prefixes are scanned, so nothing written during the load is missed.

Why this and not keyspace notifications or a stream: notifications need
``CONFIG SET notify-keyspace-events``, which managed Redis services often refuse, and a
stream would miss an operator's plain ``SET``. Tracking needs only Redis 6 or later and
the ``CLIENT`` and ``SUBSCRIBE`` commands; in a Cluster it works node by node.

Freshness: every ``max_staleness / 4`` seconds each node gets a ``PING`` on the tracking
connection. Redis answers in order, so when the ``PONG`` arrives every invalidation for a
write acknowledged before the ``PING`` was sent has arrived before it and been applied. The
view is current as of the oldest such ``PING`` (over the nodes); past ``max_staleness``
from then, :meth:`Replica.check_fresh` raises and the request fails closed with a 503.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

logger = logging.getLogger("jwt_wsgi")

INVALIDATE = b"__redis__:invalidate"
#: Seconds between sweeps of expired entries out of the replica.
SWEEP_SECONDS = 10.0


class StaleReplicaError(RuntimeError):
    """The replica cannot vouch for revocations newer than ``max_staleness`` seconds."""


class Link:
    """One Redis node: a connection that receives invalidations and one that reads keys.

    Both are made here from the node client's connection class and settings (so TLS,
    passwords, Sentinel discovery carry over) but are this replica's own: RESP2, no
    retries, no health checks, and ``timeout`` on every socket operation.
    """

    def __init__(self, node: Any, timeout: float) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = node.connection_pool
        kwargs = {**pool.connection_kwargs, "protocol": 2, "decode_responses": False,
                  "socket_timeout": timeout, "socket_connect_timeout": timeout,
                  "health_check_interval": 0, "retry": Retry(NoBackoff(), 0)}
        for name in ("maint_notifications_config", "maint_notifications_pool_handler"):
            if name in kwargs:  # push-based extras that need RESP3
                kwargs[name] = None
        self.events = pool.connection_class(**kwargs)
        self.reads = pool.connection_class(**kwargs)
        self.ping_sent: float | None = None
        self.next_ping = 0.0
        self.fresh_since = -math.inf

    def open(self, prefixes: Sequence[str]) -> bytes:
        """Start tracking ``prefixes``; return the server's ``run_id`` (its identity)."""
        events = self.events
        # connect() first: a Sentinel connection finds the master there, not on first use.
        events.connect()
        self.reads.connect()
        info = call(events, "INFO", "server")
        run_id = next((line.split(b":", 1)[1].strip() for line in info.splitlines()
                       if line.startswith(b"run_id:")), b"")
        client_id = call(events, "CLIENT", "ID")
        call(events, "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST",
             *(word for prefix in prefixes for word in ("PREFIX", prefix)))
        call(events, "SUBSCRIBE", INVALIDATE)
        return bytes(run_id)

    def scan(self, prefix: str) -> Iterable[list[bytes]]:
        """Every key under ``prefix``, a batch at a time."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        cursor: Any = b"0"
        while True:
            cursor, keys = call(self.reads, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            if keys:
                yield keys
            if cursor in (b"0", 0):
                return

    def read(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run commands in one pipeline on the reading connection."""
        reads = self.reads
        reads.send_packed_command(reads.pack_commands(commands))
        replies = []
        for _ in commands:
            replies.append(reads.read_response())
        return replies

    def close(self) -> None:
        for conn in (self.events, self.reads):
            with contextlib.suppress(Exception):  # a broken socket: nothing left to save
                conn.disconnect()


def call(conn: Any, *args: Any) -> Any:
    conn.send_command(*args, check_health=False)
    return conn.read_response()


class Flushed(Exception):
    """Redis dropped every key at once (FLUSHALL, FLUSHDB): handled like lost data."""


class Replica:
    """The revoked ``jti`` values and watermarks, and the thread that keeps them current.

    :param nodes: returns the node clients to follow (called at every resync).
    :param prefixes: ``(jti prefix, watermark prefix)``.
    :param restore: writes back entries that Redis lost: ``restore(revoked, marks)``.
    """

    def __init__(self, nodes: Callable[[bool], list[Any]], prefixes: tuple[str, str],
                 restore: Callable[[dict[str, float], dict[str, tuple[float, float]]], None],
                 max_staleness: float, timeout: float) -> None:
        self._nodes, self._prefixes, self._restore = nodes, prefixes, restore
        self.max_staleness, self.timeout = max_staleness, timeout
        #: jti -> expiry (unix time, ``inf`` for none); read without a lock.
        self.revoked: dict[str, float] = {}
        #: identity -> (issued-before, expiry).
        self.marks: dict[str, tuple[float, float]] = {}
        #: monotonic time until which the view is current enough.
        self.fresh_until = -math.inf
        self._run_ids: set[bytes] = set()
        self._links: list[Link] = []
        self._following = False
        self._wake: tuple[socket.socket, ...] = ()
        self._reset_process_state()
        _REPLICAS.add(self)

    def _reset_process_state(self) -> None:
        """Threads and locks belong to one process: start afresh (also after a fork)."""
        self._lock = threading.Lock()
        if self._wake:  # the parent's wake-up pair: this process's copies only
            for end in self._wake:
                end.close()
        # Written to by close(), so that the thread's select() returns at once.
        self._wake = socket.socketpair()
        self._wake[0].setblocking(False)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_deadline = 0.0
        # What this process revoked while a load was under way, merged into its result.
        self._syncing = False
        self._added: dict[str, float] = {}
        self._added_marks: dict[str, tuple[float, float]] = {}
        self._healthy = True
        self._write_back_due = False
        self.fresh_until = -math.inf
        for link in self._links:  # the parent's sockets: close our copy, never shut them down
            link.close()
        self._links = []

    # -- the request side ----------------------------------------------------------

    def check_fresh(self) -> None:
        """Return if the view is current; otherwise start following and fail closed.

        Only a process's first check waits (at most ``timeout``) for the first load.
        """
        if self._thread is None or not self._thread.is_alive():
            self.start()
        if not self._ready.is_set():
            self._ready.wait(max(0.0, self._first_deadline - time.monotonic()))
        if time.monotonic() > self.fresh_until:
            raise StaleReplicaError(
                f"revocation replica not current within {self.max_staleness} s")

    def start(self) -> None:
        """Start the following thread (once per process); returns at once."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            if self._thread is None:
                self._first_deadline = time.monotonic() + self.timeout
            self._thread = threading.Thread(target=self._run, name="jwt_wsgi-revocations",
                                            daemon=True)
            self._thread.start()

    def note(self, jti: str, until: float) -> None:
        """A revocation written by this process: visible here at once."""
        with self._lock:
            if until > self.revoked.get(jti, -math.inf):
                self.revoked[jti] = until
            if self._syncing:
                self._added[jti] = until

    def note_mark(self, identity: str, before: float, until: float) -> None:
        with self._lock:
            if before >= self.marks.get(identity, (-math.inf, 0.0))[0]:
                self.marks[identity] = (before, until)
            if self._syncing:
                self._added_marks[identity] = (before, until)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake[1].send(b"x")
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.max_staleness)
        self.fresh_until = -math.inf

    # -- the following thread -------------------------------------------------------

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # a wake-up left by an earlier close()
            self._wake[0].recv(64)
        failures = 0
        while not self._stop.is_set():
            self._following = False
            try:
                self._sync_and_follow(resync=bool(self._run_ids))
            except Exception as exc:  # noqa: BLE001 - any failure: resync, stale meanwhile
                if isinstance(exc, Flushed):
                    self._write_back_due = True
                if self._healthy:
                    logger.warning("revocation replica lost Redis (%s: %s); requests that need "
                                   "a revocation check get 503 after %s s until it is back",
                                   type(exc).__name__, exc, self.max_staleness)
                self._healthy = False
                failures = 1 if self._following else failures + 1
                self._stop.wait(min(0.02 * 2 ** min(failures, 8), self.max_staleness / 4))
            finally:
                for link in self._links:
                    link.close()
                self._links = []

    def _sync_and_follow(self, resync: bool) -> None:
        with self._lock:
            self._syncing, self._added, self._added_marks = True, {}, {}
        self._links = links = [Link(node, self.timeout) for node in self._nodes(resync)]
        run_ids = {link.open(self._prefixes) for link in links}
        revoked: dict[str, float] = {}
        marks: dict[str, tuple[float, float]] = {}
        for link in links:
            for prefix in self._prefixes:
                for keys in link.scan(prefix):
                    self._merge(keys, self._read(link, keys), revoked, marks)
        # A server not seen before (restarted, failed over) or a flush may have lost data:
        # what this process knew and Redis does not is written back, never forgotten.
        if self._write_back_due or not run_ids <= self._run_ids:
            self._write_back(revoked, marks)
        self._run_ids, self._write_back_due = run_ids, False
        with self._lock:
            revoked.update(self._added)
            marks.update(self._added_marks)
            self.revoked, self.marks = revoked, marks
            self._syncing, self._added, self._added_marks = False, {}, {}
        self._following = True
        self._follow(links)

    def _write_back(self, revoked: dict[str, float], marks: dict[str, tuple[float, float]]) -> None:
        now = time.time()
        with self._lock:
            known, known_marks = dict(self.revoked), dict(self.marks)
        lost = {jti: until for jti, until in known.items() if until > now and jti not in revoked}
        lost_marks = {who: mark for who, mark in known_marks.items()
                      if mark[1] > now and marks.get(who, (-math.inf,))[0] < mark[0]}
        if lost or lost_marks:
            logger.warning("Redis came back without %d revocations and %d watermarks this "
                           "worker knew; writing them back", len(lost), len(lost_marks))
            self._restore(lost, lost_marks)
            revoked.update(lost)
            marks.update(lost_marks)

    def _follow(self, links: list[Link]) -> None:
        interval = self.max_staleness / 4
        sockets = [link.events._sock for link in links] + [self._wake[0]]
        next_sweep = time.monotonic() + SWEEP_SECONDS
        while not self._stop.is_set():
            now = time.monotonic()
            for link in links:
                if link.ping_sent is None and now >= link.next_ping:
                    link.events.send_command("PING", check_health=False)
                    link.ping_sent = now
                elif link.ping_sent is not None and now - link.ping_sent > self.max_staleness:
                    raise TimeoutError("no heartbeat from Redis")
            changed: list[tuple[Link, list[bytes]]] = []
            for link in links:
                while link.events.can_read(0):
                    self._receive(link, link.events.read_response(), changed)
            for link, keys in changed:
                replies = self._read(link, keys)
                with self._lock:
                    self._merge(keys, replies, self.revoked, self.marks)
            self._publish(links)
            if now >= next_sweep:
                self._sweep()
                next_sweep = now + SWEEP_SECONDS
            waits = [(link.next_ping if link.ping_sent is None
                      else link.ping_sent + self.max_staleness) - now for link in links]
            select.select(sockets, [], [], max(0.0, min(interval, *waits)))

    def _receive(self, link: Link, message: Any, changed: list[tuple[Link, list[bytes]]]) -> None:
        kind = message[0] if isinstance(message, list) and message else message
        if kind == b"message" and message[1] == INVALIDATE:
            if message[2] is None:
                raise Flushed("Redis dropped every key")
            changed.append((link, message[2]))
        elif kind == b"pong":
            link.fresh_since = link.ping_sent if link.ping_sent is not None else link.fresh_since
            link.ping_sent = None
            link.next_ping = link.fresh_since + self.max_staleness / 4

    def _read(self, link: Link, keys: list[bytes]) -> list[Any]:
        """What Redis holds for ``keys`` now: ``PTTL`` each, and ``GET`` for watermarks."""
        mark_prefix = self._prefixes[1].encode()
        commands: list[tuple[Any, ...]] = []
        for key in keys:
            commands.append(("PTTL", key))
            if key.startswith(mark_prefix):
                commands.append(("GET", key))
        return link.read(commands)

    def _merge(self, keys: list[bytes], replies: list[Any], revoked: dict[str, float],
               marks: dict[str, tuple[float, float]]) -> None:
        jti_prefix, mark_prefix = (p.encode() for p in self._prefixes)
        answers = iter(replies)
        now = time.time()
        for key in keys:
            ttl = next(answers)
            until = math.inf if ttl == -1 else now + ttl / 1000
            if key.startswith(mark_prefix):
                identity = key[len(mark_prefix):].decode("utf-8", "surrogateescape")
                value = next(answers)
                if ttl == -2 or value is None:
                    marks.pop(identity, None)
                else:
                    marks[identity] = (_timestamp(value, key), until)
            elif key.startswith(jti_prefix):
                jti = key[len(jti_prefix):].decode("utf-8", "surrogateescape")
                if ttl == -2:
                    revoked.pop(jti, None)
                else:
                    revoked[jti] = until

    def _publish(self, links: list[Link]) -> None:
        fresh_until = min(link.fresh_since for link in links) + self.max_staleness
        if fresh_until > self.fresh_until:
            self.fresh_until = fresh_until
            self._ready.set()
            if not self._healthy:
                self._healthy = True
                logger.warning("revocation replica is current again")

    def _sweep(self) -> None:
        now = time.time()
        with self._lock:
            for jti in [jti for jti, until in self.revoked.items() if until <= now]:
                del self.revoked[jti]
            for who in [who for who, mark in self.marks.items() if mark[1] <= now]:
                del self.marks[who]


def _timestamp(value: bytes, key: bytes) -> float:
    try:
        before = float(value)
    except ValueError:
        before = math.nan
    if math.isnan(before):
        # Unreadable: refuse every token of the identity rather than guess.
        logger.warning("watermark %r is not a timestamp; refusing every token it covers", key)
        return math.inf
    return before


_REPLICAS: weakref.WeakSet[Replica] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for replica in list(_REPLICAS):
        replica._reset_process_state()


def _stop_all() -> None:
    for replica in list(_REPLICAS):
        replica._stop.set()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all)
