"""Conversions: one setting's value, typed or written as text, to the type it is stored as.

Each converter takes ``(name, value)`` and returns the stored value or raises
:class:`SettingError` naming the setting and saying how to fix it. Converters accept their
own output, so converting twice changes nothing. Text is read strictly: numbers are ASCII
digits only (no ``²`` or other Unicode digits, no ``1_000``, ``+5``, ``1e3``, ``nan``), a
boolean is never a number and a blank string is never "off".
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import ConfigError

LOCATIONS = ("headers", "cookies", "query_string", "json")
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
SAMESITE_VALUES = ("Lax", "Strict", "None")
#: What to do when one request offers a token in more than one location.
LOCATION_CONFLICT_CHOICES = ("reject", "first_location")

#: An HTTP token (RFC 9110 5.6.2): header names, methods, auth schemes, cookie names.
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
COOKIE_PATH = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
COOKIE_DOMAIN = re.compile(rf"\.?{_LABEL}(?:\.{_LABEL})*")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# ASCII only: \d would also take Arabic-Indic and other Unicode digits.
_WHOLE = re.compile(r"\s*-?[0-9]+\s*")
ANY_SEPARATOR = re.compile(r"[\s,]+")
COMMA = re.compile(r",")

#: ``convert(name, value) -> stored value``; raises :class:`SettingError`.
Converter = Callable[[str, Any], Any]


class SettingError(ConfigError):
    """A setting that cannot work: ``setting`` names it, ``problem`` says what is wrong.

    The message starts with ``label`` (the keyword name unless the caller knows better,
    such as the ``JWT_*`` key a mapping used).
    """

    def __init__(self, setting: str, problem: str, label: str | None = None) -> None:
        super().__init__(f"{label or setting} {problem}")
        self.setting = setting
        self.problem = problem

    def relabel(self, label: str) -> SettingError:
        """The same error, naming the setting as the user wrote it."""
        return SettingError(self.setting, self.problem, label)


# -- scalars --------------------------------------------------------------------------


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise SettingError(name, f"must be true or false, not {value!r}")


def to_whole(name: str, value: Any, low: int, high: int) -> int:
    """A whole number in ``[low, high]``: an int (not a bool) or ASCII digits."""
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise SettingError(name, f"must be a whole number written with the digits 0-9; "
                                 f"not {value!r}")
    if not low <= number <= high:
        lower = "a positive whole number" if low == 1 else f"a whole number from {low}"
        raise SettingError(name, f"must be {lower} and at most {high}, not {number}")
    return number


def whole(low: int, high: int) -> Converter:
    """A converter of whole numbers within bounds (see :func:`to_whole`)."""
    def convert(name: str, value: Any) -> int:
        return to_whole(name, value, low, high)
    return convert


def blank_problem() -> str:
    return "is blank: remove it to use the default, or give a value"


def to_str(name: str, value: Any) -> str:
    """A string with something in it: a blank one is a forgotten value, never "off"."""
    if not isinstance(value, str):
        raise SettingError(name, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise SettingError(name, blank_problem())
    return value


def to_text(name: str, value: Any) -> str:
    """A string that may be empty (``header_type=""`` means a bare token)."""
    if not isinstance(value, str):
        raise SettingError(name, f"must be a string, not {type(value).__name__}")
    return value


def to_optional_str(name: str, value: Any) -> str | None:
    return None if value is None else to_str(name, value)


def to_key(name: str, value: Any) -> str | bytes | None:
    """Key material; an empty one is refused by :mod:`jwt_wsgi.keys` with a key's words."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    raise SettingError(name, f"must be a string or bytes, not {type(value).__name__}")


def to_algorithm(name: str, value: Any) -> str:
    return to_str(name, value).strip()


def to_location_conflict(name: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in LOCATION_CONFLICT_CHOICES:
        return value.strip().lower()
    raise SettingError(name, "must be 'reject' (a token in two locations is a 400) or "
                             "'first_location' (the first of token_location wins), "
                             f"not {value!r}")


def to_samesite(name: str, value: Any) -> str | None:
    if value is None:
        return None
    for choice in SAMESITE_VALUES:
        if isinstance(value, str) and value.strip().lower() == choice.lower():
            return choice
    raise SettingError(name, f"must be one of Lax, Strict, None or unset, not {value!r}")


def check_cookie_domain(name: str, value: Any) -> str:
    """A cookie ``Domain``: a host name, nothing that could end the attribute."""
    if not isinstance(value, str) or not COOKIE_DOMAIN.fullmatch(value):
        raise SettingError(name, f"must be a host name such as 'example.com' or "
                                 f"'.example.com', not {value!r}")
    return value


def to_cookie_domain(name: str, value: Any) -> str | None:
    return None if value is None else check_cookie_domain(name, value)


def to_cookie_path(name: str, value: Any) -> str:
    if not isinstance(value, str) or not COOKIE_PATH.fullmatch(value):
        raise SettingError(name, "must start with '/' and hold no ';', space or control "
                                 f"character, not {value!r}")
    return value


def to_http_token(name: str, value: Any) -> str:
    """A header or cookie name: an HTTP token, so that nothing can end the header."""
    if not isinstance(value, str) or not HTTP_TOKEN.fullmatch(value):
        problem = (blank_problem() if isinstance(value, str) and not value.strip() else
                   f"{value!r} is not a valid header name or cookie name: use only letters, "
                   "digits and !#$%&'*+.^_`|~- (an HTTP token)")
        raise SettingError(name, problem)
    return value


def to_header_type(name: str, value: Any) -> str:
    text = to_text(name, value)
    if text and not HTTP_TOKEN.fullmatch(text):
        raise SettingError(name, f"{text!r} must be one word such as 'Bearer', or '' for "
                                 "a bare token")
    return text


def to_query_name(name: str, value: Any) -> str:
    text = to_str(name, value)
    if any(c in text for c in "&=#;+% ") or not text.isprintable():
        raise SettingError(name, f"{text!r} can never be matched: use letters, digits, "
                                 "'-', '_' or '.'")
    return text


def to_jwks_url(name: str, value: Any) -> str | None:
    """An http(s) URL that can be fetched: a host, no credentials, no blanks."""
    if value is None:
        return None
    url = to_str(name, value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingError(name, f"must be an http:// or https:// URL with a host, not {url!r}")
    if "@" in parts.netloc:
        # The fetcher never sends them, and a secret in a URL ends up in logs.
        raise SettingError(name, "holds a user name or password (user:password@host); a "
                                 "JWKS is public: drop them from the URL")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise SettingError(name, f"has a blank or control character: {url!r}")
    return url


#: Keys kept for a rotation: a few, never a store of every key ever used.
MAX_ROTATION_KEYS = 8


def _key_list(name: str, value: Any, what: str) -> tuple[str | bytes, ...]:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)  # a list given as JSON text (INI, environment)
        except ValueError:
            raise SettingError(name, f"is not a JSON list of {what}") from None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(
            value, Mapping):
        raise SettingError(name, f"must be a list of {what} (one key is still a list: [key])")
    items = tuple(value)
    if not items and value != ():  # () is the stored "unset"; a list given empty is a mistake
        raise SettingError(name, f"is empty; list {what} (leave the setting out for none)")
    if not all(isinstance(item, (str, bytes)) and item.strip() for item in items):
        raise SettingError(name, f"must be a list of non-empty {what}")
    if len(items) > MAX_ROTATION_KEYS:
        raise SettingError(name, f"holds {len(items)} keys; keep at most {MAX_ROTATION_KEYS} "
                                 "(the next, the current and the previous ones)")
    if len(set(items)) != len(items):
        raise SettingError(name, "lists a key twice")
    return items


def to_pem_list(name: str, value: Any) -> tuple[str | bytes, ...]:
    """``signing_keys``: PEM keys, the first a private key (checked with the algorithm)."""
    return _key_list(name, value, "PEM keys")


def to_secret_list(name: str, value: Any) -> tuple[str | bytes, ...]:
    """``secret_key_fallbacks``: earlier HMAC secrets, each checked like ``secret_key``."""
    return _key_list(name, value, "secrets")


def to_oidc_issuer(name: str, value: Any) -> str | None:
    """An issuer URL whose discovery document can be fetched safely: https (http only on
    a loopback address), a host, no credentials."""
    url = to_jwks_url(name, value)
    if url is not None and url.startswith("http://") and not is_loopback_url(url):
        raise SettingError(name, "must be an https:// URL (http:// only on a loopback "
                                 "address), such as https://idp.example/realms/main")
    return url


def is_loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name such as 127.evil.example is not an address
        return False


# -- lists ----------------------------------------------------------------------------


def split_text(name: str, text: str, separators: re.Pattern[str]) -> list[Any]:
    """A list setting written as a string (INI, environment): JSON list text such as
    ``["a", "b"]``, or items separated by ``separators`` (blanks around them dropped)."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not isinstance(items, list):
            raise SettingError(name, 'starts with "[" but is not JSON list text such as '
                                     f'["a", "b"]: {text!r}')
    else:
        items = [part.strip() for part in separators.split(text) if part.strip()]
    if not items:
        # "," or "[]" from a template whose variables were unset: refusing is safer than
        # an empty audience list, which would switch the audience check off.
        raise SettingError(name, f"{text!r} names nothing; give a value or leave it out")
    return items


def to_list(name: str, value: Any) -> tuple[str, ...]:
    """Strings, each non-empty, none repeated; a string is split on blanks and commas."""
    if isinstance(value, str):
        items = [part for part in ANY_SEPARATOR.split(value) if part]
        if not items:
            raise SettingError(name, f"{value!r} names nothing; give a value or leave it out")
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        raise SettingError(name, f"must be a list of strings, not {value!r}")
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise SettingError(name, f"must be a list of non-empty strings, not {value!r}")
    if len(set(items)) != len(items):
        raise SettingError(name, f"lists a value twice: {value!r}")
    return tuple(items)


def to_token_types(name: str, value: Any) -> tuple[str, ...]:
    """Token types an identity provider gives to tokens that are not access tokens
    (``ID``, ``Refresh``, ``Offline``, ``Logout``, ``DPoP``, ``refresh+jwt``, ...), accepted
    anyway. Compared without case and without an ``application/`` prefix."""
    items = to_list(name, value)
    if items:
        from .fields import warn_security

        warn_security(f"{name}={list(items)}: tokens an identity provider issued for another "
                      "purpose will be taken as access tokens")
    return tuple(item.strip().lower().removeprefix("application/") for item in items)


def empty_problem() -> str:
    return "is empty: leave it out (or None) to use the default, or name at least one value"


def to_named_list(name: str, value: Any) -> tuple[str, ...]:
    """A list where empty would mean "check nothing": refused. ``()`` is the stored form
    of "not set" (the default), so only that exact value passes empty."""
    if value == () and isinstance(value, tuple):
        return ()
    items = to_list(name, value)
    if not items:
        raise SettingError(name, empty_problem())
    return items


def to_audience(name: str, value: Any) -> tuple[str, ...]:
    """Audiences: a string is ONE audience (a URI may hold commas, a name spaces); only the
    mapping form splits its text (on commas), see :meth:`Settings.from_mapping`."""
    if isinstance(value, str):
        return (to_str(name, value),)
    return to_named_list(name, value)


def to_locations(name: str, value: Any) -> tuple[str, ...]:
    items = to_list(name, value)
    if not items:
        raise SettingError(name, "must name at least one of " + ", ".join(LOCATIONS))
    for item in items:
        if item not in LOCATIONS:
            raise SettingError(name, f"names an unknown token location {item!r} (choose from "
                                     f"{', '.join(LOCATIONS)})")
    return items


def to_methods(name: str, value: Any) -> tuple[str, ...]:
    items = tuple(item.upper() for item in to_list(name, value))
    for item in items:
        if item not in HTTP_METHODS:
            raise SettingError(name, f"names an unknown HTTP method {item!r}")
    return items


# -- structures -----------------------------------------------------------------------


def to_jwks(name: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(to_str(name, value))
        except ValueError:
            raise SettingError(name, "must be a JWKS object or its JSON text") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("keys"), list):
        raise SettingError(name, "must be a JWKS object with a 'keys' list")
    return value


def to_issuers(name: str, value: Any) -> Mapping[str, Mapping[str, Any]] | None:
    """``{iss: {keys..., audience, algorithms}}``, or its JSON text (INI, environment)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(to_str(name, value))
        except ValueError:
            raise SettingError(name, "must be a mapping of issuer to settings, or its JSON "
                                     "text") from None
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()):
        raise SettingError(name, "must map each issuer ('iss' value) to a dict such as "
                                 "{'jwks_url': ..., 'audience': ..., 'algorithms': ['RS256']}")
    return {k: dict(v) for k, v in value.items()}
