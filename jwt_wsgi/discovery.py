"""OpenID Connect discovery (``oidc_issuer``): the JWKS URL from the issuer's own document.

Given only the issuer URL, :class:`DiscoveryFetcher` reads
``<issuer>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0, section 4),
checks that the document names exactly that issuer (section 4.3: a document for another
issuer, or a redirect to one, must not be trusted), takes its ``jwks_uri`` (``https://``,
or ``http://`` on a loopback address only) and fetches the keys there with every rule of
:class:`~jwt_wsgi.jwks.JWKSFetcher`: the same cache time, cooldown, deadline and size
bound, served stale when the provider is down, failing closed (503) before any key set
was fetched. The document is fetched again when the key set expires, so a provider that
moves its ``jwks_uri`` is followed within ``jwks_cache_seconds``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from .jwks import MAX_JWKS_BYTES, JWKSFetcher, _DowngradeRefused
from .keys import KeySet

logger = logging.getLogger("jwt_wsgi.jwks")

WELL_KNOWN = "/.well-known/openid-configuration"


def discovery_url(issuer: str) -> str:
    """Section 4: the issuer with any trailing ``/`` removed, then the well-known path."""
    return issuer.rstrip("/") + WELL_KNOWN


def loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DiscoveryFetcher(JWKSFetcher):
    """A :class:`~jwt_wsgi.jwks.JWKSFetcher` whose URL comes from the issuer's document.

    :param issuer: the issuer URL, exactly as tokens name it in ``iss``.
    :param keys: the key set whose fetched group this fetcher replaces.
    :param algorithms: the algorithms keys may be bound to.
    """

    def __init__(self, issuer: str, keys: KeySet, algorithms: Iterable[str], *,
                 cache_seconds: float = 600.0, refetch_seconds: float = 30.0,
                 timeout: float = 5.0) -> None:
        self.issuer = issuer
        self.document_url = discovery_url(issuer)
        super().__init__(self.document_url, keys, algorithms, cache_seconds=cache_seconds,
                         refetch_seconds=refetch_seconds, timeout=timeout)
        self._document_opener = self._opener
        self._jwks_uri: str | None = None

    def _fetch(self) -> bool:
        """Read the document (every time the keys are due: it is small), then the keys."""
        try:
            jwks_uri = self._discover()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good jwks_uri
            logger.warning("OpenID configuration from %s unusable (%s)%s",
                           self.document_url, _reason(exc),
                           "; keeping the last jwks_uri" if self._jwks_uri else "")
            if self._jwks_uri is None:
                self._next_fetch = self.clock() + self.refetch_seconds
                self._last_ok = False
                self.fetches += 1
                return False
            jwks_uri = self._jwks_uri
        if jwks_uri != self._jwks_uri:
            self._jwks_uri = self.url = jwks_uri
            self.safe_url = _redacted(jwks_uri)
            self._opener = urllib.request.build_opener(_DowngradeRefused(jwks_uri))
        return super()._fetch()

    def _discover(self) -> str:
        request = urllib.request.Request(  # noqa: S310 - the issuer's scheme is checked
            self.document_url, headers={"Accept": "application/json", "User-Agent": "jwt_wsgi"})
        opener, self._opener = self._opener, self._document_opener
        try:
            body, _ = self._download(request)
        finally:
            self._opener = opener
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("document larger than 1 MiB")
        document: Any = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("document is not a JSON object")
        if document.get("issuer") != self.issuer:
            raise _Refused("the document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _Refused("the document has no jwks_uri")
        scheme = urllib.parse.urlsplit(jwks_uri).scheme.lower()
        if scheme != "https" and not (scheme == "http" and loopback(jwks_uri)):
            raise _Refused("jwks_uri is not https://")
        return jwks_uri


class _Refused(ValueError):
    """A document that answered but must not be trusted; its reason is safe to log."""


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _Refused) else type(exc).__name__


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
