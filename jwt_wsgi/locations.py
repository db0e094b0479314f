"""Locations: where a request carries its token, and reading it from there.

This module finds the token and nothing else: it never decodes it. A request that
offers a token in two places, or two tokens in one header, is refused with
``invalid_request`` (RFC 6750 3.1) rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InvalidRequestError, NoTokenError
from .settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


@dataclass(frozen=True)
class FoundToken:
    """A token and where it came from."""

    token: str
    location: str


def environ_key(header_name: str) -> str:
    """The CGI environ key of an HTTP header (``X-Api-Token`` -> ``HTTP_X_API_TOKEN``)."""
    key = header_name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


class TokenFinder:
    """Reads the token from the locations a route allows, in the configured order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._header_key = environ_key(settings.header_name)
        self._header_name = settings.header_name
        self._header_type = settings.header_type
        self._scheme = settings.header_type.lower()
        self._readers = {"headers": self._from_header}

    def find(self, environ: WSGIEnvironment, locations: tuple[str, ...],
             refresh: bool = False) -> FoundToken:
        """The one token the request offers.

        :raises NoTokenError: when no allowed location holds a token.
        :raises InvalidRequestError: when more than one does, or one is malformed.
        """
        found: FoundToken | None = None
        for location in locations:
            token = self._readers[location](environ, refresh)
            if token is None:
                continue
            if found is not None:
                raise InvalidRequestError("Token provided in more than one location")
            found = FoundToken(token, location)
        if found is None:
            raise NoTokenError(self.missing_message(locations))
        return found

    def missing_message(self, locations: tuple[str, ...]) -> str:
        if locations == ("headers",):
            return f"Missing {self._header_name} Header"
        return "Missing JWT in " + " or ".join(locations)

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
