"""CSRF double submit for tokens that came from a cookie.

A browser sends cookies with every request to the site, whoever made the page that
caused it. So a state-changing request authenticated by a cookie must also prove it
was made by the site's own script: its ``csrf`` claim (a random value minted into
the token) must come back in a header (``X-CSRF-TOKEN``) or, if enabled, a form field.
The script can read that value from the non-HttpOnly ``csrf_access_token`` cookie; a
page on another origin cannot. Tokens from a header, the query string or a JSON body
are not sent by the browser on its own, so they need no such proof.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from .body import read_form
from .context import methods_of
from .errors import CSRFError
from .locations import FoundToken, environ_key
from .pairs import TooManyOccurrences
from .settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class CSRFCheck:
    """The double-submit check, configured once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.cookie_csrf_protect
        self.methods = frozenset(settings.csrf_methods)
        self.check_form = settings.csrf_check_form
        self._max_body = settings.max_body_size
        # The value must equal a claim of a token of at most max_token_size ("%xx" a byte).
        self._longest = 3 * settings.max_token_size
        #: (environ key of the header, form field name) for access and refresh tokens.
        self._sources = (
            (environ_key(settings.access_csrf_header_name), settings.access_csrf_field_name),
            (environ_key(settings.refresh_csrf_header_name), settings.refresh_csrf_field_name),
        )

    def applies(self, environ: WSGIEnvironment, found: FoundToken) -> bool:
        """Whether this request needs the proof: a cookie token on a listed method (or
        with a method-override header naming one)."""
        return self.enabled and found.from_cookie and not self.methods.isdisjoint(
            methods_of(environ))

    def check(self, environ: WSGIEnvironment, found: FoundToken,
              claims: dict[str, Any]) -> None:
        """Raise :class:`CSRFError` unless the request carries the token's ``csrf`` value.

        Call it with verified claims only: the claim is what the submitted value is
        trusted against.
        """
        if not self.applies(environ, found):
            return
        expected = claims.get("csrf")
        if not isinstance(expected, str) or not expected:
            raise CSRFError("Missing claim: csrf")
        submitted = self._submitted(environ, claims.get("type") == "refresh")
        if submitted is None:
            raise CSRFError("Missing CSRF token")
        # surrogatepass: a lone surrogate is a legal JSON escape in the claim (and an environ
        # may hold one); it must compare, not raise. The encoding stays one-to-one, so equal
        # bytes still mean equal values ("replace" made "\ud800" equal to "?").
        if not hmac.compare_digest(submitted.encode("utf-8", "surrogatepass"),
                                   expected.encode("utf-8", "surrogatepass")):
            raise CSRFError("CSRF double submit tokens do not match")

    def _submitted(self, environ: WSGIEnvironment, refresh: bool) -> str | None:
        header_key, field_name = self._sources[refresh]
        value = environ.get(header_key)
        if isinstance(value, str) and value:
            return value
        if self.check_form:
            try:
                values = read_form(environ, self._max_body, field_name, self._longest)
            except TooManyOccurrences:  # 65 times is more than once
                raise CSRFError("CSRF token given more than once") from None
            if len(values) > 1:
                raise CSRFError("CSRF token given more than once")
            if values and values[0]:
                return values[0]
        return None
