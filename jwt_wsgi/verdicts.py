"""The verdict memo: a token that passed a route's policy before passes it again at once,
as long as nothing it depended on has changed.

The token cache (:mod:`jwt_wsgi.cache`) already skips parsing and the signature for a
token seen before; what is left on each request is the clock, revocation, the route's
policy, the identity and copies for the app. A :class:`Verdict` keeps the answers that
cannot change for one ``(token, policy)`` pair: the policy passed (it reads only the
claims, and ``fresh`` only against the clock), the window of time in which the clock
rules hold, and what revocation asks the store. A request that finds one
checks just what can change:

- the keys: the verdict holds the key state and key generation it was verified under
  (``replace_keys``, a key added or removed, makes it a stranger);
- the clock: ``not_before <= now < expires``, the ``exp``/``nbf``/``iat`` rules with the
  leeway, and the ``fresh`` bound of a ``fresh`` route, folded into two numbers;
- revocation: the store is asked on every request, as without the memo.

Anything else goes the whole way (:meth:`JWTMiddleware._authenticate`), which also says
what is wrong; so a verdict only ever lets through what the whole way would. What is
never kept: tokens from cookies (the CSRF check reads the request), routes with
``check`` callables (they read the request too), and managers whose keys are fetched
(a JWKS set refreshes itself when a token is verified).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .cache import _MUTABLE, copy_json

if TYPE_CHECKING:
    from .keystate import KeyState
    from .locations import FoundToken
    from .manager import JWTManager
    from .policy import Policy
    from .revoking import Probe

#: Verdicts kept per middleware at most: full means start again (as the route memo).
VERDICTS_SIZE = 4096


class Verdicts:
    """One middleware's verdicts, by ``((token, location), policy)``; bounded, thread-safe (each
    read and write is one dict operation, and a verdict never changes once made).

    A verdict is kept only for a token the manager's token cache already kept when the
    request came (its third request: a token used once or twice costs nothing here, and
    cannot push out the verdicts in steady use), so ``token_cache_size=0`` turns this off
    too.
    """

    def __init__(self, manager: JWTManager) -> None:
        self.manager = manager
        self.size = min(VERDICTS_SIZE, manager.settings.token_cache_size)
        self._kept: dict[tuple[FoundToken, int], Verdict] = {}
        #: Requests a verdict answered (a counter for tests and monitoring, as the token
        #: cache's ``hits``).
        self.recalls = 0

    def recall(self, found: FoundToken,
               policy: Policy) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Copies of the header and claims, if a verdict for this token, found where it
        was found then, on this policy still holds now; else ``None`` (take the whole way).

        The location is part of the key: a token kept from a header must not skip the
        CSRF check when the same token comes back in a cookie."""
        verdict = self._kept.get((found, id(policy)))
        if verdict is None:
            return None
        state = verdict.state
        if state is not self.manager.key_state or state.keys.generation != verdict.generation:
            return None
        if not verdict.not_before <= verdict.clock() < verdict.expires:
            return None
        try:
            if self.manager.is_revoked(verdict.probe, verdict.header, verdict.claims):
                return None
        except Exception:  # noqa: BLE001  # the whole way asks again, fails closed, says why
            return None
        self.recalls += 1
        # The request's own copies (the verdict's stay private), deep only when needed.
        if verdict.nested:
            return copy_json(verdict.header), copy_json(verdict.claims)
        return verdict.header.copy(), verdict.claims.copy()

    def admits(self, token: str) -> bool:
        """Whether a verdict will be kept for ``token`` if it passes (asked before it is
        verified: whether the token cache already keeps it)."""
        cache = self.manager.token_cache
        return cache is not None and token in cache

    def keep(self, state: KeyState, generation: int, found: FoundToken, policy: Policy,
             header: dict[str, Any], claims: dict[str, Any]) -> None:
        """Remember that this token (admitted) passed this policy, where that is safe.

        :param state: the manager's key state, and its key generation, taken before the
            token was verified.
        """
        if (state.fetchers or policy.checks or found.location == "cookies"
                or not self.admits(found.token)):  # still kept: the cache was not flushed
            return
        kept = self._kept
        if len(kept) >= self.size:
            kept.clear()
        kept[(found, id(policy))] = Verdict(
            state, generation, header, claims, policy, self.manager.revocation_probe(claims))


class Verdict:
    """What one token passing one policy established (see the module docstring)."""

    __slots__ = ("claims", "clock", "expires", "generation", "header", "nested",
                 "not_before", "policy", "probe", "state")

    def __init__(self, state: KeyState, generation: int, header: dict[str, Any],
                 claims: dict[str, Any], policy: Policy, probe: Probe) -> None:
        self.state = state
        self.generation = generation
        self.clock: Callable[[], float] = state.codec.clock
        # Private copies: what the app does to its own copies never reaches these.
        self.header = copy_json(header)
        self.claims = copy_json(claims)
        self.nested = not (_MUTABLE.isdisjoint(map(type, header.values()))
                           and _MUTABLE.isdisjoint(map(type, claims.values())))
        #: The policy object itself: held, so its id (half the memo key) is never reused.
        self.policy = policy
        self.probe = probe
        self.not_before, self.expires = window(claims, state.codec.settings.leeway, policy)


def window(claims: Mapping[str, Any], leeway: float, policy: Policy) -> tuple[float, float]:
    """``(not_before, expires)``: the clock rules hold exactly when
    ``not_before <= now < expires`` (as :meth:`~jwt_wsgi.tokens.TokenCodec.check_times`
    and the ``fresh`` rule of :meth:`~jwt_wsgi.policy.Policy.check` read them)."""
    not_before, expires = -math.inf, math.inf
    exp = claims.get("exp")
    if exp is not None:
        expires = exp + leeway
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None:
            not_before = max(not_before, value - leeway)
    if policy.require == "fresh":
        fresh = claims.get("fresh", False)
        if fresh is not True:  # verified numeric: fresh until then
            expires = min(expires, fresh)
    return not_before, expires
