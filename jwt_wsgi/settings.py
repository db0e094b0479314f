"""Settings: every option, its default, its conversion from strings, validated once.

``Settings`` holds the typed keyword options of :class:`~jwt_wsgi.JWTManager`. The
mapping form (``JWT_*`` keys, as in a Flask ``app.config`` or a PasteDeploy INI file)
converts into the same keywords. Defaults follow flask-jwt-extended 4.x.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import ipaddress
import json
import math
import re
import sys
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import ConfigError, SecurityWarning

LOCATIONS = ("headers", "cookies", "query_string", "json")
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
SAMESITE_VALUES = ("Lax", "Strict", "None")
#: What to do when one request offers a token in more than one location.
LOCATION_CONFLICT_CHOICES = ("reject", "first_location")


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated options of a manager. Build it with :meth:`build` or :meth:`from_mapping`."""

    secret_key: str | bytes | None = dataclasses.field(default=None, repr=False)
    private_key: str | bytes | None = dataclasses.field(default=None, repr=False)
    public_key: str | bytes | None = None
    algorithm: str = "HS256"
    decode_algorithms: tuple[str, ...] = ()
    access_token_expires: datetime.timedelta | None = datetime.timedelta(minutes=15)
    refresh_token_expires: datetime.timedelta | None = datetime.timedelta(days=30)
    token_location: tuple[str, ...] = ("headers",)
    location_conflict: str = "reject"
    header_name: str = "Authorization"
    header_type: str = "Bearer"
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    encode_audience: tuple[str, ...] = ()
    encode_issuer: str | None = None
    leeway: float = 0.0
    identity_claim: str = "sub"
    error_message_key: str = "msg"
    encode_nbf: bool = True
    verify_sub: bool = True
    require_exp: bool = False
    max_token_size: int = 8192
    max_body_size: int = 1024 * 1024
    realm: str | None = None
    json_key: str = "access_token"
    refresh_json_key: str = "refresh_token"
    query_string_name: str = "jwt"
    query_string_value_prefix: str = ""
    access_cookie_name: str = "access_token_cookie"
    access_cookie_path: str = "/"
    access_csrf_cookie_name: str = "csrf_access_token"
    access_csrf_cookie_path: str = "/"
    access_csrf_field_name: str = "csrf_token"
    access_csrf_header_name: str = "X-CSRF-TOKEN"
    refresh_cookie_name: str = "refresh_token_cookie"
    refresh_cookie_path: str = "/"
    refresh_csrf_cookie_name: str = "csrf_refresh_token"
    refresh_csrf_cookie_path: str = "/"
    refresh_csrf_field_name: str = "csrf_token"
    refresh_csrf_header_name: str = "X-CSRF-TOKEN"
    cookie_csrf_protect: bool = True
    cookie_domain: str | None = None
    cookie_samesite: str | None = None
    cookie_secure: bool = False
    csrf_check_form: bool = False
    csrf_in_cookies: bool = True
    csrf_methods: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")
    session_cookie: bool = True
    jwks_url: str | None = None
    oidc_issuer: str | None = None
    jwks: Mapping[str, Any] | None = None
    jwks_cache_seconds: float = 600.0
    jwks_refetch_seconds: float = 30.0
    jwks_timeout: float = 5.0
    token_cache_size: int = 1024
    issuers: Mapping[str, Mapping[str, Any]] | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def build(cls, **options: Any) -> Settings:
        """Convert and validate keyword options; raise :class:`ConfigError` on any problem."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in options.items():
            if name not in known:
                raise ConfigError(_unknown(name, known, "setting"))
            if value is None and name in _NONE_MEANS_DEFAULT:
                continue
            values[name] = _CONVERTERS.get(name, _identity)(name, value)
        settings = cls(**values)
        settings._validate()
        return settings

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Settings:
        """Build from ``JWT_*`` keys (a Flask ``app.config``, INI or environment strings).

        Keys without the ``JWT_`` prefix are ignored; every ``JWT_`` key that
        flask-jwt-extended 4.x defines is accepted; any other ``JWT_`` key is refused.
        """
        options: dict[str, Any] = {}
        known = {f.name for f in dataclasses.fields(cls)}
        for key, value in mapping.items():
            if not isinstance(key, str) or not key.startswith("JWT_"):
                continue
            name = _FLASK_ALIASES.get(key, key[4:].lower())
            if name in _FLASK_ONLY:
                continue
            if name not in known:
                raise ConfigError(_unknown(key, {"JWT_" + n.upper() for n in known}, "key"))
            if value is None:
                continue
            if isinstance(value, str) and not value.strip() and name not in _BLANK_MEANS_SOMETHING:
                # An INI line or environment variable left empty (a template not filled in)
                # must not quietly switch a check off: JWT_CSRF_METHODS= would mean no CSRF.
                raise ConfigError(f"{key} is blank: remove it to use the default, or give a value")
            if isinstance(value, str) and name in _LIST_SETTINGS:
                value = _split_text(key, value, _LIST_SETTINGS[name])
            if name in options and options[name] != value:
                raise ConfigError(f"{key} disagrees with another key for the same setting {name!r}")
            options[name] = value
        return cls.build(**options)

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        return self.decode_algorithms or (self.algorithm,)

    def _validate(self) -> None:
        for name in ("header_name", "identity_claim", "error_message_key", "json_key",
                     "refresh_json_key", "query_string_name", "access_cookie_name",
                     "refresh_cookie_name", "access_csrf_cookie_name",
                     "refresh_csrf_cookie_name", "access_csrf_header_name",
                     "refresh_csrf_header_name"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must be a non-empty string")
        if self.cookie_csrf_protect and "cookies" in self.token_location and not self.csrf_methods:
            raise ConfigError("csrf_methods is empty, so cookie tokens would get no CSRF check; "
                              "list the methods to check, or set cookie_csrf_protect=False "
                              "to turn the check off on purpose")
        if not HTTP_TOKEN.fullmatch(self.header_name):
            raise ConfigError(f"header_name {self.header_name!r} is not a valid HTTP header name")
        if self.header_type and not HTTP_TOKEN.fullmatch(self.header_type):
            raise ConfigError(
                f"header_type {self.header_type!r} must be one word such as 'Bearer', or '' "
                "for a bare token"
            )
        for name in ("access_cookie_name", "refresh_cookie_name", "access_csrf_cookie_name",
                     "refresh_csrf_cookie_name", "access_csrf_header_name",
                     "refresh_csrf_header_name"):
            if not HTTP_TOKEN.fullmatch(getattr(self, name)):
                raise ConfigError(f"{name} {getattr(self, name)!r} may only use letters, digits "
                                  "and !#$%&'*+.^_`|~- (an HTTP token)")
        cookies = {name: getattr(self, name) for name in (
            "access_cookie_name", "refresh_cookie_name", "access_csrf_cookie_name",
            "refresh_csrf_cookie_name")}
        if "cookies" in self.token_location and len(set(cookies.values())) < len(cookies):
            raise ConfigError("the access, refresh and CSRF cookies need four different names "
                              f"(one would overwrite another): {cookies}")
        if any(c in self.query_string_name for c in "&=#;+% ") or not \
                self.query_string_name.isprintable():
            raise ConfigError(f"query_string_name {self.query_string_name!r} can never be "
                              "matched: use letters, digits, '-', '_' or '.'")
        for name in ("access_cookie_path", "refresh_cookie_path", "access_csrf_cookie_path",
                     "refresh_csrf_cookie_path"):
            if not _COOKIE_PATH.fullmatch(getattr(self, name)):
                raise ConfigError(f"{name} must start with '/' and hold no ';', space or "
                                  f"control character, not {getattr(self, name)!r}")
        if self.cookie_domain is not None and not _COOKIE_DOMAIN.fullmatch(self.cookie_domain):
            raise ConfigError(f"cookie_domain {self.cookie_domain!r} is not a host name")
        if not self.token_location:
            raise ConfigError("token_location must name at least one of " + ", ".join(LOCATIONS))
        if self.cookie_samesite == "None" and not self.cookie_secure:
            raise ConfigError(
                "cookie_samesite='None' requires cookie_secure=True (browsers drop such cookies)"
            )
        for name in ("max_token_size", "max_body_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive number of bytes")
        if self.token_cache_size < 0:
            raise ConfigError("token_cache_size must be 0 (off) or a positive number of entries")
        for name in ("jwks_cache_seconds", "jwks_refetch_seconds", "jwks_timeout"):
            if not 0 < getattr(self, name) <= _LONGEST_WAIT[name]:
                raise ConfigError(f"{name} must be a number of seconds above 0 and at most "
                                  f"{_LONGEST_WAIT[name]:g}, not {getattr(self, name)!r}")
        self._validate_oidc_issuer()
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ConfigError("jwks_url must be an http:// or https:// URL")
        if self.jwks_url is not None and self.jwks_url.startswith("http://") and not _loopback(
                self.jwks_url):
            warn_security("jwks_url is plain http://: anyone on the path can swap the keys; "
                          "use https://")

    def _validate_oidc_issuer(self) -> None:
        url = self.oidc_issuer
        if url is None:
            return
        if not (url.startswith("https://") or (url.startswith("http://") and _loopback(url))):
            raise ConfigError("oidc_issuer must be an https:// URL (http:// only on a loopback "
                              "address), such as https://idp.example/realms/main")
        if self.jwks_url is not None or self.jwks is not None:
            raise ConfigError("oidc_issuer finds the JWKS URL itself: leave jwks_url and jwks "
                              "out, or set jwks_url instead of oidc_issuer")
        if self.issuer is not None and self.issuer != url:
            raise ConfigError(f"issuer {self.issuer!r} differs from oidc_issuer {url!r}; tokens "
                              "of an OpenID provider carry its issuer URL: leave issuer out")
        object.__setattr__(self, "issuer", url)  # tokens must name the provider exactly


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


# -- conversions ----------------------------------------------------------------------

#: An HTTP token (RFC 9110 5.6.2): header names, methods, auth schemes, cookie names.
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_COOKIE_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_COOKIE_DOMAIN = re.compile(rf"\.?{_LABEL}(?:\.{_LABEL})*")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# "0" is not among them: a lifetime of 0 seconds is refused, not read as "never expires".
_NO_EXPIRY = (_FALSE - {"0"}) | {"never"}
_DURATION = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ANY_SEPARATOR = re.compile(r"[\s,]+")
_COMMA = re.compile(r",")
# List settings and how the mapping form splits their text when it is not JSON list text:
# names of locations, algorithms and methods have no blanks, audiences may.
_LIST_SETTINGS = {
    "token_location": _ANY_SEPARATOR,
    "decode_algorithms": _ANY_SEPARATOR,
    "csrf_methods": _ANY_SEPARATOR,
    "audience": _COMMA,
    "encode_audience": _COMMA,
}

# flask-jwt-extended names that map onto ours, and the ones it has that mean nothing here.
_FLASK_ALIASES = {
    "JWT_DECODE_AUDIENCE": "audience",
    "JWT_DECODE_ISSUER": "issuer",
    "JWT_DECODE_LEEWAY": "leeway",
}
_FLASK_ONLY: frozenset[str] = frozenset()
_NONE_MEANS_DEFAULT = frozenset({
    "decode_algorithms", "audience", "encode_audience", "token_location", "csrf_methods",
})


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name such as 127.evil.example is not an address
        return False


#: The longest sensible value of each JWKS timing (a day; an hour for one fetch), far
#: below what the lock and socket timeouts can hold.
_LONGEST_WAIT = {"jwks_cache_seconds": 86400.0, "jwks_refetch_seconds": 86400.0,
                 "jwks_timeout": 3600.0}


# Settings where an empty string is a meaningful value, not a forgotten one.
_BLANK_MEANS_SOMETHING = frozenset({"header_type", "query_string_value_prefix"})


def _unknown(name: str, known: Iterable[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint}"


def _identity(name: str, value: Any) -> Any:
    return value


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _to_number(name: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, datetime.timedelta):
        number = value.total_seconds()
    elif isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    elif isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        number = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    else:
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{name} must be a finite number >= {minimum:g}, not {value!r}")
    return number


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{name} must be a whole number, not {value!r}")


def _to_float(name: str, value: Any) -> float:
    return _to_number(name, value)


def _to_expiry(name: str, value: Any) -> datetime.timedelta | None:
    """A lifetime: a timedelta, seconds, '15m'/'30d', or False (or 'never', as the command
    line's ``--expires never``) for tokens that never expire."""
    if value is False or (isinstance(value, str) and value.strip().lower() in _NO_EXPIRY):
        return None
    seconds = _to_number(name, value)
    if not 1 <= seconds <= _LONGEST_LIFETIME:
        # Under a second, exp is the minting second itself; past a century, it soon passes
        # the largest NumericDate this library accepts (9999-12-31).
        raise ConfigError(f"{name} must be a duration from 1 second to 100 years, or False "
                          f"for no expiry, not {value!r}")
    return datetime.timedelta(seconds=seconds)


_LONGEST_LIFETIME = 100 * 366 * 86400


def _split_text(name: str, text: str, separators: re.Pattern[str]) -> list[Any]:
    """A list setting written as a string (INI, environment): JSON list text such as
    ``["a", "b"]``, or items separated by ``separators`` (blanks around them dropped)."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not isinstance(items, list):
            raise ConfigError(f"{name} starts with '[' but is not JSON list text such as "
                              f'["a", "b"]: {text!r}') from None
    else:
        items = [part.strip() for part in separators.split(text) if part.strip()]
    if not items:
        # "," or "[]" from a template whose variables were unset: refusing is safer than
        # an empty audience list, which would switch the audience check off.
        raise ConfigError(f"{name} {text!r} names nothing; give a value or leave {name} out")
    return items


def _to_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [part for part in _ANY_SEPARATOR.split(value) if part]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        raise ConfigError(f"{name} must be a list of strings, not {value!r}")
    if not all(isinstance(item, str) and item for item in items):
        raise ConfigError(f"{name} must be a list of non-empty strings, not {value!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} lists a value twice: {value!r}")
    return tuple(items)


def _to_audience(name: str, value: Any) -> tuple[str, ...]:
    """Audiences: a string is ONE audience (a URI may hold commas, a name spaces); only the
    mapping form splits its text (on commas), see :meth:`Settings.from_mapping`."""
    if isinstance(value, str):
        return (value,) if value else ()
    return _to_list(name, value)


def _to_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _to_optional_str(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _to_str(name, value)


def _to_key(name: str, value: Any) -> str | bytes | None:
    if value is None:
        return None
    if not isinstance(value, (str, bytes)):
        raise ConfigError(f"{name} must be a string or bytes, not {type(value).__name__}")
    return value


def _to_locations(name: str, value: Any) -> tuple[str, ...]:
    items = _to_list(name, value)
    for item in items:
        if item not in LOCATIONS:
            raise ConfigError(_unknown(item, LOCATIONS, "token location") +
                              f" (choose from {', '.join(LOCATIONS)})")
    return items


def _to_location_conflict(name: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in LOCATION_CONFLICT_CHOICES:
        return value.strip().lower()
    raise ConfigError(f"{name} must be 'reject' (a token in two locations is a 400) or "
                      f"'first_location' (the first of token_location wins), not {value!r}")


def _to_methods(name: str, value: Any) -> tuple[str, ...]:
    items = tuple(item.upper() for item in _to_list(name, value))
    for item in items:
        if item not in HTTP_METHODS:
            raise ConfigError(f"{name}: unknown HTTP method {item!r}")
    return items


def _to_samesite(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    for choice in SAMESITE_VALUES:
        if isinstance(value, str) and value.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of Lax, Strict, None or unset, not {value!r}")


def _to_algorithm(name: str, value: Any) -> str:
    return _to_str(name, value).strip()


def _to_jwks(name: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{name} must be a JWKS object or its JSON text") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("keys"), list):
        raise ConfigError(f"{name} must be a JWKS object with a 'keys' list")
    return value


def _to_issuers(name: str, value: Any) -> Mapping[str, Mapping[str, Any]] | None:
    """``{iss: {keys..., audience, algorithms}}``, or its JSON text (INI, environment)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{name} must be a mapping of issuer to settings, or its JSON "
                              "text") from None
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()):
        raise ConfigError(f"{name} must map each issuer ('iss' value) to a dict such as "
                          "{'jwks_url': ..., 'audience': ..., 'algorithms': ['RS256']}")
    return {k: dict(v) for k, v in value.items()}


_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "secret_key": _to_key,
    "private_key": _to_key,
    "public_key": _to_key,
    "algorithm": _to_algorithm,
    "decode_algorithms": _to_list,
    "access_token_expires": _to_expiry,
    "refresh_token_expires": _to_expiry,
    "token_location": _to_locations,
    "location_conflict": _to_location_conflict,
    "audience": _to_audience,
    "encode_audience": _to_audience,
    "issuer": _to_optional_str,
    "encode_issuer": _to_optional_str,
    "leeway": _to_float,
    "encode_nbf": _to_bool,
    "verify_sub": _to_bool,
    "require_exp": _to_bool,
    "max_token_size": _to_int,
    "max_body_size": _to_int,
    "realm": _to_optional_str,
    "cookie_csrf_protect": _to_bool,
    "cookie_domain": _to_optional_str,
    "cookie_samesite": _to_samesite,
    "cookie_secure": _to_bool,
    "csrf_check_form": _to_bool,
    "csrf_in_cookies": _to_bool,
    "csrf_methods": _to_methods,
    "session_cookie": _to_bool,
    "jwks_url": _to_optional_str,
    "oidc_issuer": _to_optional_str,
    "jwks": _to_jwks,
    "jwks_cache_seconds": _to_float,
    "jwks_refetch_seconds": _to_float,
    "jwks_timeout": _to_float,
    "token_cache_size": _to_int,
    "issuers": _to_issuers,
}
for _field in dataclasses.fields(Settings):
    if _field.type == "str":
        _CONVERTERS.setdefault(_field.name, _to_str)

