"""What each setting is (:class:`Spec`) and the checks that need several settings at once.

:class:`~jwt_wsgi.settings.Settings` declares every setting with :func:`setting`; the
:class:`Spec` it attaches says how the value is converted, what ``None`` and a blank string
mean, how the mapping form splits list text, which ``JWT_*`` key sets it and whether
flask-jwt-extended 4.x defines that key, and one line of documentation.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .conversions import Converter, SettingError, blank_problem, is_loopback_url
from .durations import duration_problem
from .errors import ConfigError, SecurityWarning

if TYPE_CHECKING:
    from .settings import Settings

#: What ``None`` means for a setting: ``"default"`` (use the default), ``"unset"`` (a
#: value: no issuer, no key...), ``"never"`` (a lifetime stored as None, "no expiry",
#: which the keyword form refuses: write False or "never") or ``"invalid"``.
NoneMeaning = Literal["default", "unset", "never", "invalid"]

#: A leeway past this warns: clocks kept by NTP are seconds apart, not minutes.
LEEWAY_WARNING = 300.0


@dataclasses.dataclass(frozen=True)
class Spec:
    """One setting's metadata (see the module docstring)."""

    convert: Converter
    doc: str
    #: flask-jwt-extended's key for it: True for ``JWT_<NAME>``, a string for another name
    #: (``JWT_DECODE_AUDIENCE``), False when flask-jwt-extended has no such setting.
    flask: bool | str = True
    none: NoneMeaning = "invalid"
    #: A blank string reaches the converter: it is a value (``header_type=""``) or key
    #: material that :mod:`jwt_wsgi.keys` refuses in its own words.
    blank: bool = False
    #: How the mapping form splits a list written as text (not JSON list text).
    split: re.Pattern[str] | None = None
    #: The default as the reference shows it, when its value does not say it well.
    shown: str | None = None

    def key(self, name: str) -> str:
        """The ``JWT_*`` key the reference names (flask-jwt-extended's where it has one)."""
        return self.flask if isinstance(self.flask, str) else "JWT_" + name.upper()

    def shown_default(self, default: Any) -> str:
        if self.shown is not None:
            return self.shown
        return _show(default)


def setting(default: Any, convert: Converter, doc: str, *, flask: bool | str = True,
            none: NoneMeaning | None = None, blank: bool = False,
            split: re.Pattern[str] | None = None, shown: str | None = None,
            repr: bool = True) -> Any:
    """Declare one field of :class:`~jwt_wsgi.settings.Settings` with its :class:`Spec`.

    ``none`` defaults to ``"unset"`` when the default is None, else ``"invalid"``.
    """
    if none is None:
        none = "unset" if default is None else "invalid"
    spec = Spec(convert, doc, flask, none, blank, split, shown)
    return dataclasses.field(default=default, repr=repr, metadata={"spec": spec})


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
        return str(seconds)
    if isinstance(value, tuple):
        return ", ".join(value) if value else "unset"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value == "":
        return '""'
    return str(value)


def check_blank(name: str, spec: Spec, value: Any) -> None:
    """A blank string is never "off": refused unless the setting takes it as a value."""
    if isinstance(value, str) and not value.strip() and not spec.blank:
        raise SettingError(name, blank_problem())


def none_problem() -> str:
    """A lifetime given as None: a forgotten value (``os.environ.get``), never "no expiry"."""
    return (f"{duration_problem(never=True)}; not None (write False or 'never' for tokens "
            "that never expire, or leave it out for the default)")


def unknown(name: str, known: Iterable[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint}"


_PACKAGE = __name__.partition(".")[0]


def warn_security(message: str) -> None:
    """Warn with :class:`SecurityWarning` at the first line outside this package: the
    user's line that chose the weak setting, however deep in jwt_wsgi it is checked
    (``JWTManager(...)``, ``from_mapping``, an ``issuers`` entry all reach it at different
    depths, so no fixed ``stacklevel`` can be right)."""
    frame: Any = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == _PACKAGE:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SecurityWarning, stacklevel=level)


def check_together(s: Settings) -> None:
    """What no single setting can tell: CSRF against cookies, cookie names, SameSite."""
    if s.cookie_csrf_protect and "cookies" in s.token_location and not s.csrf_methods:
        raise SettingError("csrf_methods", "is empty, so cookie tokens would get no CSRF "
                           "check; list the methods to check, or set cookie_csrf_protect=False "
                           "to turn the check off on purpose")
    cookies = {name: getattr(s, name) for name in (
        "access_cookie_name", "refresh_cookie_name", "access_csrf_cookie_name",
        "refresh_csrf_cookie_name")}
    if "cookies" in s.token_location and len(set(cookies.values())) < len(cookies):
        raise ConfigError("the access, refresh and CSRF cookies need four different names "
                          f"(one would overwrite another): {cookies}")
    if s.cookie_samesite == "None" and not s.cookie_secure:
        raise ConfigError("cookie_samesite='None' requires cookie_secure=True (browsers drop "
                          "such cookies)")
    if s.leeway > LEEWAY_WARNING:
        warn_security(f"leeway={s.leeway:g} accepts tokens that expired {s.leeway:g} seconds "
                      "ago; clocks kept by NTP need a few seconds")
    if s.oidc_issuer is not None:
        _check_oidc_issuer(s)
    if s.signing_keys and s.private_key is not None:
        raise ConfigError("signing_keys replaces private_key: put the private key first in "
                          "signing_keys and leave private_key out")
    if s.signing_keys and s.public_key is not None:
        raise ConfigError("signing_keys replaces public_key: list the public key in "
                          "signing_keys after the key that signs")
    if s.secret_key_fallbacks and s.secret_key is None:
        raise ConfigError("secret_key_fallbacks verify beside secret_key: set secret_key to "
                          "the secret that signs now")
    if s.jwks_url is not None and s.jwks_url.startswith("http://") and not is_loopback_url(
            s.jwks_url):
        warn_security("jwks_url is plain http://: anyone on the path can swap the keys; "
                      "use https://")


def _check_oidc_issuer(s: Settings) -> None:
    """``oidc_issuer`` finds the keys and names the issuer: nothing may say otherwise."""
    if s.jwks_url is not None or s.jwks is not None:
        raise ConfigError("oidc_issuer finds the JWKS URL itself: leave jwks_url and jwks "
                          "out, or set jwks_url instead of oidc_issuer")
    if s.issuer is not None and s.issuer != s.oidc_issuer:
        raise ConfigError(f"issuer {s.issuer!r} differs from oidc_issuer {s.oidc_issuer!r}; "
                          "tokens of an OpenID provider carry its issuer URL: leave issuer out")
    object.__setattr__(s, "issuer", s.oidc_issuer)  # tokens must name the provider exactly
