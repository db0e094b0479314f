"""Fetching and caching an identity provider's JWKS (``jwks_url``).

One :class:`JWKSFetcher` per URL keeps the last good key set in a :class:`~jwt_wsgi.keys.KeySet`:

* the set is used for ``jwks_cache_seconds``, or less when the response says
  ``Cache-Control: max-age`` (``no-store``/``no-cache`` count as 0), though never less than
  the shorter of ``jwks_cache_seconds`` and ``jwks_refetch_seconds``; once it expires it
  is fetched again, even inside the refetch cooldown, as long as the last fetch succeeded;
* a token whose ``kid`` is unknown triggers a refetch, but such refetches, and any fetch
  after a failed one, happen at most once per ``jwks_refetch_seconds`` across every
  thread, so a flood of made-up ``kid`` values (or a dead endpoint) costs the identity
  provider one request per cooldown;
* one fetch at a time, each within ``jwks_timeout`` for the whole exchange (connection,
  redirects, headers and body: :mod:`jwt_wsgi.outbound`); when the fetch fails (network error, non-200,
  not JSON, not a JWKS object, over 1 MiB) the last good set is kept (stale) and the
  failure is logged without any key material;
* a JWKS that was fetched is authoritative: it replaces the last set even when it holds no
  key usable here (empty, other algorithms, ``use: enc`` only), so a key the provider
  withdrew stops verifying; tokens are then refused as matching no key (401), and the next
  unknown ``kid`` after the cooldown fetches again;
* before any set was ever fetched, a token cannot be checked: the request fails closed
  with :class:`~jwt_wsgi.errors.ServiceUnavailableError` (503).

Only the configured URL is fetched; a token's ``jku``/``x5u`` headers are never followed.
The first fetch happens on the first request that needs a key (or :meth:`JWKSFetcher.refresh`),
so an application starts even while its identity provider is down.

Only a request that needs this key set waits for it: the first one (at most
``jwks_timeout``, then 503 as long as no set was ever fetched) and one whose ``kid`` is
new (rate-limited as above). After the first fetch a background refresher (one daemon
thread a fetcher, started then, stopped by :meth:`JWKSFetcher.close` or when the fetcher
is garbage) fetches the set again shortly before it expires, and retries once per
cooldown while the endpoint fails, so requests neither pay for a refresh nor stall on a
dead endpoint: they use the set they have. A set that expired anyway (the refresher was
late) is fetched by the next request that finds it so, without others waiting.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ServiceUnavailableError
from .keys import KeySet, Verifier
from .outbound import Deadline, HTTPHandler, HTTPSHandler

logger = logging.getLogger("jwt_wsgi.jwks")

MAX_JWKS_BYTES = 1024 * 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)
#: The shortest sleep of the refresher, so a clock that jumps cannot make it spin.
MIN_REFRESH_WAIT = 0.25
#: The longest ``kid`` shown in a log line (the rest is counted, not shown).
MAX_LOGGED_KID = 64
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def loggable(text: str, limit: int = MAX_LOGGED_KID) -> str:
    """Attacker-supplied text made safe for one log line: quoted, ASCII, control
    characters escaped, cut to ``limit`` characters (``kid`` values are header fields of
    unverified tokens)."""
    shown = text[:limit].encode("ascii", "backslashreplace").decode("ascii")
    shown = _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", shown)
    more = f"... ({len(text)} chars)" if len(text) > limit else ""
    return f"'{shown}'{more}"


def cache_lifetime(cache_control: str | None, ceiling: float) -> float:
    """Seconds to keep a response: ``max-age`` when shorter than ``ceiling``, else ``ceiling``."""
    if not cache_control:
        return ceiling
    if _NO_CACHE.search(cache_control):
        return 0.0
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return ceiling
    return min(ceiling, float(match.group(1)))


class JWKSFetcher:
    """Keeps ``keys`` filled from ``url``; its :meth:`find` is the key lookup of a manager.

    :param url: the JWKS URL (``https://issuer/.well-known/jwks.json``).
    :param keys: the key set whose fetched group this fetcher replaces.
    :param algorithms: the algorithms keys may be bound to.
    :param cache_seconds: the longest time a fetched set is used before it is fetched again.
    :param refetch_seconds: the least time between two fetches for an unknown ``kid``, and
        after a failed fetch.
    :param timeout: seconds for one fetch, connection and reading included.
    :param refresh_ahead: after the first fetch, keep the set fresh from a background
        thread (see the module's notes); ``False`` leaves every fetch to requests.
    """

    def __init__(self, url: str, keys: KeySet, algorithms: Iterable[str], *,
                 cache_seconds: float = 600.0, refetch_seconds: float = 30.0,
                 timeout: float = 5.0, refresh_ahead: bool = True) -> None:
        self.url = url
        #: The URL as logged: no user, password or query string (they may hold credentials).
        self.safe_url = _redact(url)
        self.keys = keys
        self.algorithms = tuple(algorithms)
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.timeout = timeout
        #: Monotonic clock; tests replace it to move time without sleeping.
        self.clock: Callable[[], float] = time.monotonic
        #: How many fetches were attempted (for tests and metrics).
        self.fetches = 0
        self._lock = threading.Lock()
        self._have_set = False  # a JWKS was fetched once (it may hold no usable key)
        self._usable = 0  # usable keys in the current fetched set
        self._last_ok = False  # the last fetch succeeded: expiry may skip the cooldown
        self._expires_at = -math.inf
        self._next_fetch = -math.inf
        self._last_body: bytes | None = None
        self._lifetime = 0.0  # how long the current set is used, from its fetch
        self._held_back_until = -math.inf  # the cooldown already logged for an unknown kid
        self.refresh_ahead = refresh_ahead
        self._refresher: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        # One opener, its handlers given each fetch's deadline (fetches hold the lock).
        self._handlers = (HTTPHandler(Deadline(timeout)), HTTPSHandler(Deadline(timeout)))
        self._opener = urllib.request.build_opener(_DowngradeRefused(url), *self._handlers)

    def find(self, algorithm: str, kid: Any) -> Verifier | None:
        """The key for a token; fetch when the set expired or ``kid`` is new (rate-limited).

        :raises ServiceUnavailableError: no key set was ever fetched.
        """
        self.refresh_if_expired()
        found = self.keys.find(algorithm, kid)
        # A new kid, or a token without one that no key fits (a provider that sets no kid
        # rotated, or fixed an empty set): refetch, at most once per cooldown.
        if found is None and (kid is None or isinstance(kid, str)) and self._have_set:
            if self._maybe_fetch(wait=True) is None:
                self._log_held_back(kid)
            found = self.keys.find(algorithm, kid)
        if found is None and not self._have_set:
            raise ServiceUnavailableError("Signing keys unavailable")
        return found

    def refresh_if_expired(self) -> None:
        """Fetch when the set has expired, as :meth:`find` does first; for callers that
        skip :meth:`find`, such as a hit in the verified-token cache.

        Only a caller with no set at all waits. With a set, an expired one is fetched in
        this thread if no other is fetching, except after a failed fetch while the
        refresher runs: it retries once per cooldown, and the caller uses the stale set.
        """
        if self.clock() < self._expires_at:
            return
        if not self._have_set:
            self._maybe_fetch(wait=True, expired=True)
        elif self._last_ok or not self.refreshing:
            self._maybe_fetch(wait=False, expired=True)

    @property
    def refreshing(self) -> bool:
        """Whether the background refresher runs (in this process: not after a fork)."""
        return self._refresher is not None and self._refresher.is_alive()

    def close(self) -> None:
        """Stop the background refresher and wait (briefly) for it to end."""
        self._stopped.set()
        self._wake.set()
        refresher = self._refresher
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join(self.timeout + 1)

    def _download(self, request: urllib.request.Request) -> tuple[bytes, str | None]:
        """The response body and its Cache-Control, within ``timeout`` for the whole
        exchange: connection, redirects, headers and body. The socket is closed when this
        returns or raises; nothing is left running."""
        deadline = Deadline(self.timeout)
        for handler in self._handlers:
            handler.deadline = deadline
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _read_capped(response), response.headers.get("Cache-Control")
        except urllib.error.HTTPError as exc:
            exc.close()  # its body holds the connection
            raise

    def refresh(self) -> bool:
        """Fetch now, ignoring the cache and the cooldown.

        :return: True when the fetch succeeded and the set holds a key usable here; False
            when it failed (the last good set stays) or the provider publishes no usable
            key (then no fetched key verifies any more).
        """
        with self._lock:
            ok = self._fetch() and self._usable > 0
        self._start_refresher()
        return ok

    def _due(self, expired: bool) -> bool:
        """Whether a fetch may start now: an expired set after a successful fetch at once
        (the cache time is honoured), anything else once the cooldown has passed."""
        now = self.clock()
        if expired and self._last_ok:
            return now >= self._expires_at
        return now >= self._next_fetch

    def _maybe_fetch(self, wait: bool, expired: bool = False) -> bool | None:
        """Fetch unless another thread is fetching or the fetch is not due (:meth:`_due`).

        With ``wait`` the caller waits (at most about one fetch timeout) for a fetch in
        progress, because it has nothing to verify with, or a new ``kid`` may be in it.

        :return: ``None`` when the cooldown held the fetch back and none was in progress;
            otherwise whether this call (or the fetch it waited for) was let through.
        """
        if not self._due(expired):
            if wait and self._lock.locked() and self._lock.acquire(timeout=self.timeout + 1):
                # A fetch is in progress (it set the cooldown as it started): wait for its
                # keys rather than refuse a token whose new kid it is about to bring.
                self._lock.release()
                return True
            return None
        if not self._lock.acquire(blocking=wait, timeout=self.timeout + 1 if wait else -1):
            return False
        try:
            # Another thread may have fetched while this one waited for the lock.
            if self._due(expired):
                self._fetch()
        finally:
            self._lock.release()
        self._start_refresher()
        return True

    def _log_held_back(self, kid: str | None) -> None:
        """Say, once per cooldown, that a token's unknown ``kid`` found no key and why no
        fetch was made for it."""
        until = self._next_fetch
        if until == self._held_back_until:
            return
        self._held_back_until = until
        wait = max(0, math.ceil(until - self.clock()))
        what = "a token without kid matches no key" if kid is None \
            else f"kid {loggable(kid)} unknown"
        logger.warning("JWKS from %s: %s; next refetch in %d s", self.safe_url, what, wait)

    def _fetch(self) -> bool:
        """Fetch once; True when the endpoint answered with a JWKS (usable keys or not)."""
        started = self.clock()
        self._next_fetch = started + self.refetch_seconds
        self.fetches += 1
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in settings
            self.url, headers={"Accept": "application/json", "User-Agent": "jwt_wsgi"})
        try:
            body, cache_control = self._download(request)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS response larger than 1 MiB")
            jwks = json.loads(body)
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise ValueError("response is not a JWKS object with a 'keys' list")
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good set
            self._last_ok = False
            logger.warning("JWKS fetch from %s failed (%s); %s", self.safe_url, type(exc).__name__,
                           "keeping the last good key set" if self._have_set
                           else "no key set yet: requests fail with 503")
            return False
        if body != self._last_body:
            # The provider's answer is authoritative: a set without a usable key replaces
            # the last one too, or a key it withdrew would keep verifying.
            self._usable = self.keys.replace_fetched(jwks, self.algorithms)
            self._last_body = body
            if not self._usable:
                logger.warning("JWKS from %s holds no key usable with %s; tokens of this "
                               "issuer are refused until it publishes one", self.safe_url,
                               ", ".join(self.algorithms))
        self._have_set = self._last_ok = True
        # max-age may shorten the cache time, but not below what the settings allow, so an
        # endpoint that says no-store is not fetched on every request.
        floor = min(self.cache_seconds, self.refetch_seconds)
        self._lifetime = max(floor, cache_lifetime(cache_control, self.cache_seconds))
        self._expires_at = started + self._lifetime
        return True

    def _start_refresher(self) -> None:
        if not self.refresh_ahead or self.refreshing or self._stopped.is_set():
            return
        self._refresher = threading.Thread(
            target=_refresh_loop, args=(weakref.ref(self), self._wake, self._stopped),
            name="jwt_wsgi-jwks-refresh", daemon=True)
        self._refresher.start()
        # Garbage fetcher, stopped refresher: wake it now rather than at its next round.
        weakref.finalize(self, _stop, self._wake, self._stopped)

    def _refresh_in(self) -> float:
        """Seconds until the refresher should fetch: a little before the set expires
        (a tenth of its lifetime, at most one cooldown), or at the end of the cooldown of
        a failed fetch."""
        if self._last_ok:
            ahead = min(self._lifetime / 10, self.refetch_seconds)
            return self._expires_at - ahead - self.clock()
        return self._next_fetch - self.clock()

    def _refresh_now(self) -> None:
        """The refresher's fetch, skipped when a request is fetching already."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._refresh_in() <= 0:
                self._fetch()
        finally:
            self._lock.release()


def _refresh_loop(ref: weakref.ref[JWKSFetcher], wake: threading.Event,
                  stopped: threading.Event) -> None:
    """The refresher: sleep until the set is due, fetch, repeat; end when the fetcher is
    closed or garbage (only a weak reference is held between rounds)."""
    while not stopped.is_set():
        fetcher = ref()
        if fetcher is None:
            return
        try:
            if fetcher._refresh_in() <= 0:
                fetcher._refresh_now()
            delay = fetcher._refresh_in()
        except Exception:  # the refresher must outlive any one failure
            logger.exception("JWKS refresher for %s failed; retrying", fetcher.safe_url)
            delay = fetcher.refetch_seconds
        del fetcher
        wake.wait(max(delay, MIN_REFRESH_WAIT))


def _stop(wake: threading.Event, stopped: threading.Event) -> None:
    stopped.set()
    wake.set()


def _read_capped(response: Any) -> bytes:
    """The body, at most one byte over :data:`MAX_JWKS_BYTES` so the caller can tell it
    was too large (the connection's deadline bounds the time it takes)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_JWKS_BYTES:
        chunk = response.read1(min(65536, MAX_JWKS_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _DowngradeRefused(urllib.request.HTTPRedirectHandler):
    """Follow a redirect from the JWKS URL only to ``https://`` (or, when the configured
    URL is itself plain ``http://``, to ``http://`` too): a redirect must not move the key
    set to a channel anyone on the path can rewrite."""

    def __init__(self, configured: str) -> None:
        super().__init__()
        self.allowed = ("https",) if configured.startswith("https://") else ("https", "http")

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in self.allowed:
            raise urllib.error.HTTPError(_redact(newurl), code,
                                         f"redirect to {scheme}:// refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
