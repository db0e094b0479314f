"""Routes: the table of ``"[METHODS ]PATTERN" -> policy``, its rule tree and its memo.

Patterns use werkzeug's rule syntax (``/users/<int:user_id>``, ``/files/<path:rest>``)
and werkzeug's converters; a trailing ``/*`` covers a prefix and everything below it.
The most specific rule wins whatever the order of the mapping (:class:`~jwt_wsgi.rules.
Weighting`); rules as specific as each other that both match all apply.

A path is read the ways the routers behind us may read it (:mod:`jwt_wsgi.readings`), and
each reading is matched in the readings of converters (:mod:`jwt_wsgi.rules`); every
policy a reading reaches applies (:func:`~jwt_wsgi.policy.merge`). Matching goes segment
by segment and is linear in the path (:mod:`jwt_wsgi.matcher`).

Rules hang in a tree by the static segments their pattern starts with; a lookup walks
the path's segments down that tree and tries only the rules found where it stops, so
its cost does not grow with the number of rules that cannot match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.routing.converters import DEFAULT_CONVERTERS, BaseConverter

from .conversions import to_whole
from .errors import ConfigError, PathTooLongError
from .policy import Policy, merge
from .readings import MAX_DECODES, canonical, is_plain, origin_form, readings
from .rules import Rule, Weighting

__all__ = ["MAX_DECODES", "MAX_PATH_SIZE", "MEMO_MAX_PATH", "MEMO_SIZE", "Policy", "RouteTable", "Rule",
           "canonical", "origin_form", "readings"]

# Resolved (method, PATH_INFO) pairs kept per table, and the longest path kept: a bound on
# memory whatever paths clients send.
MEMO_SIZE = 4096
MEMO_MAX_PATH = 512
#: The longest PATH_INFO read by default: what nginx and Apache accept in a request line
#: (8 KiB). Reading a path costs time in proportion to its length; a longer one is a 414.
MAX_PATH_SIZE = 8192


def check_max_path_size(value: object) -> int:
    """``max_path_size`` as given in Python or as text (INI, TOML): 1 byte to 1 MiB."""
    return to_whole("max_path_size", value, 1, 1024 * 1024)


class _Node:
    """A static path segment in the rule tree, and the rules that may match below it."""

    __slots__ = ("candidates", "children", "lenient", "rules", "settled", "wildcard")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.rules: list[Rule] = []
        self.candidates: tuple[Rule, ...] = ()
        self.lenient = False
        self.wildcard = False
        self.settled = False

    def seal(self, inherited: tuple[Rule, ...]) -> None:
        """Work out, once, every rule whose static prefix this node's path starts with."""
        self.candidates = tuple(sorted((*inherited, *self.rules), key=lambda r: r.sort_key))
        self.lenient = any(rule.lenient for rule in self.candidates)
        self.wildcard = any(rule.wildcard for rule in self.candidates)
        #: Every candidate is a static "/prefix/*" (or there is none): for a path that stops
        #: here in the tree, the answer depends on the method alone.
        self.settled = all(rule.wildcard and rule.shapes["latin-1"].static
                           for rule in self.candidates)
        for child in self.children.values():
            child.seal(self.candidates)


class RouteTable:
    """The compiled routes mapping, asked once per request for the policy that applies.

    :param routes: ``{"[METHODS ]PATTERN": policy}``; order does not matter.
    :param default: the policy where no rule matches (``"required"`` denies by default).
    :param converters: extra werkzeug converters by name, as for ``Map(converters=...)``.
    :param max_path_size: the longest PATH_INFO read, in characters (bytes, as PEP 3333
        gives them); a longer one is refused with 414 before any reading.
    :raises ConfigError: for a bad rule, rules that conflict, or a table that protects
        nothing (every rule public and a public default: wrapping the app would do nothing).
    """

    def __init__(self, routes: Mapping[str, Any] | None,
                 default: str | Mapping[str, Any] = "public",
                 converters: Mapping[str, type[BaseConverter]] | None = None,
                 max_path_size: int = MAX_PATH_SIZE) -> None:
        self.max_path_size = check_max_path_size(max_path_size)
        if routes is None:
            routes = {}
        if not isinstance(routes, Mapping):
            raise ConfigError("routes must be a mapping of '[METHODS ]PATTERN' to a policy")
        known = {**DEFAULT_CONVERTERS, **(converters or {})}
        self.default = Policy.parse(default, "default")
        rules = [Rule(key, Policy.parse(value, f"route {key!r}"), index, known)
                 for index, (key, value) in enumerate(routes.items())]
        if not self.default.protected and not any(rule.policy.protected for rule in rules):
            raise ConfigError(
                "the routes table protects nothing: every request would pass without a token. "
                "Name the protected paths ({'/api/*': 'required'}), or deny by default "
                "(default='required') and list the public ones; for a staged rollout that "
                "checks tokens when sent but requires none, use default='optional'")
        rules.sort(key=lambda rule: rule.sort_key)
        _refuse_conflicts(rules)
        self.rules = tuple(rules)
        self._slash_rules = any(rule.slash for rule in rules)
        self._root = _Node()
        for rule in rules:
            node = self._root
            for segment in rule.static_prefix:
                node = node.children.setdefault(segment, _Node())
            node.rules.append(rule)
        self._root.seal(())
        #: Resolved ``(method, PATH_INFO)`` pairs (the middleware reads it directly).
        self.memo: dict[tuple[str, str], Policy] = {}
        # A rule written with a trailing slash makes "/x" also read "/x/": no fast lane then.
        self._fast_lane = not self._slash_rules

    def lookup(self, method: str, path: str) -> Policy:
        """The policy of the most specific rule matching one reading of the path (rules
        that tie with it apply too)."""
        parts = _segments(path)
        found = self._matches(method, parts, self._node(parts).candidates, "latin-1")
        return found[0] if len(found) == 1 else merge(found)

    def resolve(self, method: str, path_info: str) -> Policy:
        """The policy for a request: every reasonable reading of the path is considered.

        :raises InvalidRequestError: for control characters in the path, dot segments with
            parameters (``/..;/``), or readings that lead to policies no single token
            could satisfy.
        :raises PathTooLongError: for a path over ``max_path_size``.
        """
        key = (method, path_info)
        policy = self.memo.get(key)
        if policy is not None:
            return policy
        if len(path_info) > self.max_path_size:
            raise PathTooLongError()
        if self._fast_lane and is_plain(path_info):
            # The fast lane: a path in canonical ASCII form is its only reading; where it
            # stops in the tree only static "/prefix/*" rules (or none) apply, and they
            # answer by the method alone.
            policy = self._settled(method, path_info)
        if policy is None and method == "HEAD":
            # HEAD runs the GET view (werkzeug, Django): it must pass the GET rules too.
            head, get = self._resolve("HEAD", path_info), self.resolve("GET", path_info)
            policy = head if head == get else merge([head, get])
        elif policy is None:
            policy = self._resolve(method, path_info)
        # The answer depends on nothing but the table, the method and the path: keep it
        # (refusals are not kept; they raise above). Full means start again, not grow.
        if len(path_info) <= MEMO_MAX_PATH and len(method) <= 16:  # overrides are client text
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[key] = policy
        return policy

    def _resolve(self, method: str, path_info: str) -> Policy:
        if path_info and is_plain(path_info):
            # The fast lane: an ASCII path in canonical form is its only reading, and
            # every reading of converters but the lenient one reads it alike.
            paths: tuple[str, ...] = (path_info,)
        else:
            paths = readings(path_info)
        first = paths[0]
        if len(first) > 1 and first.endswith("/") and self._slash_rule_wins(method, first):
            # "/login/" was written with its slash and this is its spelling: the reading
            # without the slash counts only where a rule names that spelling ("/admin"
            # next to "/<page>/": routers with optional slashes run the /admin view), not
            # where only the default or a "/*" catches it.
            paths = tuple(path for path in paths if path.endswith("/") or path + "/" not in paths
                          or self._named(method, path))
        elif self._slash_rules and not first.endswith("/") and self._named(method, first + "/"):
            # A rule written with a slash ("/admin/"): routers with optional slashes (Flask's
            # strict_slashes=False) run its view for "/admin" too.
            paths = (*paths, first + "/")
        found: list[Policy] = []
        for path in paths:
            found += self._policies(method, path)
        return self._one(found)

    def _settled(self, method: str, path: str) -> Policy | None:
        """The policy for a plain path that stops at a settled node, or ``None``."""
        parts = path[1:].split("/")
        node = self._root  # the walk of _node, inline: this runs for every new path
        for segment in parts:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        if not node.candidates:
            return self.default
        if not node.settled:
            return None
        policy = self._one(self._matches(method, parts, node.candidates, "latin-1"))
        if method == "HEAD":
            get = self._one(self._matches("GET", parts, node.candidates, "latin-1"))
            policy = policy if policy == get else merge([policy, get])
        return policy

    @staticmethod
    def _one(found: list[Policy]) -> Policy:
        """The policy that satisfies every policy found (some repeated, perhaps)."""
        if len(found) == 1:
            return found[0]
        unique: list[Policy] = []
        for policy in found:
            if policy not in unique:  # Policy holds claim values that cannot be hashed
                unique.append(policy)
        return unique[0] if len(unique) == 1 else merge(unique)

    def _node(self, parts: Sequence[str] | None) -> _Node:
        node = self._root
        for segment in parts or ():
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node

    def _named(self, method: str, path: str) -> bool:
        """Whether a rule other than a ``/*`` prefix matches ``path`` (names it)."""
        parts = _segments(path)
        return any(not rule.wildcard and rule.match(method, parts, "latin-1")
                   for rule in self._node(parts).candidates) if parts is not None else False

    def _slash_rule_wins(self, method: str, path: str) -> bool:
        """Whether the rule ``path`` strictly matches first was written with a trailing
        slash (and so names this very spelling)."""
        parts = _segments(path)
        if parts is None:
            return False
        for rule in self._node(parts).candidates:
            if rule.match(method, parts, "latin-1"):
                return rule.slash
        return False

    def _matches(self, method: str, parts: Sequence[str] | None, candidates: Sequence[Rule],
                 space: str) -> list[Policy]:
        """The policies of the most specific rules matching the path: the first match,
        and any rule as specific as it that matches too (the mapping order never picks)."""
        found: list[Policy] = []
        if parts is None:  # no leading slash: no rule matches
            return [self.default]
        tie: Weighting | None = None
        for rule in candidates:
            if tie is not None and rule.weighting != tie:
                break
            if rule.match(method, parts, space):
                tie = rule.weighting
                if rule.policy not in found:
                    found.append(rule.policy)
        return found or [self.default]

    def _policies(self, method: str, path: str) -> list[Policy]:
        """The policies of one reading as routers may match it: werkzeug on the latin-1
        text, werkzeug on the UTF-8 text (non-ASCII paths), and a router that parses
        numbers and UUIDs leniently or lets a path be empty (rules with such converters).
        Bottle's dropping of invalid UTF-8 is a reading of its own (:func:`readings`)."""
        parts = _segments(path)
        node = self._node(parts)
        found = self._matches(method, parts, node.candidates, "latin-1")
        text_parts = parts
        if not path.isascii():
            text_parts = _segments(path.encode("latin-1").decode("utf-8", "replace"))
            found += self._matches(method, text_parts, node.candidates, "text")
        if node.lenient:
            found += self._matches(method, text_parts, node.candidates, "lenient")
            if "//" in path or path.endswith("/"):  # an empty segment: Falcon's own reading
                found += self._matches(method, text_parts, node.candidates, "falcon")
        if node.wildcard and "//" in path:
            found += self._matches(method, parts, node.candidates, "werkzeug")
        return found


def _segments(path: str) -> list[str] | None:
    return path[1:].split("/") if path[:1] == "/" else None


def _refuse_conflicts(rules: Sequence[Rule]) -> None:
    """Two rules that match the same paths for a common method with equal specificity
    would be decided by the order of the mapping: refuse them unless they agree.

    ``GET /x`` and ``get /x``, ``/u/<a>`` and ``/u/<b>`` are the same rule; so are
    ``HEAD /x`` and ``GET /x`` for a HEAD request, which is checked like a GET. (``/x``
    and ``/x/`` are two rules: a trailing slash is part of a pattern.) Rules equal in
    meaning but spelled differently are not caught here; they tie, and both apply.
    """
    seen: dict[str, list[Rule]] = {}
    for rule in rules:
        for other in seen.setdefault(rule.template, []):
            if other.policy != rule.policy and _methods_overlap(other.methods, rule.methods) \
                    and (other.methods is None) == (rule.methods is None):
                raise ConfigError(
                    f"routes {other.key!r} and {rule.key!r} cover the same requests with "
                    "different policies; keep one (HEAD is checked like GET: give both the "
                    "same policy)")
        seen[rule.template].append(rule)


def _methods_overlap(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    if a is None or b is None:
        return True
    with_head = ({*a, "HEAD"} if "GET" in a else a), ({*b, "HEAD"} if "GET" in b else b)
    return not with_head[0].isdisjoint(with_head[1])
