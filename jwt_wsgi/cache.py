"""The verified-token cache: a token seen before skips parsing and the signature check.

Only what does not depend on the moment is cached: a token whose signature, header
and claims passed :meth:`~jwt_wsgi.tokens.TokenCodec.verify`. The clock rules
(``exp``, ``nbf``, ``iat``) and revocation are checked again on every hit by the
manager, a failure is never stored, and the whole cache is dropped as soon as the
validation context changes (another key set, a key added or removed, which bumps
:attr:`~jwt_wsgi.keys.KeySet.generation`).

A token is stored the second time it is verified (the first time only its hash is
remembered), so tokens used once cost next to nothing and cannot evict the ones in
steady use. Entries are keyed by the exact token string. Each caller gets its own copies of the
header and claims, deep wherever a claim holds a list or an object, so an app that
edits ``environ["jwt_wsgi.claims"]`` cannot change what the next request sees.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from .tokens import Token, make_token


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
_NONE: tuple[str, ...] = ()


def _nested(obj: dict[str, Any]) -> tuple[str, ...]:
    """The members of a JSON object that hold a list or an object (and need a deep copy)."""
    if _MUTABLE.isdisjoint(map(type, obj.values())):  # the usual, flat token: no loop
        return _NONE
    return tuple(name for name, value in obj.items() if type(value) in _MUTABLE)


# An entry: (header, claims, header members to deep-copy, claims members to deep-copy).
# A plain tuple, the cheapest object to build on a miss; a flat token has () for both.
_Entry = tuple[dict[str, Any], dict[str, Any], tuple[str, ...], tuple[str, ...]]


def _copies(entry: _Entry) -> Token:
    header, claims, header_nested, claims_nested = entry
    header = header.copy()
    for name in header_nested:
        header[name] = copy_json(header[name])
    claims = claims.copy()
    for name in claims_nested:
        claims[name] = copy_json(claims[name])
    return make_token(header, claims)


class TokenCache:
    """A bounded, thread-safe LRU of verified tokens for one manager.

    :param size: the most tokens kept; the least recently used goes first. A token is
        kept from its second :meth:`put` on.

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
        # Hashes of tokens verified once and not kept yet (see put), at most 2 x size.
        self._seen: set[int] = set()
        #: Counters for tests and monitoring: hits, misses and whole-cache flushes.
        self.hits = 0
        self.misses = 0
        self.flushes = 0

    def get(self, token: str, context: Hashable) -> Token | None:
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
        if entry[2] or entry[3]:
            return _copies(entry)
        return make_token(entry[0].copy(), entry[1].copy())  # flat: shallow copies are whole

    def put(self, token: str, context: Hashable, header: dict[str, Any],
            claims: dict[str, Any]) -> Token:
        """Keep a token that passed every check (from its second time); return copies
        for the caller (or, when nothing was kept, the given dicts).

        :param context: the context passed to the :meth:`get` that missed, taken before
            the token was verified. The given dicts become the cache's own: the caller
            must use the returned copies.
        """
        with self._lock:
            # A context that changed since the caller's get (keys rotated while the token
            # was being verified) means the result may be stale: hand it out, keep nothing.
            if context != self._context:
                return make_token(header, claims)
            # Admission: a token is kept the second time it is verified. A token seen once
            # (one request per login, a flood of one-shot tokens) then costs a set insert
            # instead of an entry, two copies and an eviction, and cannot push the tokens
            # in steady use out of the LRU. Only hashes are remembered: a collision just
            # admits a token early. Nothing is kept, so the caller can have the originals.
            seen, key = self._seen, hash(token)
            if key not in seen:
                if len(seen) >= 2 * self.size:
                    seen.clear()
                seen.add(key)
                return make_token(header, claims)
            seen.discard(key)
            header_nested, claims_nested = _nested(header), _nested(claims)
            entry = (header, claims, header_nested, claims_nested)
            entries = self._entries
            # A token missed by two threads at once is put twice: keep it most recent.
            if entries.pop(token, None) is None and len(entries) >= self.size:
                entries.popitem(last=False)
            entries[token] = entry
        if header_nested or claims_nested:
            return _copies(entry)
        return make_token(header.copy(), claims.copy())

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._seen.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        """Whether ``token`` is kept (it has been verified twice, and not evicted since)."""
        return token in self._entries

    def _flush(self, context: Hashable) -> None:
        self._seen.clear()
        if self._entries:
            self._entries.clear()
            self.flushes += 1
        self._context = context
