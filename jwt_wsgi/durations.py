"""Durations: lifetimes, leeway and timeouts, read the same way and refused in the same words.

A duration is a :class:`~datetime.timedelta`, a number of seconds, or text: ``900``,
``90s``, ``15m``, ``2h``, ``30d`` (ASCII digits, a decimal point allowed, one unit).
Lifetimes also take ``never`` (or ``False``) for tokens without ``exp``.
:func:`duration_problem` builds every message, for the settings and the command line.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

from .conversions import Converter, SettingError

#: Words for "no expiry". "0" is not one: a lifetime of 0 seconds is refused, not read as
#: "never expires".
NEVER = frozenset({"never", "false", "no", "off"})
# ASCII only: \d would also take Arabic-Indic and other Unicode digits.
_DURATION = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]+)?)\s*([smhd])?\s*",
                       re.IGNORECASE | re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The forms every duration message lists, from the settings to ``jwt-wsgi token --expires``.
DURATION_EXAMPLES = "900, 90s, 15m, 2h, 30d"
#: The longest token lifetime: past a century, exp soon passes the largest NumericDate
#: this library accepts (9999-12-31).
LONGEST_LIFETIME = 100 * 366 * 86400


def span(seconds: float) -> str:
    """A number of seconds as a reader says it: ``15 minutes``, ``2 hours``, ``90 seconds``."""
    if seconds == LONGEST_LIFETIME:
        return "100 years"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


def duration_problem(low: float | None = None, high: float | None = None, *,
                     above: bool = False, never: bool = False) -> str:
    """What a duration must look like: the one message the settings and the CLI share.

    Without bounds it says which forms are read; with them, which range is accepted.
    """
    no_expiry = ", or never for no expiry" if never else ""
    if low is None or high is None:
        return (f"must be a number of seconds or a duration: {DURATION_EXAMPLES}{no_expiry}")
    lower = f"above {span(low)} and at most" if above else f"from {span(low)} to"
    return f"must be a duration {lower} {span(high)} ({DURATION_EXAMPLES}){no_expiry}"


def _seconds_of(name: str, value: Any, never: bool) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        return float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    raise SettingError(name, f"{duration_problem(never=never)}; not {value!r}")


def to_seconds(name: str, value: Any, low: float, high: float, *,
               above: bool = False) -> float:
    """A duration in seconds within ``[low, high]`` (``(low, high]`` with ``above``)."""
    seconds = _seconds_of(name, value, never=False)
    if not (math.isfinite(seconds) and (seconds > low if above else seconds >= low)
            and seconds <= high):
        raise SettingError(name, f"{duration_problem(low, high, above=above)}; not {value!r}")
    return seconds


def to_lifetime(name: str, value: Any) -> datetime.timedelta | None:
    """A token lifetime: a timedelta, seconds, ``"15m"``, ``"30d"``; ``False`` or
    ``"never"`` for tokens that never expire (returned as ``None``)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in NEVER):
        return None
    seconds = _seconds_of(name, value, never=True)
    # Under a second, exp is the minting second itself.
    if not (math.isfinite(seconds) and 1 <= seconds <= LONGEST_LIFETIME):
        raise SettingError(name, duration_problem(1, LONGEST_LIFETIME, never=True)
                           + f"; not {value!r}")
    return datetime.timedelta(seconds=seconds)


def to_number(name: str, value: Any) -> float:
    """Seconds, at least 0 (the ``timeout`` of the proxy and blocklist tables)."""
    return to_seconds(name, value, 0, math.inf)


def seconds(low: float, high: float, *, above: bool = False) -> Converter:
    """A converter of durations within bounds (see :func:`to_seconds`)."""
    def convert(name: str, value: Any) -> float:
        return to_seconds(name, value, low, high, above=above)
    return convert


#: The largest leeway: past it an expired token is no longer "a little" expired.
LONGEST_LEEWAY = 3600.0


def to_leeway(name: str, value: Any) -> float:
    return to_seconds(name, value, 0, LONGEST_LEEWAY)
