"""ReverseProxy: a WSGI app that forwards requests to an HTTP upstream, with claims as headers.

Put it behind :class:`~jwt_wsgi.JWTMiddleware` to protect a service written in anything:
requests that pass are forwarded, carrying chosen claims of the verified token as request
headers (``X-Jwt-Sub: alice``). Whatever the client sent under those header names is removed
from every request, protected or not, including the underscore spellings (``X_Jwt_Sub``)
that WSGI servers fold into the same ``HTTP_X_JWT_SUB`` key; the upstream can trust them.

Forwarding headers are treated the same way: a client's ``Forwarded``, ``X-Real-IP``,
``X-Forwarded-Host``/``-Proto``/``-Port``/``-Prefix``/``-Server`` (and the other names in
:data:`FORWARDING`), in any spelling, are dropped; the proxy sets ``X-Forwarded-Proto``
(``wsgi.url_scheme``), ``X-Forwarded-Host`` (the ``Host`` the client asked for) and
``X-Forwarded-Port`` (``SERVER_PORT``) itself. ``X-Forwarded-For`` follows the convention:
the peer address (``REMOTE_ADDR``) is appended to what the client sent. Only that last
entry is known; everything left of it is the client's word (or that of proxies in front),
so an upstream must count entries from the right and trust only the proxies it knows.

Request bodies are held to the manager's ``max_body_size``: a larger ``Content-Length`` is a
JSON 413 before a byte is read (smaller ones stream through); a chunked body, buffered to be
sent with a length, is read up to ``max_body_size + 1`` bytes and refused with 413 past that.

The upstream's answer is cleaned as the request is (:mod:`jwt_wsgi.proxy_response`), and an
answer whose framing is ambiguous is a JSON 502. ``timeout`` bounds the whole exchange
(:mod:`jwt_wsgi.outbound`). The two sides live in :mod:`jwt_wsgi.proxy_request` and
:mod:`jwt_wsgi.proxy_response`; this module is the story of one forwarded request.

::

    app = JWTMiddleware(ReverseProxy("http://127.0.0.1:9000", {"sub": "X-Jwt-Sub"}), jwt,
                        routes={"/api/*": "required"})
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from .context import CLAIMS, MANAGER
from .errors import ConfigError
from .handlers import json_response, status_line
from .outbound import Deadline, HTTPConnection, HTTPSConnection
from .proxy_request import (
    FORWARDING,
    HOP_BY_HOP,
    NOT_FORWARDED,
    PLAIN_VALUE,
    BadLength,
    TooLarge,
    environ_key,
    has_dot_segment,
    header_value,
    named_in_connection,
    quote_path,
    quote_query,
    request_body,
    unfold,
    without_cookies,
    without_parameter,
)
from .proxy_response import Body, Unframeable, UpstreamResponse, check_framing, response_headers
from .routes import origin_form
from .settings import HTTP_TOKEN, Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .manager import JWTManager

__all__ = ["FORWARDING", "HOP_BY_HOP", "MAX_TIMEOUT", "ReverseProxy", "environ_key",
           "has_dot_segment", "header_value", "quote_path", "quote_query", "unfold",
           "without_cookies", "without_parameter"]

logger = logging.getLogger("jwt_wsgi")

DEFAULT_CLAIM_HEADERS: Mapping[str, str] = {"sub": "X-Jwt-Sub"}
#: The longest ``timeout`` (about 31 years): past some 9e9 seconds the socket's deadline
#: overflows the clock, and every request would raise OverflowError.
MAX_TIMEOUT = 1e9
_RESERVED = (HOP_BY_HOP | NOT_FORWARDED | FORWARDING
             | {"content-type", "authorization", "cookie"})
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class ReverseProxy:
    """Forward every request to ``upstream``, adding verified claims as headers.

    :param upstream: ``http://host:port[/prefix]`` or ``https://...``, printable ASCII (a
        space in the prefix as ``%20``); the request's path (``PATH_INFO``, the path the
        middleware checked, never ``SCRIPT_NAME``; for an absolute-form ``http://host/a``
        only ``/a``) is appended.
    :param claim_headers: ``{claim: header name}``; a string claim is sent as is, any other
        value (or a string that is not printable ASCII, has surrounding spaces, or would parse
        as JSON) as compact ASCII JSON.
    :param forward_authorization: pass the client's token on (default), so the upstream may
        verify it again; ``False`` keeps the token from the upstream wherever it came: the
        ``Authorization`` header (or ``header_name``), the access/refresh JWT cookies and the
        CSRF cookies (removed from ``Cookie``, other cookies kept) and the
        ``query_string_name`` parameter (removed from the query string, the rest kept as
        sent). A token in a JSON body cannot be removed without rewriting the upstream's
        body, so ``False`` with ``"json"`` in ``token_location`` is a :class:`ConfigError`.
    :param timeout: seconds for the whole exchange with the upstream: connecting, sending
        the request, the status line, the headers and the last byte of the body (a 504
        before the status is sent, a cut connection after); a finite number above 0, at
        most :data:`MAX_TIMEOUT`.
    :param manager: the :class:`~jwt_wsgi.JWTManager` of the middleware in front, for its
        cookie, header and parameter names and ``max_body_size``; ``JWTMiddleware(proxy,
        jwt)`` gives it to a proxy built without one (:meth:`use_manager`).
    :param settings: those names as :class:`~jwt_wsgi.settings.Settings` instead, for a
        proxy built apart from its manager (the PasteDeploy app). Without a manager, a
        proxy with ``forward_authorization=False`` also hides the names of the manager of
        the :class:`~jwt_wsgi.JWTMiddleware` in front, found in the environ (so a layer
        between the two cannot make it leak a token under a custom name); with neither
        names nor a middleware in front it refuses every request (500) and logs why.
    :raises ConfigError: for a URL, header name or combination of options that cannot work.
    """

    def __init__(self, upstream: str, claim_headers: Mapping[str, str] | None = None, *,
                 forward_authorization: bool = True, timeout: float = 30.0,
                 manager: JWTManager | None = None, settings: Settings | None = None) -> None:
        parts = _upstream_parts(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"upstream must be an http:// or https:// URL, not {upstream!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError("upstream must not carry a query, a fragment or credentials")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"upstream {upstream!r} has an invalid port") from None
        self.upstream = upstream
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        headers = check_claim_headers(
            DEFAULT_CLAIM_HEADERS if claim_headers is None else claim_headers, _RESERVED,
            "is a header the proxy manages")
        self.claim_headers = headers
        #: environ keys never forwarded from the client: our claim headers, in any spelling.
        self._stripped = frozenset(environ_key(header) for header in headers.values())
        if (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                or not 0 < timeout <= MAX_TIMEOUT):  # also refuses nan
            raise ConfigError(f"timeout must be a number of seconds above 0 and at most "
                              f"{MAX_TIMEOUT:g}, such as 30, not {timeout!r}")
        self.timeout = float(timeout)
        self.forward_authorization = bool(forward_authorization)
        self.manager: JWTManager | None = None
        if manager is not None and settings is not None:
            raise ConfigError("pass the proxy either a manager or settings, not both")
        #: The token's names are known (from a manager or settings): needed to hide it.
        self.knows_token_names = manager is not None or settings is not None
        self._use_settings(manager.settings if manager is not None else settings or Settings())
        self.manager = manager
        self._warned_unknown_names = False
        self._front: JWTManager | None = None  # the last manager seen in the environ

    def use_manager(self, manager: JWTManager) -> None:
        """Take cookie, header and parameter names and ``max_body_size`` from ``manager``.

        :raises ConfigError: when ``forward_authorization=False`` and the manager reads
            tokens from JSON bodies.
        """
        self._use_settings(manager.settings)
        self.manager = manager
        self.knows_token_names = True

    def _use_settings(self, settings: Settings) -> None:
        if not self.forward_authorization and "json" in settings.token_location:
            raise ConfigError(
                "forward_authorization=False cannot keep a token sent in a JSON body from the "
                "upstream (the proxy forwards bodies as sent): remove 'json' from "
                "token_location, or set forward_authorization=True")
        #: what carries the token, removed when forward_authorization is False
        self._token_header_keys = frozenset({"HTTP_AUTHORIZATION",
                                             environ_key(settings.header_name)})
        self._token_cookies = frozenset({
            settings.access_cookie_name, settings.refresh_cookie_name,
            settings.access_csrf_cookie_name, settings.refresh_csrf_cookie_name})
        self._query_names = frozenset({settings.query_string_name})
        self.max_body_size = settings.max_body_size
        self._message_key = settings.error_message_key

    def _also_hide(self, front: JWTManager) -> None:
        """Hide the token names of the manager in front too (a layer between it and this
        proxy kept :meth:`use_manager` from being called). Names are only ever added."""
        settings = front.settings
        if "json" in settings.token_location:
            logger.error("ReverseProxy(%s, forward_authorization=False) is behind a manager "
                         "that reads tokens from JSON bodies, which it cannot remove",
                         self._netloc)
            self.knows_token_names = False  # every request is refused: fail closed
            return
        self._token_header_keys |= {environ_key(settings.header_name)}
        self._token_cookies |= {settings.access_cookie_name, settings.refresh_cookie_name,
                                settings.access_csrf_cookie_name,
                                settings.refresh_csrf_cookie_name}
        self._query_names |= {settings.query_string_name}
        self.knows_token_names = True

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        # origin-form only: the client's authority in an absolute-form target stays here
        path = origin_form(str(environ.get("PATH_INFO", "") or "/"))
        if not path.startswith("/"):
            # werkzeug's server, waitress and wsgiref hand on "GET -admin/x" as PATH_INFO
            # "-admin/x": glued to the prefix /api it would leave for /api-admin/x. Routers
            # read it with a leading slash, as the rules did: so does the upstream.
            path = "/" + path
        if not self.forward_authorization and self.manager is None:
            front = environ.get(MANAGER)
            if front is not None and front is not self._front:
                self._front = front
                self._also_hide(front)
            if not self.knows_token_names:
                return self._unknown_token_names(environ, start_response)
        if not HTTP_TOKEN.fullmatch(method):
            return self._refuse(400, "Invalid request method", environ, start_response)
        if has_dot_segment(path):
            # /../internal (or /..;/internal, which Tomcat reads the same) under the
            # prefix /public-api would leave the one subtree the operator exposed.
            return self._refuse(400, "Dot segments in the path are not forwarded", environ,
                                start_response)
        target = self._prefix + quote_path(path)
        query = str(environ.get("QUERY_STRING") or "")
        if query and not self.forward_authorization:
            query = without_parameter(query, self._query_names)
        if query:
            target += "?" + quote_query(query)
        headers = self._request_headers(environ)
        deadline = Deadline(self.timeout)
        try:
            body = request_body(environ, headers, self.max_body_size, deadline)
        except TooLarge:
            return self._refuse(413, "Request body too large", environ, start_response)
        except BadLength:
            return self._refuse(400, "Invalid Content-Length", environ, start_response)
        connection = self._connect(deadline)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            check_framing(response)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if isinstance(exc, TimeoutError):
                logger.warning("upstream %s did not answer within %g s", self._netloc,
                               self.timeout)
                return self._refuse(504, "Upstream timed out", environ, start_response)
            reason = str(exc) if isinstance(exc, Unframeable) else type(exc).__name__
            logger.warning("upstream %s failed: %s", self._netloc, reason)
            return self._refuse(502, "Bad gateway", environ, start_response)
        reason = response.reason if PLAIN_VALUE.fullmatch(response.reason or "") else ""
        line = f"{response.status} {reason}" if reason else status_line(response.status)
        start_response(line, response_headers(response))
        return Body(connection, response, self._netloc)

    def _unknown_token_names(self, environ: WSGIEnvironment,
                             start_response: StartResponse) -> Iterable[bytes]:
        if not self._warned_unknown_names:
            self._warned_unknown_names = True
            logger.error(
                "ReverseProxy(%s, forward_authorization=False) does not know which header, "
                "cookies and parameter carry the token, so it refuses every request (500): "
                "wrap it in JWTMiddleware directly, pass it manager= or settings=, or, in a "
                "PasteDeploy file, give its app section (or [DEFAULT]) the jwt_* settings",
                self._netloc)
        return self._refuse(500, "Internal server error", environ, start_response)

    def _refuse(self, status: int, message: str, environ: WSGIEnvironment,
                start_response: StartResponse) -> Iterable[bytes]:
        return json_response({self._message_key: message}, status, [])(environ, start_response)

    def _connect(self, deadline: Deadline) -> http.client.HTTPConnection:
        kind = HTTPSConnection if self._https else HTTPConnection
        connection = kind(self._host, self._port, deadline=deadline)
        connection.response_class = UpstreamResponse
        return connection

    def _request_headers(self, environ: WSGIEnvironment) -> dict[str, str]:
        named_hop = named_in_connection(str(environ.get("HTTP_CONNECTION", "")))
        headers: dict[str, str] = {}
        forwarded_for: list[str] = []
        for key, raw in environ.items():
            if not key.startswith("HTTP_") or key in self._stripped:
                continue
            name = key[5:].replace("_", "-").title()
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in named_hop or lower in NOT_FORWARDED:
                continue
            value = unfold(str(raw))
            if lower in FORWARDING:
                if lower == "x-forwarded-for":
                    forwarded_for.append(value)
                continue
            if not self.forward_authorization:
                if key in self._token_header_keys:
                    continue
                if lower == "cookie":
                    value = without_cookies(value, self._token_cookies)
                    if not value:
                        continue
            headers[name] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = unfold(str(environ["CONTENT_TYPE"]))
        headers["Host"] = self._netloc
        # X-Forwarded-For: what the client sent (untrusted) with the peer address appended
        client = str(environ.get("REMOTE_ADDR", ""))
        if client:
            forwarded_for.append(client)
        if forwarded_for:
            headers["X-Forwarded-For"] = ", ".join(forwarded_for)
        headers["X-Forwarded-Proto"] = str(environ.get("wsgi.url_scheme", "http"))
        if environ.get("HTTP_HOST"):
            headers["X-Forwarded-Host"] = unfold(str(environ["HTTP_HOST"]))
        if str(environ.get("SERVER_PORT", "")).isdigit():
            headers["X-Forwarded-Port"] = str(environ["SERVER_PORT"])
        claims = environ.get(CLAIMS) or {}
        for claim, header in self.claim_headers.items():
            if claim in claims:
                headers[header] = header_value(claims[claim])
        return headers


def _upstream_parts(upstream: Any) -> SplitResult:
    """``upstream`` split by urlsplit, or a :class:`ConfigError` saying how to write it.

    Refused: what http.client would fail on at every request (a space, a control or a
    non-ASCII character) and what urlsplit would quietly change (it drops tabs and line
    breaks and strips leading blanks: ``"http://h/api\\r\\n"`` would become ``/api``).
    """
    if not isinstance(upstream, str):
        raise ConfigError(f"upstream must be a URL string, not {upstream!r}")
    for position, char in enumerate(upstream):
        if char <= " " or char == "\x7f":
            raise ConfigError(
                f"upstream {upstream!r} has a space or control character ({char!r}) at "
                f"position {position}: remove it, or percent-encode it in the path "
                "(a space is %20)")
        if not char.isascii():
            raise ConfigError(
                f"upstream {upstream!r} has the non-ASCII character {char!r}: percent-encode "
                "it in the path (UTF-8, 'é' is %C3%A9) and give the host in ASCII (xn--)")
    try:
        return urlsplit(upstream)
    except ValueError as exc:
        raise ConfigError(f"upstream {upstream!r} is not a valid URL: {exc}") from None


def check_claim_headers(headers: Any, reserved: frozenset[str] | set[str],
                        reserved_why: str) -> dict[str, str]:
    """``claim_headers`` (claim name -> header name) checked once, for the reverse proxy and
    for forward auth alike: names a server keeps, none reserved, none given twice in any
    spelling a WSGI server folds into one name (``X-Auth-User`` and ``X_Auth_User``).

    :raises ConfigError: naming the header at fault.
    """
    if not isinstance(headers, Mapping):
        raise ConfigError("claim_headers must map claim names to header names")
    seen: set[str] = set()
    for claim, header in headers.items():
        if not isinstance(claim, str) or not claim:
            raise ConfigError("claim_headers: claim names must be non-empty strings")
        if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
            raise ConfigError(f"claim_headers: {header!r} is not a usable header name "
                              "(letters, digits and '-')")
        if header.lower() in reserved:
            raise ConfigError(f"claim_headers: {header!r} {reserved_why}")
        if environ_key(header) in seen:
            raise ConfigError(f"claim_headers: {header!r} is given twice")
        seen.add(environ_key(header))
    return dict(headers)
