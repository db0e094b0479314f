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

::

    app = JWTMiddleware(ReverseProxy("http://127.0.0.1:9000", {"sub": "X-Jwt-Sub"}), jwt,
                        routes={"/api/*": "required"})
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, unquote_plus, urlsplit

from .context import CLAIMS
from .errors import ConfigError
from .handlers import json_response, status_line
from .routes import MAX_DECODES, origin_form
from .settings import HTTP_TOKEN, Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .manager import JWTManager

logger = logging.getLogger("jwt_wsgi")

#: RFC 9110 7.6.1: headers that concern one connection only, never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
DEFAULT_CLAIM_HEADERS: Mapping[str, str] = {"sub": "X-Jwt-Sub"}
# The server already answered Expect: 100-continue; http.client cannot wait for it anyway.
_NOT_FORWARDED = frozenset({"host", "content-length", "expect"})
#: Forwarding headers a client could forge to pose as another address, host or scheme: never
#: passed on as sent (in any spelling); the proxy sets X-Forwarded-For/-Proto/-Host/-Port.
FORWARDING = frozenset({
    "forwarded", "x-real-ip", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl",
    "x-forwarded-scheme", "x-forwarded-protocol", "x-url-scheme", "front-end-https",
    "x-client-ip", "true-client-ip", "x-cluster-client-ip"})
#: The longest ``timeout`` (about 31 years): past some 9e9 seconds the socket's deadline
#: overflows the clock, and every request would raise OverflowError.
MAX_TIMEOUT = 1e9
_RESERVED = (HOP_BY_HOP | _NOT_FORWARDED | FORWARDING
             | {"content-type", "authorization", "cookie"})
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_PLAIN_VALUE = re.compile(r"[\x20-\x7e]*")
# RFC 9112 5.2: an obs-fold (CRLF then SP/HTAB) becomes SP before forwarding; so does any
# other run of CR, LF and NUL a server left in a value, with the blanks around it.
_LINE_BREAK = re.compile(r"[ \t]*[\r\n\x00][\r\n\x00 \t]*")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in "\"#<>\\^`{|}")
_CHUNK = 64 * 1024


def environ_key(header: str) -> str:
    """The WSGI environ key a server uses for a header: ``X-Jwt-Sub`` -> ``HTTP_X_JWT_SUB``."""
    return "HTTP_" + header.upper().replace("-", "_")


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
    :param timeout: seconds to wait for the upstream to connect and to answer: a finite
        number above 0, at most :data:`MAX_TIMEOUT`.
    :param manager: the :class:`~jwt_wsgi.JWTManager` of the middleware in front, for its
        cookie, header and parameter names and ``max_body_size``; without it the defaults of
        :class:`~jwt_wsgi.settings.Settings` apply until :meth:`use_manager` sets it;
        ``JWTMiddleware(proxy, jwt)`` does so for a proxy built without one.
    :raises ConfigError: for a URL, header name or combination of options that cannot work.
    """

    def __init__(self, upstream: str, claim_headers: Mapping[str, str] | None = None, *,
                 forward_authorization: bool = True, timeout: float = 30.0,
                 manager: JWTManager | None = None) -> None:
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
        headers = dict(DEFAULT_CLAIM_HEADERS if claim_headers is None else claim_headers)
        seen: set[str] = set()
        for claim, header in headers.items():
            if not isinstance(claim, str) or not claim:
                raise ConfigError("claim_headers: claim names must be non-empty strings")
            if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
                raise ConfigError(f"claim_headers: {header!r} is not a usable header name "
                                  "(letters, digits and '-')")
            if header.lower() in _RESERVED:
                raise ConfigError(f"claim_headers: {header!r} is a header the proxy manages")
            key = environ_key(header)
            if key in seen:
                raise ConfigError(f"claim_headers: {header!r} is given twice")
            seen.add(key)
        self.claim_headers = headers
        #: environ keys never forwarded from the client: our claim headers, in any spelling.
        self._stripped = frozenset(seen)
        if (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                or not 0 < timeout <= MAX_TIMEOUT):  # also refuses nan
            raise ConfigError(f"timeout must be a number of seconds above 0 and at most "
                              f"{MAX_TIMEOUT:g}, such as 30, not {timeout!r}")
        self.timeout = float(timeout)
        self.forward_authorization = bool(forward_authorization)
        self.manager: JWTManager | None = None
        self._use_settings(Settings() if manager is None else manager.settings)
        if manager is not None:
            self.manager = manager

    def use_manager(self, manager: JWTManager) -> None:
        """Take cookie, header and parameter names and ``max_body_size`` from ``manager``.

        :raises ConfigError: when ``forward_authorization=False`` and the manager reads
            tokens from JSON bodies.
        """
        self._use_settings(manager.settings)
        self.manager = manager

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
        self._query_name = settings.query_string_name
        self.max_body_size = settings.max_body_size
        self._message_key = settings.error_message_key

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        # origin-form only: the client's authority in an absolute-form target stays here
        path = origin_form(str(environ.get("PATH_INFO", "") or "/"))
        if not HTTP_TOKEN.fullmatch(method):
            return self._refuse(400, "Invalid request method", environ, start_response)
        if has_dot_segment(path):
            # /../internal under the prefix /public-api would leave the one subtree the
            # operator exposed, at any upstream that resolves dot segments.
            return self._refuse(400, "Dot segments in the path are not forwarded", environ,
                                start_response)
        target = self._prefix + quote_path(path)
        query = str(environ.get("QUERY_STRING") or "")
        if query and not self.forward_authorization:
            query = without_parameter(query, self._query_name)
        if query:
            target += "?" + quote_query(query)
        headers = self._request_headers(environ)
        try:
            body = self._body(environ, headers)
        except _TooLarge:
            return self._refuse(413, "Request body too large", environ, start_response)
        except _BadLength:
            return self._refuse(400, "Invalid Content-Length", environ, start_response)
        connection = self._connect()
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            timed_out = isinstance(exc, (TimeoutError, socket.timeout))
            logger.warning("upstream %s failed: %s", self._netloc, type(exc).__name__)
            status, message = (504, "Upstream timed out") if timed_out else (502, "Bad gateway")
            return json_response({self._message_key: message}, status,
                                 [])(environ, start_response)
        reason = response.reason if _PLAIN_VALUE.fullmatch(response.reason or "") else ""
        line = f"{response.status} {reason}" if reason else status_line(response.status)
        start_response(line, _response_headers(response))
        return _Body(connection, response)

    def _refuse(self, status: int, message: str, environ: WSGIEnvironment,
                start_response: StartResponse) -> Iterable[bytes]:
        return json_response({self._message_key: message}, status, [])(environ, start_response)

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _request_headers(self, environ: WSGIEnvironment) -> dict[str, str]:
        named_hop = {token.strip().lower() for token in
                     str(environ.get("HTTP_CONNECTION", "")).split(",")}
        headers: dict[str, str] = {}
        forwarded_for: list[str] = []
        for key, raw in environ.items():
            if not key.startswith("HTTP_") or key in self._stripped:
                continue
            name = key[5:].replace("_", "-").title()
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in named_hop or lower in _NOT_FORWARDED:
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

    def _body(self, environ: WSGIEnvironment, headers: dict[str, str]) -> Any:
        """The request body for http.client: streamed when its length is known.

        :raises _TooLarge: when the body is, or says it is, over ``max_body_size``; a
            declared length is refused before a byte is read, a chunked body (which must be
            buffered to send it with a length) after at most ``max_body_size + 1`` bytes.
        """
        stream = environ.get("wsgi.input")
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if stream is None:
            return None
        if length and not (length.isascii() and length.isdigit()):  # "²" passes isdigit()
            raise _BadLength()
        if length and int(length) > 0:
            if int(length) > self.max_body_size:
                raise _TooLarge()
            headers["Content-Length"] = length
            return _Limited(stream, int(length))
        data = b""
        if environ.get("wsgi.input_terminated") and not length:
            # a chunked request body; the server marks its end
            data = _read_at_most(stream, self.max_body_size + 1)
            if len(data) > self.max_body_size:
                raise _TooLarge()
        if data or environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(data))
            return bytes(data)
        return None


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


def unfold(value: str) -> str:
    """A header value on one line, as RFC 9112 5.2 has a proxy forward an obs-fold.

    Each obs-fold (CRLF then SP or HTAB) and any other run of CR, LF and NUL, with the
    blanks around it, becomes one SP. wsgiref keeps ``X-Foo: a`` and a folded line
    ``X-Jwt-Role: root`` as ``'a\\r\\n X-Jwt-Role: root'``; sent on as is, an upstream
    that does not fold lines would read a claim header the proxy never set.
    """
    if "\r" in value or "\n" in value or "\x00" in value:
        return _LINE_BREAK.sub(" ", value)
    return value


def without_parameter(query: str, name: str) -> str:
    """``query`` without the ``name=...`` parameters; the others are kept as sent."""
    kept = [part for part in query.split("&")
            if unquote_plus(part.partition("=")[0]) != name]
    return "&".join(kept)


def without_cookies(header: str, names: frozenset[str]) -> str:
    """A ``Cookie`` header without the cookies called ``names``; the others as sent."""
    kept = [part.strip() for part in header.split(";")
            if part.strip() and part.partition("=")[0].strip() not in names]
    return "; ".join(kept)


def has_dot_segment(path: str) -> bool:
    """Whether a segment of ``path`` is ``.`` or ``..`` in any of its first layers of
    percent-decoding (``%2e%2e%2f`` decodes to ``../``), with a backslash as a slash, as
    some servers take it."""
    for _ in range(MAX_DECODES + 1):
        if any(segment in (".", "..") for segment in re.split(r"[/\\]", path)):
            return True
        decoded = unquote(path, encoding="latin-1") if "%" in path else path
        if decoded == path:
            return False
        path = decoded
    return False


def quote_query(query: str) -> str:
    """``QUERY_STRING`` with what http.client cannot send (non-ASCII bytes from the
    client, spaces, control characters) percent-encoded; the rest as the client wrote it."""
    try:
        raw = query.encode("latin-1")
    except UnicodeEncodeError:
        raw = query.encode("utf-8", "surrogatepass")
    return quote(raw, safe=_QUERY_SAFE)


def quote_path(path: str) -> str:
    """``PATH_INFO`` back to the bytes the client sent, percent-encoded.

    PEP 3333 gives the path as latin-1 text (one character a byte): ``/caf%C3%A9`` arrives
    as ``'/caf\\xc3\\xa9'`` and must leave as ``/caf%C3%A9``, not as the UTF-8 of each
    character. A server that hands over real Unicode (outside latin-1) gets UTF-8.
    """
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return quote(raw, safe=_PATH_SAFE)


def header_value(value: Any) -> str:
    """A claim as a header value: plain ASCII strings as is, anything else as ASCII JSON.

    A string goes as JSON too when sending it as is would make it read as another value:
    surrounding spaces (HTTP drops them, `` alice `` would arrive as ``alice``) or text that
    parses as JSON (``"zo\\u00eb"``, ``42``, ``["a"]``). So the upstream's rule "JSON if it
    parses, else the text" gives back exactly the claim.
    """
    if isinstance(value, str) and _PLAIN_VALUE.fullmatch(value) and value == value.strip(" \t"):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def _response_headers(response: http.client.HTTPResponse) -> list[tuple[str, str]]:
    named_hop = {token.strip().lower() for token in
                 (response.getheader("Connection") or "").split(",")}
    return [(name, value) for name, value in response.getheaders()
            if name.lower() not in HOP_BY_HOP and name.lower() not in named_hop]


class _BadLength(Exception):
    """The request's Content-Length is not a number."""


class _TooLarge(Exception):
    """The request body is over ``max_body_size``."""


def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, read in blocks (a read may return fewer)."""
    parts: list[bytes] = []
    total = 0
    while total < limit:
        block: bytes = stream.read(min(_CHUNK, limit - total))
        if not block:
            break
        parts.append(block)
        total += len(block)
    return b"".join(parts)


class _Limited:
    """At most ``remaining`` bytes of a WSGI input stream, read by http.client in blocks."""

    def __init__(self, stream: Any, remaining: int) -> None:
        self._stream = stream
        self._remaining = remaining

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size < 0 else min(size, self._remaining)
        data: bytes = self._stream.read(size)
        self._remaining -= len(data)
        if not data:
            self._remaining = 0
        return data


class _Body:
    """The upstream's body, streamed; the connection closes when the server closes us."""

    def __init__(self, connection: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        self._connection = connection
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._response.read(_CHUNK)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self._response.close()
        self._connection.close()
