"""Responders: the pluggable loaders, registered once, and the answers they produce.

A loader's signature is inspected when it is registered, never per request: that
decides which arguments it gets (the seed's or flask-jwt-extended 4.x's) and whether it
takes the WSGI ``environ`` as a keyword-only parameter. Whatever it returns becomes a
WSGI response; a loader that raises or returns something unusable is logged and the
default answer is sent instead.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import InsufficientScopeError, JWTWSGIError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

MSG = ("msg",)
TOKEN = ("jwt_header", "jwt_payload")
#: Each responder loader and the argument lists it may take, by arity.
RESPONDER_ARGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "unauthorized_loader": (MSG,),
    "invalid_token_loader": (MSG,),
    "invalid_request_loader": (MSG,),
    "csrf_error_loader": (MSG,),
    "service_unavailable_loader": (MSG,),
    "insufficient_scope_loader": (MSG, TOKEN),
    "expired_token_loader": ((), TOKEN),
    "needs_fresh_token_loader": ((), TOKEN),
    "revoked_token_loader": ((), TOKEN),
}
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                500: "Internal Server Error", 503: "Service Unavailable"}
_HEADER_VALUE_OK = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_HEADER_NAME_OK = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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
                return self._with_challenge(self._to_wsgi(result, error), error)
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

    def _to_wsgi(self, result: Any, error: JWTWSGIError) -> WSGIApplication:
        if isinstance(result, tuple) and 2 <= len(result) <= 3:
            body, status = result[0], _status(result[1])
            headers = _headers(result[2]) if len(result) == 3 else []
            return body_response(body, status, headers)
        if isinstance(result, (dict, list)):
            return json_response(result, error.status, [])
        if callable(result):
            return result  # type: ignore[no-any-return]
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
        if not _HEADER_NAME_OK.fullmatch(name) or not _HEADER_VALUE_OK.fullmatch(val):
            raise TypeError("a responder header name or value has forbidden characters")
        headers.append((name, val))
    return headers


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
    all_headers = [*base, *kept, ("Content-Length", str(len(data)))]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(line, list(all_headers))
        return [data]

    return app
