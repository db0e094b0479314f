"""Routes: the table of ``"[METHODS ]PATTERN" -> policy`` compiled once into a matcher.

Patterns use werkzeug's rule syntax (``/users/<int:user_id>``, ``/files/<path:rest>``)
and werkzeug's converters; a trailing ``/*`` covers a prefix and everything below it.
The most specific rule wins whatever the order of the mapping: at the first segment
where two rules differ, static text beats a converter (a segment with more text first,
then werkzeug's converter weights), a converter beats ``<path:>``, ``<path:>`` beats
``/*``, and a rule that goes on beats one that ends; then a method-specific rule beats
an any-method one. Rules as specific as each other that both match all apply.

A path is read the ways the routers behind us may read it (:func:`readings`, and in
:meth:`RouteTable._policies` the UTF-8 text and lenient converters); every policy a
reading reaches applies (:func:`merge`).

Rules hang in a tree by the static segments their pattern starts with; a lookup walks
the path's segments down that tree and tries only the rules found where it stops, so
its cost does not grow with the number of rules that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from werkzeug.routing import Map
from werkzeug.routing.converters import (
    DEFAULT_CONVERTERS,
    BaseConverter,
    NumberConverter,
    UUIDConverter,
    ValidationError,
)
from werkzeug.routing.rules import parse_converter_args

from .errors import ConfigError, InvalidRequestError
from .policy import Policy, merge
from .settings import HTTP_METHODS

_VARIABLE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?"
    r"(?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLASHES = re.compile(r"/{2,}")
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]*")
MAX_DECODES = 3
# Resolved (method, PATH_INFO) pairs kept per table, and the longest path kept: a bound on
# memory whatever paths clients send.
MEMO_SIZE = 4096
MEMO_MAX_PATH = 512
# Weights of a segment for specificity: lower is more specific.
_STATIC, _CONVERTER, _PATH, _END, _WILDCARD = 0, 1, 2, 3, 4


class Rule:
    """One compiled route: its methods, its regex, its converters and its specificity."""

    __slots__ = ("converters", "key", "lenient_regex", "methods", "policy", "regex", "slash",
                 "sort_key", "static_prefix", "template", "text_regex", "wildcard_regex")

    def __init__(self, key: str, policy: Policy, index: int,
                 converters: Mapping[str, type[BaseConverter]]) -> None:
        self.key = key
        self.policy = policy
        self.methods, text_pattern = _split_key(key)
        # PEP 3333 hands the app PATH_INFO as latin-1 text of the raw bytes: the rule is
        # matched in that space, and (for non-ASCII paths) in the UTF-8 text a framework
        # decodes it to, where ``\d`` also matches digits of other scripts.
        pattern = _latin1(text_pattern)
        # Converters are built from the pattern as written (``<any(public,privé):s>``
        # must keep its "privé"); the latin-1 regex carries their regexes re-encoded.
        self.converters: list[tuple[str, BaseConverter]] = []
        regex, weights, static_len = self._compile(text_pattern, converters, "latin-1")
        self.regex = re.compile(regex, re.DOTALL)
        self.text_regex = self.regex if pattern == text_pattern else re.compile(
            self._compile(text_pattern, converters, "text")[0], re.DOTALL)
        #: For a router that parses numbers and UUIDs leniently (Bottle's int takes ``-1``,
        #: Falcon's ``1_0``, Python's ``int()`` any script's digits) or lets a value be
        #: empty (Falcon's ``{rest:path}`` matches ``/files/``, its ``{uid}`` ``/users/``):
        #: the same pattern with those converters matching any value their ``to_python``
        #: accepts; ``None`` when the rule has no such converter.
        self.lenient_regex = None if not any(
            _lenient_form(c) for _, c in self.converters) else re.compile(
            self._compile(text_pattern, converters, "lenient")[0], re.DOTALL)
        #: For "/prefix/*": the regex that leaves out "/prefix//x" (see _compile).
        self.wildcard_regex = None if not text_pattern.endswith("/*") else re.compile(
            self._compile(text_pattern, converters, "werkzeug")[0], re.DOTALL)
        #: The pattern ends with a slash: its own spelling was written on purpose.
        self.slash = len(text_pattern) > 1 and text_pattern.endswith("/")
        self.sort_key = (weights, 1 if self.methods is None else 0, -static_len, index)
        #: The pattern with variable names left out: two rules with the same template
        #: match the same paths.
        self.template = _VARIABLE.sub(
            lambda m: f"<{m.group('converter') or 'default'}({m.group('args') or ''})>", pattern)
        #: The leading segments of the pattern that are plain text: a path this rule
        #: matches has exactly these as its first segments.
        self.static_prefix = _static_prefix(pattern)

    def _compile(self, pattern: str, converters: Mapping[str, type[BaseConverter]],
                 space: str) -> tuple[str, tuple[Any, ...], int]:
        """The regex of the pattern for one reading (``latin-1``: PEP 3333 text, the
        first call, which builds the converters; ``text``: UTF-8 text; ``lenient``;
        ``werkzeug``: PEP 3333 text, ``/*`` not covering ``//``), with the segment
        weights and the length of static text."""
        wildcard = pattern == "/*" or pattern.endswith("/*")
        if wildcard:
            pattern = pattern[:-2]
        if "*" in _VARIABLE.sub("", pattern):
            raise ConfigError(f"route {self.key!r}: '*' is only allowed as a trailing '/*'")
        # A trailing slash is part of the pattern: "/health" does not match "/health/",
        # nor "/health/" "/health" (most routers send the other spelling to another view,
        # a protected catch-all perhaps). The canonical reading drops a path's trailing
        # slash, so a protected "/admin" still covers "/admin/".
        slash = len(pattern) > 1 and pattern.endswith("/")
        in_pep3333 = space in ("latin-1", "werkzeug")  # matched against latin-1 PATH_INFO
        if slash:
            pattern = pattern[:-1]
        parts: list[str] = []
        static_len = 0
        names: set[str] = set()
        position = 0
        for match in _VARIABLE.finditer(pattern):
            static = pattern[position:match.start()]
            parts.append(re.escape(_latin1(static) if in_pep3333 else static))
            static_len += len(static)
            name = match.group("variable")
            if name in names:
                raise ConfigError(f"route {self.key!r}: variable {name!r} appears twice")
            names.add(name)
            if space == "latin-1":  # the first call builds the converters
                self.converters.append((name, self._converter(match, converters)))
            converter = dict(self.converters)[name]
            regex = converter.regex
            if in_pep3333:
                regex = _latin1(regex)
            elif space == "lenient":
                last = match.end() == len(pattern) and not wildcard and not slash
                regex = _lenient_form(converter, last) or regex
            parts.append(f"(?P<{name}>{regex})")
            position = match.end()
        static = pattern[position:]
        if "<" in static or ">" in static:
            raise ConfigError(f"route {self.key!r}: malformed variable near {static!r}")
        parts.append(re.escape(_latin1(static) if in_pep3333 else static))
        static_len += len(static)
        weights: list[Any] = [self._segment_weight(segment, converters)
                              for segment in pattern.split("/")[1:]] if pattern else []
        # "/prefix/*" covers "/prefix", "/prefix/" and all below. In the "werkzeug" space
        # it does not cover "/prefix//x" (a <path:> cannot start with a slash, so that is
        # another view's); both readings count.
        tail = ("(?:/(?:[^/].*)?)?" if space == "werkzeug" else "(?:/.*)?") if wildcard \
            else "/" if slash else ""
        if slash:
            weights.append((_STATIC,))  # "/users/" names its empty last segment exactly
        if wildcard:
            weights.append((_WILDCARD,))
        # A rule that goes on after a point where another stops is the more specific:
        # "/files/<path:p>/edit" before "/files/<path:p>" (the end sorts after any segment
        # but "/*": "/files" before "/files/*").
        weights.append((_END,))
        return "".join(parts) + tail, tuple(weights), static_len

    def _segment_weight(self, segment: str,
                        converters: Mapping[str, type[BaseConverter]]) -> tuple[int, ...]:
        """Lower is more specific: static text; then, as werkzeug ranks them, a segment
        with more static parts (``<name>.<fmt>`` before ``<float:v>``), then converters by
        their ``weight`` (numbers 50 before strings 100); then ``<path:>``; ``/*`` last."""
        variables = list(_VARIABLE.finditer(segment))
        if not variables:
            return (_STATIC,)
        weight = 0
        for match in variables:
            cls = converters.get(match.group("converter") or "default")
            if cls is not None and cls.regex == DEFAULT_CONVERTERS["path"].regex:
                return (_PATH,)
            weight = max(weight, int(getattr(cls, "weight", 100)))
        static_parts = len([part for part in _VARIABLE.sub("\x00", segment).split("\x00")
                            if part])
        return (_CONVERTER, -static_parts, weight)

    def _converter(self, match: re.Match[str],
                   converters: Mapping[str, type[BaseConverter]]) -> BaseConverter:
        name = match.group("converter") or "default"
        cls = converters.get(name)
        if cls is None:
            raise ConfigError(f"route {self.key!r}: unknown converter {name!r}; "
                              f"known: {', '.join(sorted(converters))}")
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if match.group("args"):
            try:
                args, kwargs = parse_converter_args(match.group("args"))
            except Exception:  # noqa: BLE001 - werkzeug raises several kinds here
                raise ConfigError(f"route {self.key!r}: bad converter arguments") from None
        try:
            return cls(_MAP, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a user converter may raise anything
            raise ConfigError(f"route {self.key!r}: converter {name!r}: {exc}") from None

    def match(self, method: str, path: str, regex: re.Pattern[str] | None = None) -> bool:
        """Does the rule match ``path`` (latin-1 text, or UTF-8 text with ``regex``)?"""
        if self.methods is not None and method not in self.methods and not (
            method == "HEAD" and "GET" in self.methods
        ):
            return False
        found = (regex or self.regex).fullmatch(path)
        if found is None:
            return False
        for name, converter in self.converters:
            try:
                converter.to_python(found.group(name))
            except (ValidationError, ValueError, TypeError, OverflowError):
                return False
        return True


_MAP = Map()
# Converters whose to_python parses the value (numbers, UUIDs): other routers accept
# spellings werkzeug's regex does not, so a lenient reading lets to_python decide.
_LOOSE = (NumberConverter, UUIDConverter)


def _lenient_form(converter: BaseConverter, last: bool = True) -> str | None:
    """The regex a lenient router's reading gives a converter, or ``None`` for its own."""
    if isinstance(converter, _LOOSE):
        return "[^/]+"
    if converter.regex == DEFAULT_CONVERTERS["path"].regex:
        return ".*?"  # Falcon's {rest:path} and Django's <path:> take "" and "/x"
    if last and converter.regex in ("[^/]+", "[^/]{1,}"):
        return "[^/]*"  # Falcon's {uid} takes "" at the end of a route (/users/)
    return None


def _latin1(text: str) -> str:
    """Text in the PEP 3333 space the paths arrive in: each UTF-8 byte one character."""
    return text.encode("utf-8").decode("latin-1")


def _static_prefix(pattern: str) -> tuple[str, ...]:
    template = _VARIABLE.sub("\x00", pattern)
    if template.endswith("/*"):
        template = template[:-2]
    elif len(template) > 1 and template.endswith("/"):
        template = template[:-1]
    prefix: list[str] = []
    for segment in template.split("/")[1:]:
        if "\x00" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


class _Node:
    """A static path segment in the rule tree, and the rules that may match below it."""

    __slots__ = ("candidates", "children", "lenient", "rules", "wildcard")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.rules: list[Rule] = []
        self.candidates: tuple[Rule, ...] = ()
        self.lenient = False
        self.wildcard = False

    def seal(self, inherited: tuple[Rule, ...]) -> None:
        """Work out, once, every rule whose static prefix this node's path starts with."""
        self.candidates = tuple(sorted((*inherited, *self.rules), key=lambda r: r.sort_key))
        self.lenient = any(rule.lenient_regex is not None for rule in self.candidates)
        self.wildcard = any(rule.wildcard_regex is not None for rule in self.candidates)
        for child in self.children.values():
            child.seal(self.candidates)


def _split_key(key: str) -> tuple[frozenset[str] | None, str]:
    if not isinstance(key, str) or not key.strip():
        raise ConfigError(f"route {key!r}: a route key is '[METHOD[,METHOD]] /pattern'")
    head, _, rest = key.strip().partition(" ")
    if not rest:
        methods, pattern = None, head
    else:
        methods = frozenset(m.strip().upper() for m in head.split(",") if m.strip())
        unknown = methods - HTTP_METHODS
        if unknown or not methods:
            raise ConfigError(f"route {key!r}: unknown HTTP method {sorted(unknown)}; "
                              f"use {', '.join(sorted(HTTP_METHODS))}")
        pattern = rest.strip()
    if not pattern.startswith("/"):
        hint = " (write methods without spaces: 'GET,POST /x')" if head.endswith(",") else ""
        raise ConfigError(f"route {key!r}: the pattern must start with '/'{hint}")
    if _CONTROL.search(pattern) or " " in pattern:
        raise ConfigError(f"route {key!r}: the pattern contains spaces or control characters")
    if "%" in pattern:
        raise ConfigError(f"route {key!r}: write the pattern decoded ('/café', not '/caf%C3%A9'); "
                          "servers hand PATH_INFO to the app percent-decoded")
    if "?" in pattern or "#" in pattern or "//" in pattern or re.search(
            r"/\.\.?(?:/|$)", pattern):
        raise ConfigError(f"route {key!r}: a pattern is a normalised path: no '?', '#', '//', "
                          "'.' or '..' segments (servers never deliver those as PATH_INFO)")
    return methods, pattern


class RouteTable:
    """The compiled routes mapping, asked once per request for the policy that applies.

    :param routes: ``{"[METHODS ]PATTERN": policy}``; order does not matter.
    :param default: the policy where no rule matches (``"required"`` denies by default).
    :param converters: extra werkzeug converters by name, as for ``Map(converters=...)``.
    """

    def __init__(self, routes: Mapping[str, Any], default: str | Mapping[str, Any] = "public",
                 converters: Mapping[str, type[BaseConverter]] | None = None) -> None:
        if not isinstance(routes, Mapping):
            raise ConfigError("routes must be a mapping of '[METHODS ]PATTERN' to a policy")
        known = {**DEFAULT_CONVERTERS, **(converters or {})}
        self.default = Policy.parse(default, "default")
        rules = [Rule(key, Policy.parse(value, f"route {key!r}"), index, known)
                 for index, (key, value) in enumerate(routes.items())]
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
        self._memo: dict[tuple[str, str], Policy] = {}
        self.protects_anything = self.default.protected or any(
            rule.policy.protected for rule in rules)

    def lookup(self, method: str, path: str) -> Policy:
        """The policy of the most specific rule matching one reading of the path (rules
        that tie with it apply too)."""
        found = self._matches(method, path, self._node(path).candidates, _strict)
        return found[0] if len(found) == 1 else merge(found)

    def _node(self, path: str) -> _Node:
        node = self._root
        for segment in path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node

    def _named(self, method: str, path: str) -> bool:
        """Whether a rule other than a ``/*`` prefix matches ``path`` (names it)."""
        return any(rule.wildcard_regex is None and rule.match(method, path)
                   for rule in self._node(path).candidates)

    def _slash_rule_wins(self, method: str, path: str) -> bool:
        """Whether the rule ``path`` strictly matches first was written with a trailing
        slash (and so names this very spelling)."""
        for rule in self._node(path).candidates:
            if rule.match(method, path):
                return rule.slash
        return False

    def _matches(self, method: str, path: str, candidates: Sequence[Rule],
                 pick: _Pick) -> list[Policy]:
        """The policies of the most specific rules matching ``path``: the first match,
        and any rule as specific as it that matches too (the mapping order never picks)."""
        found: list[Policy] = []
        tie: tuple[Any, ...] | None = None
        for rule in candidates:
            if tie is not None and rule.sort_key[:3] != tie:
                break
            if rule.match(method, path, pick(rule)):
                tie = rule.sort_key[:3]
                if rule.policy not in found:
                    found.append(rule.policy)
        return found or [self.default]

    def _policies(self, method: str, path: str) -> list[Policy]:
        """The policies of one reading as routers may match it: werkzeug on the latin-1
        text, werkzeug on the UTF-8 text (non-ASCII paths), and a router that parses
        numbers and UUIDs leniently or lets a path be empty (rules with such converters).
        Bottle's dropping of invalid UTF-8 is a reading of its own (:func:`readings`)."""
        node = self._node(path)
        found = self._matches(method, path, node.candidates, _strict)
        text = path
        if not path.isascii():
            text = path.encode("latin-1").decode("utf-8", "replace")
            found += self._matches(method, text, node.candidates, _text)
        if node.lenient:
            found += self._matches(method, text, node.candidates, _lenient)
        if node.wildcard and "//" in path:
            found += self._matches(method, path, node.candidates, _werkzeug)
        return found

    def resolve(self, method: str, path_info: str) -> Policy:
        """The policy for a request: every reasonable reading of the path is considered.

        :raises InvalidRequestError: for control characters in the path, or readings
            that lead to policies no single token could satisfy.
        """
        key = (method, path_info)
        policy = self._memo.get(key)
        if policy is not None:
            return policy
        if method == "HEAD":
            # HEAD runs the GET view (werkzeug, Django): it must pass the GET rules too.
            head, get = self._resolve("HEAD", path_info), self.resolve("GET", path_info)
            policy = head if head == get else merge([head, get])
        else:
            policy = self._resolve(method, path_info)
        # The answer depends on nothing but the table, the method and the path: keep it
        # (refusals are not kept; they raise above). Full means start again, not grow.
        if len(path_info) <= MEMO_MAX_PATH and len(method) <= 16:  # overrides are client text
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = policy
        return policy

    def _resolve(self, method: str, path_info: str) -> Policy:
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
            for policy in self._policies(method, path):
                if policy not in found:  # Policy holds claim values that cannot be hashed
                    found.append(policy)
        return found[0] if len(found) == 1 else merge(found)


_Pick = Callable[[Rule], "re.Pattern[str]"]


def _strict(rule: Rule) -> re.Pattern[str]:
    return rule.regex


def _text(rule: Rule) -> re.Pattern[str]:
    return rule.text_regex


def _werkzeug(rule: Rule) -> re.Pattern[str]:
    return rule.wildcard_regex or rule.regex


def _lenient(rule: Rule) -> re.Pattern[str]:
    return rule.lenient_regex or rule.text_regex


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


def canonical(path: str) -> str:
    """Resolve dot segments, collapse repeated slashes, drop a trailing slash."""
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def origin_form(path_info: str) -> str:
    """The path of an absolute-form target: ``http://host/a`` -> ``/a``; other paths as given.

    wsgiref hands ``GET http://host/a`` on as PATH_INFO ``http://host/a``; the router reads
    ``/a`` from it, and :class:`~jwt_wsgi.proxy.ReverseProxy` forwards that same ``/a``.
    """
    absolute = None if path_info.startswith("/") else _ABSOLUTE_FORM.match(path_info)
    if absolute is None:
        return path_info
    return path_info[absolute.end():] or "/"


def readings(path_info: str) -> tuple[str, ...]:
    """The readings of PATH_INFO that an app or a server behind us might act on.

    PATH_INFO as delivered; with repeated slashes collapsed (all of them, or only the
    leading ones), dot segments kept; its canonical form; the same once more
    percent-decoded (up to three layers, while that changes it), so an encoded ``%2e%2e``
    or ``%2f`` cannot hide a protected path; with a leading slash put back; an
    absolute-form target's path; and bytes that are not UTF-8 dropped or written ``%XX``.
    """
    path = path_info or "/"
    if not path.isascii():
        try:
            path.encode("latin-1")
        except UnicodeEncodeError:
            # Not PEP 3333 text: bring it into the latin-1-of-UTF-8 space the rules use.
            try:
                path = path.encode("utf-8", "surrogateescape").decode("latin-1")
            except UnicodeEncodeError:  # a lone surrogate: no bytes could have sent it
                raise InvalidRequestError("Invalid characters in path") from None
    if _CONTROL.search(path):
        raise InvalidRequestError("Invalid characters in path")
    if not path.startswith("/") and _ABSOLUTE_FORM.match(path) is None:
        # wsgiref, waitress and werkzeug's server hand on a target without its leading
        # slash ("files/.."); werkzeug's router puts one back and keeps the dots.
        return tuple(dict.fromkeys([*readings("/" + path), path]))
    rest = origin_form(path)
    if rest != path:
        # An absolute-form request target (``GET http://host/admin``, RFC 9112 3.2.2)
        # that the server handed on as is (wsgiref does): its path is a reading too.
        return tuple(dict.fromkeys([*readings(rest), path, canonical(path)]))
    if "%" not in path and "//" not in path and "/." not in path and "\\" not in path \
            and not (path.endswith("/") and len(path) > 1) and path.startswith("/") \
            and (path.isascii() or not _without_invalid_utf8(path)):
        return (path,)
    found = [path, canonical(path)]
    # Repeated slashes collapsed, dot segments kept (werkzeug hands ``.`` and ``..`` to a
    # converter as values), and only the leading ones collapsed (what Flask and Falcon
    # ignore, keeping ``//`` further on inside a ``<path:>`` value).
    collapsed = _collapsed(path)
    # Decode again while it changes anything (bounded): a layer of encoding that some
    # proxy or app undoes must not hide a protected path.
    for _ in range(MAX_DECODES):
        if "%" not in found[-1]:
            break
        decoded = canonical(unquote_to_bytes(found[-1].encode("latin-1")).decode("latin-1"))
        if decoded == found[-1]:
            break
        if _CONTROL.search(decoded):
            raise InvalidRequestError("Invalid characters in path")
        found.append(decoded)
    # The same layers decoded without normalising in between: a proxy that decodes
    # ``/%61dmin/%2e%2e`` hands on ``/admin/..``, which a router may match as ``/admin/<path>``.
    raw, layers = path, []
    for _ in range(MAX_DECODES):
        if "%" not in raw:
            break
        decoded = unquote_to_bytes(raw.encode("latin-1")).decode("latin-1")
        if decoded == raw:
            break
        if _CONTROL.search(decoded):
            raise InvalidRequestError("Invalid characters in path")
        layers += [decoded, *_collapsed(decoded), canonical(decoded)]
        raw = decoded
    every = [path, *collapsed, found[1], *layers, *found[2:]]
    # Bottle decodes the path with errors="ignore": bytes that are not UTF-8 vanish
    # (``/admin%FF`` is routed as ``/admin``).
    every += [dropped for reading in every if not reading.isascii()
              for dropped in _without_invalid_utf8(reading)]
    return tuple(dict.fromkeys(every))


def _collapsed(path: str) -> list[str]:
    if "//" not in path:
        return []
    return [_SLASHES.sub("/", path), "/" + path.lstrip("/")]


def _without_invalid_utf8(reading: str) -> list[str]:
    """Bottle's reading of bytes that are not UTF-8 (dropped) and Django's (``%FF``)."""
    raw = reading.encode("latin-1")
    escaped = raw.decode("utf-8", "surrogateescape")
    if escaped.isascii() or not any("\udc80" <= char <= "\udcff" for char in escaped):
        return []
    dropped = raw.decode("utf-8", "ignore").encode("utf-8").decode("latin-1")
    quoted = "".join(f"%{ord(char) - 0xDC00:02X}" if "\udc80" <= char <= "\udcff" else char
                     for char in escaped).encode("utf-8").decode("latin-1")
    return [dropped, *_collapsed(dropped), canonical(dropped), quoted]
