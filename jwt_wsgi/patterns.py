"""Route keys: ``"[METHOD[,METHOD...]] PATTERN"`` read and checked before a rule is compiled.

A pattern is werkzeug's rule syntax. Route syntax from other frameworks would otherwise be
read as literal text: ``"/users/{id}"`` or ``"/users/:id"`` would protect a path no client
sends while ``/users/5`` went through as public. Such patterns are refused with the
werkzeug spelling of what they meant.
"""

from __future__ import annotations

import re

from .errors import ConfigError
from .settings import HTTP_METHODS

VARIABLE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?"
    r"(?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BRACES = re.compile(r"\{(?P<name>[^{}:]*)(?::(?P<converter>[^{}]*))?\}")
_COLON = re.compile(r"(?:^|/):(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\([^)]*\))?\??")
_REGEX = re.compile(r"^\^|\$$|\\|\[|\]|\(\?|\.[*+]|[)\]][*+?]|\||<[^<>]*>")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")
_WERKZEUG_CONVERTER = {"int": "int", "integer": "int", "float": "float", "uuid": "uuid",
                       "path": "path", "str": "", "string": "", "": ""}
_HINT = ("werkzeug's rule syntax: '/users/<id>' (one segment), '/users/<int:id>' (a number), "
         "'/files/<path:rest>' or '/files/*' (everything below)")


def split_key(key: str) -> tuple[frozenset[str] | None, str]:
    """The methods (``None`` for any) and the pattern of a route key.

    :raises ConfigError: for unknown methods and patterns that are not werkzeug rules.
    """
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
    _refuse_foreign_syntax(key, pattern)
    if not pattern.startswith("/"):
        hint = " (write methods without spaces: 'GET,POST /x')" if head.endswith(",") else \
            f" (Django's path() leaves it out: write '/{pattern}')"
        raise ConfigError(f"route {key!r}: the pattern must start with '/'{hint}")
    if _CONTROL.search(pattern) or " " in pattern:
        raise ConfigError(f"route {key!r}: the pattern contains spaces or control characters")
    if "%" in pattern:
        raise ConfigError(f"route {key!r}: write the pattern decoded ('/café', not '/caf%C3%A9'); "
                          "servers hand PATH_INFO to the app percent-decoded")
    if "?" in pattern or "#" in pattern or "//" in pattern or _DOT_SEGMENT.search(pattern):
        raise ConfigError(f"route {key!r}: a pattern is a normalised path: no '?', '#', '//', "
                          "'.' or '..' segments (servers never deliver those as PATH_INFO)")
    return methods, pattern


def _refuse_foreign_syntax(key: str, pattern: str) -> None:
    """Refuse route syntax of other frameworks, which would be read as literal text."""
    text = VARIABLE.sub("\x00", pattern)  # werkzeug variables may hold '(' and ':'
    braces = _BRACES.search(text)
    if braces or "{" in text or "}" in text:
        raise ConfigError(f"route {key!r}: '{{name}}' is FastAPI/Falcon/OpenAPI syntax, "
                          f"read here as literal text; {_write(pattern)} ({_HINT})")
    if _REGEX.search(text):
        raise ConfigError(f"route {key!r}: this looks like a regular expression (Django's "
                          f"re_path, nginx location ~), read here as literal text; "
                          f"{_write(pattern)} ({_HINT})")
    if _COLON.search(text):
        raise ConfigError(f"route {key!r}: ':name' is Express/Rails syntax, read here as "
                          f"literal text; {_write(pattern)} ({_HINT})")
    stars = text[:-2] if text == "/*" or text.endswith("/*") else text
    if "**" in text:
        raise ConfigError(f"route {key!r}: '**' is glob syntax; a trailing '/*' already "
                          f"covers everything below: {_write(pattern)}")
    if "*" in stars:
        raise ConfigError(f"route {key!r}: '*' is only allowed as a whole trailing '/*' "
                          "segment ('/admin/*' covers /admin and everything below); for a "
                          "part of a segment use a variable ('/files/<name>.json', "
                          "'/api<rest>' is not a prefix: write '/api/*')")


def _write(pattern: str) -> str:
    spelled = _spelled(pattern)
    return f"write {spelled!r}" if spelled != pattern else "write it"


def _spelled(pattern: str) -> str:
    """A best guess at the werkzeug spelling of a foreign pattern, for the error message."""
    def braces(match: re.Match[str]) -> str:
        name = match.group("name") or "value"
        converter = _WERKZEUG_CONVERTER.get((match.group("converter") or "").lower(), "")
        return f"<{converter}:{name}>" if converter else f"<{name}>"

    spelled = _BRACES.sub(braces, pattern)
    spelled = re.sub(r"(^|/):(\w+)\((?:\\d|\[0-9\])\+\)\??", r"\1<int:\2>", spelled)
    spelled = re.sub(r"(^|/):(\w+)(?:\([^)]*\))?\??", r"\1<\2>", spelled)
    spelled = re.sub(r"\(\?P<(\w+)>(?:\\d|\[0-9\])\+\)", r"<int:\1>", spelled)
    spelled = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", spelled)
    spelled = re.sub(r"\((?:\\d|\[0-9\])\+\)|\\d\+|\[0-9\]\+", "<int:id>", spelled)
    spelled = spelled.lstrip("^").rstrip("$")
    spelled = re.sub(r"<[^<>\w]*>$|\.\*$|\(\.\*\)$|\*\*$", "*", spelled)  # "anything" at the end
    spelled = re.sub(r"\[[^\]]*\][+*]?|\([^)]*\)|<[^<>\w]*>", "<name>", spelled)
    spelled = re.sub(r"/\*\*/?", "/*", spelled)
    if not spelled.startswith("/"):
        spelled = "/" + spelled
    return spelled
