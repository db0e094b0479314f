"""The verified-token cache: a token seen before skips parsing and the signature check.

Only what does not depend on the moment is cached: a token whose signature, header
and claims passed :meth:`~jwt_wsgi.tokens.TokenCodec.verify`. The clock rules
(``exp``, ``nbf``, ``iat``) and revocation are checked again on every hit by the
manager, a failure is never stored, and the whole cache is dropped as soon as the
validation context changes (another key set, a key added or removed, which bumps
:attr:`~jwt_wsgi.keys.KeySet.generation`).

Entries are keyed by the exact token string. Each caller gets its own copies of the
header and claims, deep wherever a claim holds a list or an object, so an app that
edits ``environ["jwt_wsgi.claims"]`` cannot change what the next request sees.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

Decoded = tuple[dict[str, Any], dict[str, Any]]


def copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON, where only dicts and lists are mutable (faster than
    :func:`copy.deepcopy`)."""
    kind = type(value)
    if kind is dict:
        return {name: copy_json(item) for name, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    return value


_MUTABLE = frozenset({dict, list})


def _nested(obj: dict[str, Any]) -> tuple[str, ...]:
    """The members of a JSON object that hold a list or an object (and need a deep copy)."""
    if _MUTABLE.isdisjoint(map(type, obj.values())):  # the usual, flat token: no loop
        return ()
    return tuple(name for name, value in obj.items() if type(value) in _MUTABLE)


class _Entry:
    __slots__ = ("claims", "claims_nested", "header", "header_nested")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        self.header = header
        self.claims = claims
        # Worked out once, so that a hit on a flat token costs two dict copies.
        self.header_nested = _nested(header)
        self.claims_nested = _nested(claims)

    def copies(self) -> Decoded:
        header = self.header.copy()
        for name in self.header_nested:
            header[name] = copy_json(header[name])
        claims = self.claims.copy()
        for name in self.claims_nested:
            claims[name] = copy_json(claims[name])
        return header, claims


class TokenCache:
    """A bounded, thread-safe LRU of verified tokens for one manager.

    :param size: the most tokens kept; the least recently used goes first.

    ::

        cache = TokenCache(1024)
        found = cache.get(token, context)            # None on a miss
        header, claims = cache.put(token, context, header, claims)
    """

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("a TokenCache needs a positive size")
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._context: Hashable = None
        self._lock = threading.Lock()
        #: Counters for tests and monitoring: hits, misses and whole-cache flushes.
        self.hits = 0
        self.misses = 0
        self.flushes = 0

    def get(self, token: str, context: Hashable) -> Decoded | None:
        """Copies of a cached token's ``(header, claims)``, or ``None``.

        :param context: what the entries were verified against; when it differs from
            the context of the cached entries, they are all dropped.
        """
        with self._lock:
            if context != self._context:
                self._flush(context)
                entry = None
            else:
                entry = self._entries.get(token)
                if entry is not None:
                    self._entries.move_to_end(token)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
        return entry.copies()

    def put(self, token: str, context: Hashable, header: dict[str, Any],
            claims: dict[str, Any]) -> Decoded:
        """Keep a token that passed every check; return copies for the caller.

        :param context: the context passed to the :meth:`get` that missed, taken before
            the token was verified. The given dicts become the cache's own: the caller
            must use the returned copies.
        """
        entry = _Entry(header, claims)
        with self._lock:
            # A context that changed since the caller's get (keys rotated while the token
            # was being verified) means the result may be stale: hand it out, keep nothing.
            if context == self._context:
                self._entries[token] = entry
                self._entries.move_to_end(token)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return entry.copies()

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _flush(self, context: Hashable) -> None:
        if self._entries:
            self._entries.clear()
            self.flushes += 1
        self._context = context
