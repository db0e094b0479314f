"""Rules: one ``"[METHODS ]PATTERN" -> policy`` entry compiled into segment shapes.

A rule is matched segment by segment (:mod:`jwt_wsgi.matcher`), in three readings of its
converters: werkzeug's regexes on PEP 3333 text (``"latin-1"``), on the UTF-8 text a
framework decodes (``"text"``, where ``\\d`` matches digits of every script), and the
lenient reading of routers whose converters parse (``"lenient"``: Bottle's ``int`` takes
``-1``, Falcon's ``1_0`` and empty values). :data:`jwt_wsgi.readings.ROUTERS` says which
router reads which way.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from werkzeug.routing import Map
from werkzeug.routing.converters import (
    DEFAULT_CONVERTERS,
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    NumberConverter,
    UnicodeConverter,
    UUIDConverter,
    ValidationError,
)
from werkzeug.routing.rules import parse_converter_args

from .errors import ConfigError
from .matcher import ANY_PATH, BELOW, BELOW_WERKZEUG, EXACT, PATH, Dynamic, Part, Shape, match
from .patterns import VARIABLE, split_key
from .policy import Policy

# Kinds of segment, for specificity: lower is more specific.
STATIC, CONVERTER, PATH_SEGMENT, END, WILDCARD = 0, 1, 2, 3, 4
_PATH_REGEX = DEFAULT_CONVERTERS["path"].regex
_MAP = Map()
# What Python's int() takes besides digits: a lenient router's int reads these (Bottle "-1",
# Falcon "1_0"); anything else it refuses, so a narrower regex loses no reading.
_LENIENT_INT = r"\s*[+-]?[\d_]+\s*"
# A string of at most this many characters is short enough to rescan at every place.
_SHORT = 64
_BOUNDED = re.compile(r"\[\^/\]\{(?:\d*,)?(\d+)\}")
_ANY_VALUE = ("[^/]+", "[^/]{1,}", "[^/]*", "[^/]{0,}")
_CONVERTER_HINTS = {"str": "<name> or <string:name>", "slug": "<name> (or register a slug "
                    "converter with converters=)", "integer": "<int:name>",
                    "number": "<int:name> or <float:name>", "re": "a converter class",
                    "regex": "a converter class"}


class Weighting(NamedTuple):
    """How specific a rule is; lower sorts first (werkzeug's ``rules.Weighting`` in spirit).

    Two rules with equal weightings tie: both apply where both match.
    """

    #: per segment: ``(STATIC,)``, ``(CONVERTER, -static parts, converter weight)``,
    #: ``(PATH_SEGMENT,)``, then ``(WILDCARD,)`` and ``(END,)``
    segments: tuple[tuple[int, ...], ...]
    #: 1 for a rule without methods: a method-specific rule beats an any-method one
    any_method: int
    #: minus the length of the static text: more text is more specific
    static_length: int


class Variable(NamedTuple):
    """A ``<converter(args):name>`` of a pattern."""

    name: str
    converter: BaseConverter
    spec: str


Segment = list[Any]  # static strings and Variables, in order


class Rule:
    """One compiled route: its methods, its shapes, its converters and its weighting."""

    __slots__ = ("converters", "index", "key", "lenient", "methods", "policy", "shapes",
                 "slash", "static_prefix", "template", "weighting", "wildcard")

    def __init__(self, key: str, policy: Policy, index: int,
                 converters: Mapping[str, type[BaseConverter]]) -> None:
        self.key = key
        self.policy = policy
        self.index = index
        self.methods, pattern = split_key(key)
        self.wildcard = pattern == "/*" or pattern.endswith("/*")
        body = pattern[:-2] if self.wildcard else pattern
        #: The pattern ends with a slash: its own spelling was written on purpose.
        self.slash = len(pattern) > 1 and pattern.endswith("/")
        parsed = self._parse(body, converters)
        self.converters = [(item.name, item.converter) for segment in parsed
                           for item in segment if isinstance(item, Variable)]
        for segment in parsed:
            self._refuse_backtracking(segment)
        self.shapes = {space: self._shape(parsed, space)
                       for space in ("latin-1", "text", "lenient", "falcon", "werkzeug")}
        #: Whether the lenient readings differ from the UTF-8 text one.
        self.lenient = self.shapes["lenient"] != self.shapes["text"] \
            or self.shapes["falcon"] != self.shapes["text"]
        self.weighting = Weighting(
            tuple(self._weight(segment) for segment in parsed)
            + ((WILDCARD,),) * self.wildcard + ((END,),),
            1 if self.methods is None else 0,
            -sum(len(item) for segment in parsed for item in segment if isinstance(item, str)))
        #: The pattern with variable names left out: two rules with the same template
        #: match the same paths.
        self.template = VARIABLE.sub(lambda m: f"<{m.group('converter') or 'default'}"
                                     f"({m.group('args') or ''})>", _latin1(pattern))
        #: The leading segments of the pattern that are plain text: a path this rule
        #: matches has exactly these as its first segments.
        prefix: list[str] = []
        for segment in parsed[:-1] if self.slash else parsed:
            if any(isinstance(item, Variable) for item in segment):
                break
            prefix.append(_latin1("".join(segment)))
        self.static_prefix = tuple(prefix)

    @classmethod
    def parse(cls, key: str, value: Any,
              converters: Mapping[str, type[BaseConverter]] | None = None) -> Rule:
        """One rule on its own, checked as the table would check it."""
        return cls(key, Policy.parse(value, f"route {key!r}"), 0,
                   {**DEFAULT_CONVERTERS, **(converters or {})})

    @property
    def sort_key(self) -> tuple[Weighting, int]:
        return self.weighting, self.index

    def _parse(self, body: str, converters: Mapping[str, type[BaseConverter]]) -> list[Segment]:
        """The pattern's segments, each a list of static text and variables."""
        segments: list[Segment] = [[]]
        names: set[str] = set()
        position = 0
        for found in VARIABLE.finditer(body):
            self._add_static(segments, body[position:found.start()])
            name = found.group("variable")
            if name in names:
                raise ConfigError(f"route {self.key!r}: variable {name!r} appears twice")
            names.add(name)
            segments[-1].append(Variable(name, self._converter(found, converters),
                                         f"{found.group('converter') or 'default'}"))
            position = found.end()
        self._add_static(segments, body[position:])
        parsed = segments[1:]  # the pattern starts with "/": nothing stands before it
        for number, segment in enumerate(parsed):
            paths = [item for item in segment if isinstance(item, Variable) and _is_path(item)]
            if paths and len(segment) > 1:
                raise ConfigError(f"route {self.key!r}: a <path:> must be a whole segment "
                                  f"('/files/<path:{paths[0].name}>'), not part of one")
            if paths and (self.wildcard or any(
                    isinstance(item, Variable) and _is_path(item)
                    for other in parsed[number + 1:] for item in other)):
                raise ConfigError(f"route {self.key!r}: one <path:> a rule (it already covers "
                                  "everything below; two would make matching ambiguous and "
                                  "slow): use one <path:> or a trailing '/*'")
        return parsed

    def _add_static(self, segments: list[Segment], text: str) -> None:
        if "<" in text or ">" in text:
            raise ConfigError(f"route {self.key!r}: malformed variable near {text!r} "
                              "(werkzeug syntax: '<name>', '<int:name>', '<path:name>')")
        pieces = text.split("/")
        if pieces[0]:
            segments[-1].append(pieces[0])
        segments.extend([piece] if piece else [] for piece in pieces[1:])

    def _converter(self, found: re.Match[str],
                   converters: Mapping[str, type[BaseConverter]]) -> BaseConverter:
        name = found.group("converter") or "default"
        cls = converters.get(name)
        if cls is None:
            hint = _CONVERTER_HINTS.get(name)
            raise ConfigError(f"route {self.key!r}: unknown converter {name!r}"
                              + (f" (werkzeug spells it {hint})" if hint else "")
                              + f"; known: {', '.join(sorted(converters))}")
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if found.group("args"):
            try:
                args, kwargs = parse_converter_args(found.group("args"))
            except Exception:  # noqa: BLE001 - werkzeug raises several kinds here
                raise ConfigError(f"route {self.key!r}: bad converter arguments") from None
        try:
            converter = cls(_MAP, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a user converter may raise anything
            raise ConfigError(f"route {self.key!r}: converter {name!r}: {exc}") from None
        if not getattr(converter, "part_isolating", True) and converter.regex != _PATH_REGEX:
            raise ConfigError(f"route {self.key!r}: converter {name!r} matches '/'; only "
                              "<path:> may span segments (or give it part_isolating = True)")
        return converter

    def _refuse_backtracking(self, segment: Segment) -> None:
        """Refuse a segment whose regex could take more than linear time on one segment.

        Variables are matched left to right; one whose value may hold the text that follows
        it (a plain ``<name>`` before ``.``) makes the regex try every place that text
        occurs. That is linear for one such variable if the variables after it cannot hold
        the text before them (so each place is tried once): ``<name>.<fmt>`` and
        ``<int:id>.<fmt>`` are fine, ``<a>.<b>.json`` and ``<a>-<b>-<c>`` are quadratic.
        """
        variables = [i for i, item in enumerate(segment) if isinstance(item, Variable)]
        for before, after in itertools.pairwise(variables):
            if after == before + 1:
                raise ConfigError(f"route {self.key!r}: variables need text between them "
                                  "in a segment ('<name>.<fmt>', not '<name><fmt>')")
        for lenient in (False, True):
            open_: Variable | None = None
            for i in variables:
                variable = segment[i]
                text_after = segment[i + 1] if i + 1 < len(segment) else ""
                text_before = segment[i - 1] if i > 0 else ""
                # After the open variable, each place it leaves is tried: a variable that
                # may hold the text before it would rescan the same characters each time,
                # unless it ends the segment and cannot fail once it gets there.
                if open_ is not None and text_before and not (
                        not text_after and _ends_anyhow(variable, lenient)) and _may_hold(
                            variable, text_before[0], lenient):
                    raise self._backtracking_error(segment, open_, variable, text_before)
                if text_after and _may_hold(variable, text_after[0], lenient):
                    if open_ is not None:
                        raise self._backtracking_error(segment, open_, variable, text_after)
                    open_ = variable

    def _backtracking_error(self, segment: Segment, first: Variable, second: Variable,
                            text: str) -> ConfigError:
        spelled = "".join(item if isinstance(item, str) else f"<{item.name}>"
                          for item in segment)
        return ConfigError(
            f"route {self.key!r}: segment {spelled!r} could take quadratic time to match "
            f"a long path: <{first.name}> and <{second.name}> may both hold {text[0]!r}. "
            "Give the later variables a converter that cannot hold the text around them "
            f"(<int:{second.name}>, <any(...):{second.name}>), or put them in segments of "
            "their own")

    def _shape(self, parsed: list[Segment], space: str) -> Shape:
        last = len(parsed) - 1
        head: list[Part] = []
        tail: list[Part] = []
        target = head
        middle = (BELOW_WERKZEUG if space == "werkzeug" else BELOW) if self.wildcard else EXACT
        for number, segment in enumerate(parsed):
            if any(isinstance(item, Variable) and _is_path(item) for item in segment):
                middle = ANY_PATH if space in ("lenient", "falcon") else PATH
                target = tail  # what follows the <path:> is matched from the end
                continue
            target.append(self._part(segment, space, number == last and not self.wildcard))
        static = all(isinstance(part, str) for part in (*head, *tail))
        return Shape(tuple(head), tuple(tail), middle, static)

    def _part(self, segment: Segment, space: str, final: bool) -> Part:
        pep3333 = space in ("latin-1", "werkzeug")
        if not any(isinstance(item, Variable) for item in segment):
            text = "".join(segment)
            return _latin1(text) if pep3333 else text
        regex = []
        needs = []
        for position, item in enumerate(segment):
            if isinstance(item, str):
                needs.append(_latin1(item) if pep3333 else item)
                regex.append(re.escape(needs[-1]))
                continue
            value = item.converter.regex
            if pep3333:
                value = _latin1(value)
            elif space in ("lenient", "falcon"):
                # Falcon's plain {name} takes "" as a whole segment anywhere (/u//edit runs
                # /u/{name}/edit), a reading of its own: not mixed with Django's lenient
                # <path:>, which a Falcon route next to it would not be.
                last = final and position == len(segment) - 1
                whole = space == "falcon" and len(segment) == 1
                value = _lenient_form(item.converter, last or whole) or value
            regex.append(f"(?P<{item.name}>{value})")
        return Dynamic(re.compile("".join(regex), re.DOTALL), tuple(needs))

    def _weight(self, segment: Segment) -> tuple[int, ...]:
        """Lower is more specific: static text; then, as werkzeug ranks them, a segment
        with more static parts (``<name>.<fmt>`` before ``<float:v>``), then converters by
        their ``weight`` (numbers 50 before strings 100); then ``<path:>``."""
        variables = [item for item in segment if isinstance(item, Variable)]
        if not variables:
            return (STATIC,)
        if any(_is_path(item) for item in variables):
            return (PATH_SEGMENT,)
        weight = max(int(getattr(item.converter, "weight", 100)) for item in variables)
        static_parts = sum(1 for item in segment if isinstance(item, str))
        return (CONVERTER, -static_parts, weight)

    def match(self, method: str, path: Sequence[str] | str, space: str = "latin-1") -> bool:
        """Does the rule match the path (its segments, or the path itself) in one reading?"""
        if self.methods is not None and method not in self.methods and not (
            method == "HEAD" and "GET" in self.methods
        ):
            return False
        if isinstance(path, str):
            if path[:1] != "/":
                return False
            path = path[1:].split("/")
        found = match(self.shapes[space], path)
        if found is None:
            return False
        if not self.converters:
            return True
        converters = dict(self.converters)
        for matched in found:
            for name, value in matched.groupdict().items():
                try:
                    converters[name].to_python(value)
                except (ValidationError, ValueError, TypeError, OverflowError):
                    return False
        return True


def _is_path(variable: Variable) -> bool:
    return variable.converter.regex == _PATH_REGEX


def _may_hold(variable: Variable, char: str, lenient: bool) -> bool:
    """Whether a value of the variable's regex may hold ``char`` past its first character
    (when unsure: yes). A number's sign is its first character only."""
    converter = variable.converter
    kind = type(converter)
    if kind is IntegerConverter:
        return char.isdecimal() or (lenient and (char == "_" or char.isspace()))
    if lenient and isinstance(converter, (NumberConverter, UUIDConverter)):
        return True
    if kind is FloatConverter:
        return char.isdecimal() or char == "."
    if kind is UUIDConverter:
        return char in "0123456789abcdefABCDEF-"
    if isinstance(converter, AnyConverter):
        return any(char in item[1:] for item in converter.items)
    return True  # strings, custom converters: anything


def _ends_anyhow(variable: Variable, lenient: bool) -> bool:
    """Whether the variable, last in its segment, matches whatever rest it is given (a
    plain string) or gives up after a few characters (``any``, ``uuid``)."""
    converter = variable.converter
    regex = (_lenient_form(converter) if lenient else None) or converter.regex
    bounded = _BOUNDED.fullmatch(regex)
    return regex in _ANY_VALUE or isinstance(converter, AnyConverter) or (
        type(converter) is UUIDConverter and not lenient) or (
        bounded is not None and int(bounded.group(1)) <= _SHORT)


def _lenient_form(converter: BaseConverter, last: bool = True) -> str | None:
    """The regex a lenient router's reading gives a converter, or ``None`` for its own."""
    if type(converter) is IntegerConverter:
        return _LENIENT_INT
    if isinstance(converter, (NumberConverter, UUIDConverter)):
        return "[^/]+"
    if last and (converter.regex in ("[^/]+", "[^/]{1,}") or (
            isinstance(converter, UnicodeConverter) and converter.regex == "[^/]+")):
        return "[^/]*"  # Falcon's {uid} takes "" at the end of a route (/users/)
    return None


def _latin1(text: str) -> str:
    """Text in the PEP 3333 space the paths arrive in: each UTF-8 byte one character."""
    return text.encode("utf-8").decode("latin-1")
