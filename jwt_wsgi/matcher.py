"""The matcher: one compiled rule against the segments of one path, in linear time.

A rule is compiled into a :class:`Shape` for each way of reading converters: the parts it
expects at the head of the path, the parts at its tail, and what may stand between them
(nothing, the segments of a ``<path:>``, or anything below a ``/*``). A part is a static
segment (a string compared as is) or a segment with variables (a regex run on that one
segment). No regex ever sees more than one segment, and a rule has at most one part that
spans segments, so a rule is matched in time linear in the path: the head and tail are
compared segment by segment, the middle only counted. Segments with several variables are
compiled only when their regex cannot backtrack more than linearly (see
:func:`jwt_wsgi.rules.Rule`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple


class Dynamic(NamedTuple):
    """A segment with variables: its regex, and the static text any match contains (looked
    for first: a segment without it is no match, however long)."""

    regex: re.Pattern[str]
    needs: tuple[str, ...]


Part = str | Dynamic

#: What may stand between a rule's head and tail.
EXACT = 0          # nothing: the path has exactly the rule's segments
PATH = 1           # a <path:>: one segment or more, the first not empty
ANY_PATH = 2       # a lenient <path:> (Falcon, Django): one segment or more, any
BELOW = 3          # "/prefix/*": anything, nothing included
BELOW_WERKZEUG = 4  # "/prefix/*" as werkzeug's <path:> reads it: not "/prefix//x"


class Shape(NamedTuple):
    """A rule as the matcher sees it in one reading of converters."""

    head: tuple[Part, ...]
    tail: tuple[Part, ...]
    middle: int
    #: every part is a static segment: the head is compared as one tuple
    static: bool


def segments(path: str) -> list[str] | None:
    """The segments of a path that starts with ``/``; ``None`` for any other path."""
    if path[:1] != "/":
        return None
    return path[1:].split("/")


def match(shape: Shape, parts: Sequence[str]) -> list[re.Match[str]] | None:
    """The regex matches of the rule's variable segments, or ``None`` if it does not match."""
    count, head, tail = len(parts), len(shape.head), len(shape.tail)
    middle = shape.middle
    if middle == EXACT:
        if count != head:
            return None
    elif middle == BELOW:
        if count < head:
            return None
    elif middle == BELOW_WERKZEUG:
        # "/prefix", "/prefix/" and "/prefix/x..." but not "/prefix//x"
        if count < head or (count > head + 1 and parts[head] == ""):
            return None
    elif count < head + 1 + tail or (middle == PATH and parts[head] == ""):
        return None
    if shape.static:
        if tuple(parts[:head]) != shape.head:
            return None
        return [] if not tail or tuple(parts[count - tail:]) == shape.tail else None
    found: list[re.Match[str]] = []
    for part, segment in zip(shape.head, parts, strict=False):
        if not _part(part, segment, found):
            return None
    for part, segment in zip(shape.tail, parts[count - tail:], strict=True):
        if not _part(part, segment, found):
            return None
    return found


def _part(part: Part, segment: str, found: list[re.Match[str]]) -> bool:
    if isinstance(part, str):
        return part == segment
    for text in part.needs:
        if text not in segment:
            return False
    matched = part.regex.fullmatch(segment)
    if matched is None:
        return False
    found.append(matched)
    return True
