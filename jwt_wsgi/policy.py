"""Policies: what a matched request must show, how several combine, and the check itself.

A route's value in the routes table is read once into a :class:`Policy`; the middleware
asks :meth:`Policy.check` about each verified token. When readings of a path reach
several rules, :func:`merge` makes the one policy that satisfies them all.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import (
    ConfigError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    IssuerInvalidError,
    WrongTokenTypeError,
)
from .settings import LOCATIONS

REQUIREMENTS = ("public", "optional", "required", "fresh", "refresh")
_RANK = {"public": 0, "optional": 1, "required": 2, "fresh": 3}
_POLICY_KEYS = frozenset({"require", "scopes", "claims", "locations", "issuers"})
_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a matched request must show.

    :param require: one of ``public``, ``optional``, ``required``, ``fresh``, ``refresh``.
    :param scopes: scopes that must all be granted (``scope`` string or ``scp`` list).
    :param claims: claims that must be present with exactly these values.
    :param locations: where to look for the token; ``None`` means the manager's setting.
    :param issuers: issuers accepted on this route; ``None`` means any configured one.
    :param ambiguous: set by :func:`merge` when readings of a path lead to rules no single
        token satisfies: a token is then refused with 400 ``invalid_request``.
    """

    require: str = "public"
    scopes: tuple[str, ...] = ()
    claims: tuple[tuple[str, Any], ...] = ()
    locations: tuple[str, ...] | None = None
    issuers: tuple[str, ...] | None = None
    ambiguous: bool = False

    @property
    def protected(self) -> bool:
        return self.require != "public"

    @property
    def refresh(self) -> bool:
        return self.require == "refresh"

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | Policy, where: str) -> Policy:
        """Read a policy name or dict; raise :class:`ConfigError` naming ``where``."""
        if isinstance(value, Policy):
            return value
        if isinstance(value, str):
            value = {"require": value}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: a policy is a name or a dict, not {type(value).__name__}")
        unknown = set(value) - _POLICY_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown policy keys {sorted(unknown)}; "
                              f"use {sorted(_POLICY_KEYS)}")
        require = value.get("require", "required")
        if require not in REQUIREMENTS:
            raise ConfigError(f"{where}: unknown policy {require!r}; choose one of "
                              + ", ".join(REQUIREMENTS))
        scopes = _strings(value.get("scopes", ()), where, "scopes")
        claims = value.get("claims", {})
        if not isinstance(claims, Mapping) or not all(isinstance(k, str) for k in claims):
            raise ConfigError(f"{where}: claims must be a dict of claim name to required value")
        locations = value.get("locations")
        if locations is not None:
            locations = _strings(locations, where, "locations")
            if not locations or not set(locations) <= set(LOCATIONS):
                raise ConfigError(f"{where}: locations must be among {', '.join(LOCATIONS)}")
        issuers = value.get("issuers")
        if issuers is not None:
            issuers = _strings(issuers, where, "issuers")
            if not issuers:
                raise ConfigError(f"{where}: issuers is empty, so no token could ever pass; "
                                  "list the accepted issuers, or leave issuers out for any")
        if require == "public" and (scopes or claims):
            raise ConfigError(f"{where}: a public route cannot require scopes or claims")
        return cls(require, scopes, tuple(sorted(claims.items())), locations, issuers)


    def check(self, claims: Mapping[str, Any], now: float) -> None:
        """Refuse a verified token's claims that do not satisfy this policy.

        :param claims: the verified payload.
        :param now: the current time, for ``fresh`` given as a NumericDate.
        :raises WrongTokenTypeError: a refresh token where an access token belongs, or
            the other way round.
        :raises IssuerInvalidError: an issuer this route does not accept.
        :raises FreshTokenRequiredError: a non-fresh token on a ``fresh`` route.
        :raises InsufficientScopeError: a missing scope or claim.
        """
        is_refresh = claims.get("type") == "refresh"
        if self.refresh and not is_refresh:
            raise WrongTokenTypeError("Only refresh tokens are allowed")
        if not self.refresh and is_refresh:
            raise WrongTokenTypeError("Only non-refresh tokens are allowed")
        if self.issuers is not None and claims.get("iss") not in self.issuers:
            raise IssuerInvalidError("Issuer not accepted on this route", "iss")
        if self.require == "fresh":
            fresh = claims.get("fresh", False)
            if not (fresh is True or (type(fresh) in (int, float) and now < fresh)):
                raise FreshTokenRequiredError()
        if self.scopes:
            # RFC 6749 3.3: scope tokens are separated by single spaces, nothing else.
            scp = claims.get("scp", ())
            granted = set(claims.get("scope", "").split(" "))
            granted.update(scp.split(" ") if isinstance(scp, str) else scp)
            granted.discard("")
            if not granted.issuperset(self.scopes):
                raise InsufficientScopeError("Insufficient scope", " ".join(self.scopes))
        for name, value in self.claims:
            if not same_json(claims.get(name, _MISSING), value):
                raise InsufficientScopeError(f"Missing or wrong claim: {name}")


def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {name} must be a list of strings")
    return tuple(value)


PUBLIC = Policy("public")



def merge(policies: Sequence[Policy]) -> Policy:
    """The policy that satisfies all of several, for a path with ambiguous readings.

    When no token could satisfy them all (a refresh rule and an access rule, the same
    claim with two values, no location in common), the result is marked ``ambiguous``:
    a request without a token still gets the usual 401, one with a token a 400.
    """
    protected = [p for p in policies if p.protected]
    if not protected:
        return PUBLIC
    refresh = {p.refresh for p in protected if p.require != "optional"}
    ambiguous = len(refresh) > 1
    claims: dict[str, Any] = {}
    for policy in protected:
        for name, value in policy.claims:
            if name in claims and not same_json(claims[name], value):
                ambiguous = True
            claims.setdefault(name, value)
    require = max((p.require for p in protected if p.require != "refresh"),
                  key=lambda r: _RANK[r], default="required")
    if refresh == {True}:
        require = "refresh"
    scopes = tuple(dict.fromkeys(s for p in protected for s in p.scopes))
    locations = _intersect([p.locations for p in protected])
    issuers = _intersect([p.issuers for p in protected])
    if locations == ():
        ambiguous, locations = True, None
    return Policy(require, scopes, tuple(sorted(claims.items())), locations, issuers,
                  ambiguous)


def same_json(actual: Any, expected: Any) -> bool:
    """Equal with the same JSON types all the way down: ``True`` is not ``1``, ``"1"`` is
    not ``1``, ``[true]`` is not ``[1]``."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, str):  # lone surrogates are legal JSON escapes: no encode error
        return hmac.compare_digest(actual.encode("utf-8", "surrogatepass"),
                                   expected.encode("utf-8", "surrogatepass"))
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_json(actual[name], value) for name, value in expected.items())
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(same_json, actual, expected))
    return bool(actual == expected)


def _intersect(options: list[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    result: tuple[str, ...] | None = None
    for option in options:
        if option is not None:
            result = option if result is None else tuple(x for x in result if x in option)
    return result
