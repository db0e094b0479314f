"""Responders: the pluggable loaders, registered once, and the answers they produce.

A loader's signature is inspected when it is registered, never per request: that
decides which arguments it gets (the seed's or flask-jwt-extended 4.x's, listed in
:data:`jwt_wsgi.compat.RESPONDER_ARGS`) and whether it
takes the WSGI ``environ`` as a keyword-only parameter. Whatever it returns becomes a
WSGI response; a loader that raises or returns something unusable is logged and the
default answer is sent instead. A WSGI app it returns (a webob or werkzeug ``Response``
too) is run to completion inside that guard, so a broken one cannot reach the server.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .compat import RESPONDER_ARGS
from .errors import InsufficientScopeError, JWTWSGIError
from .settings import HTTP_TOKEN

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                500: "Internal Server Error", 503: "Service Unavailable"}
_HEADER_VALUE_OK = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_STATUS_LINE_OK = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(r"[0-9]+")
#: The most body a responder's own WSGI app may produce: an error answer is small, and a
#: larger one is treated as a broken responder (the default answer is sent).
MAX_RESPONDER_BODY = 64 * 1024


def status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        phrase = _STATUS_TEXT.get(status) or HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"


def quote_param(value: str) -> str:
    """An RFC 6750 quoted parameter value: only %x20-21 / %x23-5B / %x5D-7E survive."""
    return "".join(ch for ch in value if ch in _PARAM_CHARS)


_PARAM_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F) if c not in (0x22, 0x5C))


class Signature:
    """How to call one registered loader: which positional arguments, and ``environ`` or not."""

    __slots__ = ("args", "wants_environ")

    def __init__(self, func: Callable[..., Any], choices: tuple[tuple[str, ...], ...],
                 name: str) -> None:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            raise TypeError(f"{name}: cannot read the signature of {func!r}") from None
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = sum(1 for p in positional if p.default is p.empty)
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        keyword_only = [p for p in params if p.kind is p.KEYWORD_ONLY]
        self.wants_environ = any(p.name == "environ" for p in keyword_only) or any(
            p.kind is p.VAR_KEYWORD for p in params)
        missing = [p.name for p in keyword_only if p.default is p.empty and p.name != "environ"]
        if missing:
            raise TypeError(f"{name}: keyword-only parameters {missing} cannot be supplied")
        fitting = [c for c in choices
                   if required <= len(c) and (variadic or len(c) <= len(positional))]
        if not fitting:
            wanted = " or ".join("(" + ", ".join(c) + ")" for c in choices)
            raise TypeError(f"{name} must accept {wanted} (and optionally a keyword-only "
                            f"'environ'); {getattr(func, '__name__', func)!r} does not")
        self.args = max(fitting, key=len)


class Responders:
    """The registered responder loaders of a manager, and the default answers."""

    def __init__(self, message_key: str = "msg", scheme: str = "Bearer",
                 realm: str | None = None) -> None:
        self._loaders: dict[str, tuple[Callable[..., Any], Signature]] = {}
        self._message_key = message_key
        self._scheme = scheme or "Bearer"
        self._realm = realm
        self._defaults: dict[tuple[type[JWTWSGIError], str, str], WSGIApplication] = {}

    def register(self, name: str, func: Callable[..., Any]) -> None:
        if name not in RESPONDER_ARGS:
            raise TypeError(f"unknown loader {name!r}")
        if not callable(func):
            raise TypeError(f"{name} must be callable")
        self._loaders[name] = (func, Signature(func, RESPONDER_ARGS[name], name))

    def challenge(self, error: JWTWSGIError) -> str:
        """The RFC 6750 ``WWW-Authenticate`` value for an error."""
        params = []
        if self._realm:
            params.append(f'realm="{quote_param(self._realm)}"')
        if error.error:
            params.append(f'error="{error.error}"')
            if isinstance(error, InsufficientScopeError) and error.scope:
                # The scope says it all (RFC 6750 3.1's own example has no description).
                params.append(f'scope="{quote_param(error.scope)}"')
            else:
                params.append(f'error_description="{quote_param(error.message)}"')
        return self._scheme + (" " + ", ".join(params) if params else "")

    def has_loader(self, error: JWTWSGIError) -> bool:
        """Whether a loader is registered for this error (else the default answers)."""
        return error.loader in self._loaders

    def respond(self, error: JWTWSGIError, environ: WSGIEnvironment) -> WSGIApplication:
        """The WSGI response for a refusal: the loader's if one is registered, else the default."""
        registered = self._loaders.get(error.loader)
        if registered is not None:
            func, signature = registered
            try:
                values = {"msg": error.message, "jwt_header": dict(error.jwt_header or {}),
                          "jwt_payload": dict(error.jwt_payload or {})}
                kwargs = {"environ": environ} if signature.wants_environ else {}
                result = func(*(values[name] for name in signature.args), **kwargs)
                return self._with_challenge(self._to_wsgi(result, error, environ), error)
            except Exception:
                logger.exception("%s raised or returned an unusable value; "
                                 "sending the default answer", error.loader)
        return self.default(error)

    def default(self, error: JWTWSGIError) -> WSGIApplication:
        """The prebuilt default answer: ``{"msg": ...}`` with the error's status."""
        scope = error.scope if isinstance(error, InsufficientScopeError) else ""
        key = (type(error), error.message, scope)
        app = self._defaults.get(key)
        if app is None:
            headers = [("WWW-Authenticate", self.challenge(error))] \
                if error.status in (400, 401, 403) else []
            app = json_response({self._message_key: error.message}, error.status, headers)
            if len(self._defaults) < 256:
                self._defaults[key] = app
        return app

    def _to_wsgi(self, result: Any, error: JWTWSGIError,
                 environ: WSGIEnvironment) -> WSGIApplication:
        if isinstance(result, tuple) and 2 <= len(result) <= 3:
            body, second = result[0], result[1]
            if len(result) == 2 and isinstance(second, (Mapping, list)):
                status, headers = error.status, _headers(second)  # Flask's (body, headers)
            else:
                status = _status(second)
                headers = _headers(result[2]) if len(result) == 3 else []
            if callable(body):  # (Response, 401[, headers]), as Flask views return them
                line, own, data = materialise(body, environ)
                names = {name.lower() for name, _ in headers}
                own = [(name, value) for name, value in own if name.lower() not in names]
                line = status_line(status)
                return prebuilt(line, _framed(line, [*own, *headers], data, environ), data)
            return body_response(body, status, headers)
        if isinstance(result, (dict, list)):
            return json_response(result, error.status, [])
        if callable(result):
            return run_to_completion(result, environ)
        raise TypeError(f"{error.loader} returned {type(result).__name__}; return "
                        "(body, status[, headers]), a dict, or a WSGI response")

    def _with_challenge(self, app: WSGIApplication, error: JWTWSGIError) -> WSGIApplication:
        """Add ``WWW-Authenticate`` to a 401 or 403 that the responder sent without one."""
        challenge = self.challenge(error)

        def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                if status[:3] in ("401", "403") and not any(
                        name.lower() == "www-authenticate" for name, _ in headers):
                    headers = [*headers, ("WWW-Authenticate", challenge)]
                return start_response(status, headers, exc_info)

            return app(environ, start)

        return wrapped


def _status(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and value[:3].isdigit() and 100 <= int(value[:3]) <= 599:
        return int(value[:3])
    raise TypeError(f"status must be an HTTP status code, not {value!r}")


def _headers(value: Any) -> list[tuple[str, str]]:
    items = value.items() if isinstance(value, Mapping) else value
    headers = []
    for name, val in items:
        name, val = str(name), str(val)
        if not HTTP_TOKEN.fullmatch(name) or not _HEADER_VALUE_OK.fullmatch(val):
            raise TypeError("a responder header name or value has forbidden characters")
        headers.append((name, val))
    return headers


def run_to_completion(app: Any, environ: WSGIEnvironment) -> WSGIApplication:
    """Run a responder's WSGI app now and return its answer, prebuilt and checked
    (see :func:`materialise`)."""
    line, headers, data = materialise(app, environ)
    return prebuilt(line, _framed(line, headers, data, environ), data)


def materialise(app: Any, environ: WSGIEnvironment,
                ) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a responder's WSGI app now: its status line, checked headers and whole body.

    Called inside the responder guard, so whatever goes wrong (the app raises, is a class
    returned by mistake, calls ``start_response`` never or twice, returns no iterable,
    yields text, sends a malformed status or header, or a body over
    :data:`MAX_RESPONDER_BODY`) raises here and the default answer is sent instead of a
    server error. Exception messages name no value the responder produced.
    """
    started: list[tuple[Any, Any, Any]] = []
    chunks: list[bytes] = []
    size = 0

    def write(data: Any) -> None:
        nonlocal size
        if not isinstance(data, bytes):
            raise TypeError("a responder's WSGI app produced a body chunk that is not bytes")
        size += len(data) or 1  # empty chunks count too: an endless b"" stream must end
        if size > MAX_RESPONDER_BODY:
            raise ValueError(f"a responder's WSGI body is over {MAX_RESPONDER_BODY} bytes")
        chunks.append(data)

    def start_response(status: Any, headers: Any, exc_info: Any = None) -> Callable[[Any], None]:
        started.append((status, headers, exc_info))
        if len(started) > 1 or exc_info is not None:
            raise RuntimeError("a responder's WSGI app called start_response more than once "
                               "or with exc_info")
        return write

    result = app(environ, start_response)
    try:
        for chunk in result:
            write(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    # Checked after the body too: a generator calls start_response on its first step, and
    # an app may have swallowed the error start_response raised.
    if len(started) != 1 or started[0][2] is not None:
        raise RuntimeError("a responder's WSGI app did not call start_response exactly once")
    status, headers = started[0][:2]
    if not isinstance(status, str) or not _STATUS_LINE_OK.fullmatch(status):
        raise TypeError("a responder's WSGI status line is malformed")
    if not isinstance(headers, (list, tuple)) or not all(
            isinstance(item, tuple) and len(item) == 2
            and isinstance(item[0], str) and isinstance(item[1], str) for item in headers):
        raise TypeError("a responder's WSGI headers are not a list of (str, str) pairs")
    return status, _headers(headers), b"".join(chunks)


def _framed(status: str, headers: list[tuple[str, str]], data: bytes,
            environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The headers with a ``Content-Length`` that matches the materialised body."""
    if status[0] == "1" or status[:3] in ("204", "304"):
        if data:
            raise ValueError("a responder's WSGI app sent a body with a bodiless status")
        return [(name, value) for name, value in headers if name.lower() != "content-length"]
    declared = [value for name, value in headers if name.lower() == "content-length"]
    if (not data and environ.get("REQUEST_METHOD") == "HEAD" and len(declared) == 1
            and _DIGITS.fullmatch(declared[0])):
        return headers  # a HEAD answer keeps the length of the body it stands for
    kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return [*kept, ("Content-Length", str(len(data)))]


def body_response(body: Any, status: int, headers: list[tuple[str, str]]) -> WSGIApplication:
    if isinstance(body, (dict, list)):
        return json_response(body, status, headers)
    if isinstance(body, str):
        return bytes_response(body.encode("utf-8"), status, "text/plain; charset=utf-8", headers)
    if isinstance(body, bytes):
        return bytes_response(body, status, "application/octet-stream", headers)
    raise TypeError(f"a responder body must be a dict, list, str or bytes, not {type(body).__name__}")


def json_response(body: Any, status: int, headers: list[tuple[str, str]]) -> WSGIApplication:
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return bytes_response(data, status, "application/json", headers)


def bytes_response(data: bytes, status: int, content_type: str,
                   headers: list[tuple[str, str]]) -> WSGIApplication:
    """A prebuilt WSGI response: its status line and headers are computed once."""
    line = status_line(status)
    names = {name.lower() for name, _ in headers}
    base = [(n, v) for n, v in (("Content-Type", content_type), ("Cache-Control", "no-store"))
            if n.lower() not in names]
    kept = [(n, v) for n, v in headers if n.lower() != "content-length"]
    return prebuilt(line, [*base, *kept, ("Content-Length", str(len(data)))], data)


def prebuilt(line: str, headers: list[tuple[str, str]], data: bytes) -> WSGIApplication:
    """A WSGI app that sends a fixed status line, headers and body."""
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(line, list(headers))
        return [data]

    return app
