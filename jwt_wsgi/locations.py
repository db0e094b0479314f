"""Locations: where a request carries its token, and reading it from there.

This module finds the token and nothing else: it never decodes it. The locations are
the ``Authorization`` header, a cookie, the query string and a JSON body, tried in the
order of ``token_location`` (or of a route's ``locations``). A request that offers a
token in two locations is refused with ``invalid_request`` (RFC 6750 3.1) unless
``location_conflict="first_location"``, when the first location that holds one wins and
the later ones are not even read. Two tokens in one location (two in the header, a
cookie sent twice, ``?jwt=a&jwt=b``, a JSON key given twice) are always refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote_plus

from .body import read_json
from .errors import InvalidRequestError, NoTokenError, TokenTooLargeError
from .pairs import TooManyOccurrences, cookie_values, query_values
from .settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class FoundToken(NamedTuple):
    """A token and where it came from (a tuple: one is made for every new header value)."""

    token: str
    location: str

    @property
    def from_cookie(self) -> bool:
        return self.location == "cookies"


#: Builds a :class:`FoundToken` without NamedTuple's keyword-handling ``__new__``.
_new_found = tuple.__new__


_HEADERS_ONLY = ("headers",)


def environ_key(header_name: str) -> str:
    """The CGI environ key of an HTTP header (``X-Api-Token`` -> ``HTTP_X_API_TOKEN``)."""
    key = header_name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


def parse_cookie_header(header: str, names: Iterable[str]) -> dict[str, list[str]]:
    """The values of the cookies called ``names`` in a ``Cookie`` header, each as a list.

    Every occurrence is kept: a browser sends a name twice when two cookies of that
    name were set for different paths or domains (a sibling subdomain can plant one),
    and only the caller knows whether that matters. Quoted values are unquoted;
    malformed pairs are skipped, as browsers do (see :func:`~jwt_wsgi.pairs.cookie_values`).

    Kept over werkzeug's ``parse_cookie``, which raises on a header that is not UTF-8 (one
    stray cookie would lock the user out) and reads every pair of the header.

    :raises InvalidRequestError: for a name written more than 64 times.
    """
    found: dict[str, list[str]] = {}
    for name in names:
        try:
            values = cookie_values(header, name)
        except TooManyOccurrences:
            raise InvalidRequestError(f'Cookie "{name}" sent more than once') from None
        if values:
            found[name] = values
    return found


#: Header values kept by :meth:`TokenFinder.find` with the token they carry.
HEADER_MEMO_SIZE = 1024


class TokenFinder:
    """Reads the token from the locations a route allows, in the configured order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._header_key = environ_key(settings.header_name)
        self._header_name = settings.header_name
        self._header_type = settings.header_type
        self._scheme = settings.header_type.lower()
        self._first_wins = settings.location_conflict == "first_location"
        self._cookie_names = (settings.access_cookie_name, settings.refresh_cookie_name)
        self._json_keys = (settings.json_key, settings.refresh_json_key)
        self._query_name = settings.query_string_name
        self._query_prefix = settings.query_string_value_prefix
        # "%xx" is the most text one character of a token (or of its prefix) can take.
        self._max_query_value = 3 * (settings.max_token_size + len(self._query_prefix))
        self._max_body = settings.max_body_size
        self._readers: dict[str, Callable[[WSGIEnvironment, bool], str | None]] = {
            "headers": self._from_header,
            "cookies": self._from_cookie,
            "query_string": self._from_query_string,
            "json": self._from_json,
        }
        # header value -> FoundToken, for routes that read the header only. What the header
        # yields depends on nothing but its value, and FoundToken is frozen, so one object
        # can serve every request that sends the same value. Only successes are kept; full
        # means start again (bounded, like the route memo).
        self._header_memo: dict[str, FoundToken] = {}
        self._memo_max_value = settings.max_token_size + len(settings.header_type) + 1

    def find(self, environ: WSGIEnvironment, locations: tuple[str, ...],
             refresh: bool = False) -> FoundToken:
        """The one token the request offers.

        :raises NoTokenError: when no allowed location holds a token.
        :raises InvalidRequestError: when more than one does (and ``location_conflict`` is
            ``"reject"``), or one is malformed.
        """
        if locations == _HEADERS_ONLY:  # the usual route: one location, no conflict possible
            value = environ.get(self._header_key)
            if type(value) is str:
                memo = self._header_memo
                found = memo.get(value)
                if found is not None:
                    return found
                token = self._from_header(environ, refresh)
                if token is None:
                    raise NoTokenError(self.missing_message(locations, refresh, environ))
                found = _new_found(FoundToken, (token, "headers"))
                if len(value) <= self._memo_max_value:
                    if len(memo) >= HEADER_MEMO_SIZE:
                        memo.clear()
                    memo[value] = found
                return found
        found = None
        for location in locations:
            token = self._readers[location](environ, refresh)
            if token is None:
                continue
            if found is not None:
                raise InvalidRequestError("Token provided in more than one location")
            found = FoundToken(token, location)
            if self._first_wins:
                break
        if found is None:
            raise NoTokenError(self.missing_message(locations, refresh, environ))
        return found

    def missing_message(self, locations: tuple[str, ...], refresh: bool = False,
                        environ: WSGIEnvironment | None = None) -> str:
        if locations == ("headers",):
            value = environ.get(self._header_key) if environ is not None else None
            if isinstance(value, str) and value.strip() and self._header_type:
                # The header is there with another scheme (Basic, Token, JWT) or none at
                # all: say what was expected, in flask-jwt-extended 4.x's words.
                return (f"Missing '{self._header_type}' type in '{self._header_name}' "
                        f"header. Expected '{self._header_name}: {self._header_type} <JWT>'")
            return f"Missing {self._header_name} Header"
        if locations == ("cookies",):
            return f'Missing cookie "{self._cookie_names[refresh]}"'
        # flask-jwt-extended's words exactly (its "paramater" included), so that clients
        # that read the message keep working after the move.
        if locations == ("query_string",):
            return f"Missing '{self._query_name}' query paramater"
        if locations == ("json",):
            return f'Missing "{self._json_keys[refresh]}" key in json data.'
        details = "; ".join(self.missing_message((location,), refresh, environ)
                            for location in locations)
        return (f"Missing JWT in {', '.join(locations[:-1])} or {locations[-1]} "
                f"({details})")

    def _from_header(self, environ: WSGIEnvironment, refresh: bool) -> str | None:
        value = environ.get(self._header_key)
        if not isinstance(value, str):
            return None
        parts = value.split()
        if not parts:
            return None
        if self._scheme:
            if parts[0].lower() != self._scheme:
                # Another scheme (Basic, Digest...) is not ours to judge: no token here.
                return None
            parts = parts[1:]
        if "," in value or len(parts) > 1:
            raise InvalidRequestError(f"Multiple tokens in the {self._header_name} header")
        if not parts:
            raise InvalidRequestError(
                f"Bad {self._header_name} header. Expected '{self._header_name}: "
                f"{self._header_type} <JWT>'".replace("  ", " "))
        token: str = parts[0]
        return token

    def _from_cookie(self, environ: WSGIEnvironment, refresh: bool) -> str | None:
        name = self._cookie_names[refresh]
        header = environ.get("HTTP_COOKIE")
        if not isinstance(header, str) or name not in header:
            return None
        values = [v for v in parse_cookie_header(header, (name,)).get(name, ()) if v]
        if len(values) > 1:
            raise InvalidRequestError(f'Cookie "{name}" sent more than once')
        return values[0] if values else None

    def _from_query_string(self, environ: WSGIEnvironment, refresh: bool) -> str | None:
        query = environ.get("QUERY_STRING")
        if not isinstance(query, str) or self._query_name not in query:
            return None
        twice = f'Query parameter "{self._query_name}" given more than once'
        try:
            values = query_values(query, self._query_name)
        except TooManyOccurrences:
            raise InvalidRequestError(twice) from None
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequestError(twice)
        if len(values[0]) > self._max_query_value:  # refused before it is decoded
            raise TokenTooLargeError()
        value = unquote_plus(values[0])
        if self._query_prefix:
            if not value.startswith(self._query_prefix):
                raise InvalidRequestError(
                    f'Bad "{self._query_name}" query parameter. Expected '
                    f"'{self._query_prefix}<JWT>'")
            value = value[len(self._query_prefix):]
        return value or None

    def _from_json(self, environ: WSGIEnvironment, refresh: bool) -> str | None:
        data = read_json(environ, self._max_body)
        key = self._json_keys[refresh]
        if not isinstance(data, dict) or key not in data:
            return None
        token = data[key]
        if not isinstance(token, str):
            raise InvalidRequestError(f'"{key}" in the JSON body must be a string')
        return token or None
