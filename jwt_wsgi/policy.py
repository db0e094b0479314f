"""Policies: what a matched request must show, how several combine, and the check itself.

A route's value in the routes table is read once into a :class:`Policy`; the middleware
asks :meth:`Policy.check` about each verified token. When readings of a path reach
several rules, :func:`merge` makes the one policy that satisfies them all.
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import importlib
import inspect
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import (
    ConfigError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    InternalError,
    IssuerInvalidError,
    WrongTokenTypeError,
)
from .pointer import MAX_DEPTH, ClaimPath
from .settings import LOCATIONS

REQUIREMENTS = ("public", "optional", "required", "fresh", "refresh")
_RANK = {"public": 0, "optional": 1, "required": 2, "fresh": 3}
_POLICY_KEYS = ("require", "scopes", "any_scopes", "claims", "contains", "check",
                "locations", "issuers")
logger = logging.getLogger("jwt_wsgi")


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a matched request must show.

    :param require: one of ``public``, ``optional``, ``required``, ``fresh``, ``refresh``.
    :param scopes: scopes that must all be granted (``scope`` string or ``scp`` list).
    :param claims: claims that must be present with exactly these values (same JSON types
        all the way down); a name that starts with ``/`` is an RFC 6901 JSON Pointer.
    :param locations: where to look for the token; ``None`` means the manager's setting.
    :param issuers: issuers accepted on this route; ``None`` means any configured one.
    :param ambiguous: set by :func:`merge` when readings of a path lead to rules no single
        token satisfies: a token is then refused with 400 ``invalid_request``.
    :param any_scopes: groups of scopes; each group needs at least one granted scope
        (one group per rule: a merged policy keeps every rule's group).
    :param contains: ``(claim, value)`` pairs: a list claim must hold the value, any
        other claim must equal it (a one-element list); JSON types are strict.
    :param checks: callables ``check(claims, environ) -> bool``; anything but ``True``
        refuses with 403, an exception fails closed with 500.
    """

    require: str = "public"
    scopes: tuple[str, ...] = ()
    claims: tuple[tuple[ClaimPath, Any], ...] = ()
    locations: tuple[str, ...] | None = None
    issuers: tuple[str, ...] | None = None
    ambiguous: bool = False
    any_scopes: tuple[tuple[str, ...], ...] = ()
    contains: tuple[tuple[ClaimPath, Any], ...] = ()
    checks: tuple[Callable[[dict[str, Any], Mapping[str, Any]], object], ...] = ()
    #: Whether a token may be needed (every requirement but ``public``); a field, not a
    #: property, as the middleware reads it on every request.
    protected: bool = dataclasses.field(init=False, repr=False, compare=False)
    #: Whether only a refresh token passes (``require="refresh"``); a field too.
    refresh: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "protected", self.require != "public")
        object.__setattr__(self, "refresh", self.require == "refresh")
        # Plain claim names given in Python (``claims=(("role", "admin"),)``) read as paths.
        for field in ("claims", "contains"):
            pairs = getattr(self, field)
            if any(not isinstance(name, ClaimPath) for name, _ in pairs):
                object.__setattr__(self, field, tuple(
                    (name if isinstance(name, ClaimPath) else ClaimPath(name, "policy"), value)
                    for name, value in pairs))

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | Policy, where: str) -> Policy:
        """Read a policy name or dict; raise :class:`ConfigError` naming ``where``."""
        if isinstance(value, Policy):
            return value
        if isinstance(value, str):
            value = {"require": value}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: a policy is a name or a dict, not {type(value).__name__}")
        unknown = [str(key) for key in value if key not in _POLICY_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown policy keys {unknown}"
                              f"{did_you_mean(unknown[0], _POLICY_KEYS)}; the keys are "
                              + ", ".join(_POLICY_KEYS))
        require = value.get("require", "required")
        if require not in REQUIREMENTS:
            raise ConfigError(f"{where}: unknown policy {require!r}"
                              f"{did_you_mean(str(require), REQUIREMENTS)}; choose one of "
                              + ", ".join(REQUIREMENTS))
        scopes = _strings(value.get("scopes", ()), where, "scopes")
        any_scopes = _strings(value.get("any_scopes", ()), where, "any_scopes")
        if "any_scopes" in value and not any_scopes:
            raise ConfigError(f"{where}: any_scopes is empty, so no token could ever pass; "
                              "list the scopes of which one is enough")
        claims = _claim_pairs(value.get("claims", {}), where, "claims")
        contains = _claim_pairs(value.get("contains", {}), where, "contains")
        for name, wanted in contains:
            if isinstance(wanted, list):
                raise ConfigError(
                    f"{where}: contains {name.name!r} takes one value, not a list (a list "
                    "could mean all or any of them); for several values write a check")
        checks = _checks(value.get("check"), where) if "check" in value else ()
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
        if require == "public" and (scopes or any_scopes or claims or contains or checks):
            raise ConfigError(f"{where}: a public route cannot require scopes, claims or "
                              "checks; make it \"required\" (or \"optional\")")
        return cls(require, scopes, claims, locations, issuers,
                   any_scopes=(any_scopes,) if any_scopes else (), contains=contains,
                   checks=checks)

    def check(self, claims: dict[str, Any], now: float,
              environ: Mapping[str, Any] | None = None) -> None:
        """Refuse a verified token's claims that do not satisfy this policy.

        :param claims: the verified payload (the request's own copy).
        :param now: the current time, for ``fresh`` given as a NumericDate.
        :param environ: the request's WSGI environ, handed to ``check`` callables.
        :raises WrongTokenTypeError: a refresh token where an access token belongs, or
            the other way round.
        :raises IssuerInvalidError: an issuer this route does not accept.
        :raises FreshTokenRequiredError: a non-fresh token on a ``fresh`` route.
        :raises InsufficientScopeError: a missing scope or claim, or a check that said no.
        :raises InternalError: a check that raised (logged; the answer says nothing more).
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
        if self.scopes or self.any_scopes:
            granted = granted_scopes(claims)
            if not granted.issuperset(self.scopes):
                raise InsufficientScopeError("Insufficient scope", " ".join(self.scopes))
            for group in self.any_scopes:
                if granted.isdisjoint(group):
                    raise InsufficientScopeError("Insufficient scope", " ".join(group))
        for path, wanted in self.claims:
            if not same_json(path.find(claims), wanted):
                raise InsufficientScopeError(f"Missing or wrong claim: {path.name}")
        for path, wanted in self.contains:
            found = path.find(claims)
            if type(wanted) is str:
                # A str equals only a str, so ``in`` and ``==`` are already exact here.
                held = wanted in found if type(found) is list else found == wanted
            elif type(found) is list:
                # ``in`` is a fast filter (same_json implies ==); same_json then refuses
                # the equal-but-other-type items (``True`` for ``1``).
                held = wanted in found and any(
                    same_json(item, wanted) for item in found if item == wanted)
            else:
                held = same_json(found, wanted)
            if not held:
                raise InsufficientScopeError(f"Missing or wrong claim: {path.name}")
        for check in self.checks:
            try:
                verdict = check(claims, environ if environ is not None else {})
            except Exception:
                logger.exception("route check %s raised; failing closed",
                                 getattr(check, "__qualname__", "check"))
                raise InternalError() from None
            if verdict is not True:
                raise InsufficientScopeError("Access denied by the route's check")


def granted_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes a token grants, from ``scope`` (a string) and ``scp`` (a string or list).

    RFC 6749 3.3: scope tokens are separated by single spaces, nothing else.
    """
    scope = claims.get("scope")
    granted = set(scope.split(" ")) if type(scope) is str else set()
    scp = claims.get("scp")
    if type(scp) is str:
        granted.update(scp.split(" "))
    elif type(scp) is list:
        granted.update(s for s in scp if type(s) is str)
    granted.discard("")
    return granted


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss, else nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {name} must be a list of strings")
    return tuple(value)


def _claim_pairs(value: Any, where: str, key: str) -> tuple[tuple[ClaimPath, Any], ...]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where}: {key} must be a dict of claim name to required value")
    pairs: dict[ClaimPath, Any] = {}
    for name, wanted in value.items():
        path = ClaimPath(name, where)
        if path in pairs:
            raise ConfigError(f"{where}: {key} names the claim {name!r} twice "
                              "(once as a name, once as a JSON Pointer)")
        _json_value(wanted, f"{where}: {key} {name!r}")
        pairs[path] = wanted
    return tuple(sorted(pairs.items(), key=lambda pair: pair[0].parts))


def _json_value(value: Any, where: str, depth: int = 0) -> None:
    """Refuse a required value no verified token could ever carry."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{where}: the value nests deeper than any token may")
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
        raise ConfigError(f"{where}: {value!r} is not a JSON number, so no token could match")
    if isinstance(value, list):
        for item in value:
            _json_value(item, where, depth + 1)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if value and all(k.startswith("$") for k in value):
            raise ConfigError(f"{where}: {sorted(value)} look like query operators, but "
                              "claims match exact JSON values; use contains for a value a "
                              "list claim must hold, any_scopes for one of several scopes, "
                              "or check for anything else")
        for item in value.values():
            _json_value(item, where, depth + 1)
        return
    raise ConfigError(f"{where}: a {type(value).__name__} is not a JSON value, so no token "
                      "could match it; use a string, number, boolean, null, list or dict")


def _checks(value: Any, where: str) -> tuple[Callable[[dict[str, Any], Mapping[str, Any]], object], ...]:
    """A ``check`` value: a callable, or ``"package.module:function"`` from a config file."""
    if isinstance(value, str):
        module_name, _, attribute = value.partition(":")
        if not module_name or not attribute:
            raise ConfigError(f"{where}: check {value!r} must be written 'package.module:function'")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: check {value!r} cannot be imported "
                              f"({type(exc).__name__})") from None
        value = found
    if not callable(value):
        raise ConfigError(f"{where}: check must be a callable (claims, environ) -> bool, or "
                          "'package.module:function'")
    try:
        inspect.signature(value).bind({}, {})
    except TypeError:
        raise ConfigError(f"{where}: check {getattr(value, '__qualname__', value)!r} must "
                          "take two arguments, (claims, environ)") from None
    except ValueError:
        pass  # a builtin without a readable signature: called as documented
    return (value,)


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
    claims: dict[ClaimPath, Any] = {}
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
    # Every rule's conditions hold at once; a check reached by several readings runs once.
    any_scopes = tuple(dict.fromkeys(g for p in protected for g in p.any_scopes))
    contains: list[tuple[ClaimPath, Any]] = []
    for policy in protected:
        for path, value in policy.contains:
            if not any(path == seen and same_json(value, held) for seen, held in contains):
                contains.append((path, value))
    checks = tuple({id(c): c for p in protected for c in p.checks}.values())
    return Policy(require, scopes, tuple(sorted(claims.items(), key=lambda c: c[0].parts)),
                  locations, issuers, ambiguous, any_scopes=any_scopes,
                  contains=tuple(contains), checks=checks)


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
