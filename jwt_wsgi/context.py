"""Reading the verified token downstream: from an environ or any request with ``.environ``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLAIMS = "jwt_wsgi.claims"
HEADER = "jwt_wsgi.header"
IDENTITY = "jwt_wsgi.identity"
LOCATION = "jwt_wsgi.location"
USER = "jwt_wsgi.user"
#: The :class:`~jwt_wsgi.JWTManager` of the middleware that let the request through, for
#: layers behind it (the reverse proxy reads where tokens are carried, to hide them).
MANAGER = "jwt_wsgi.manager"
#: Headers with which method-override middlewares (Rails, Laravel, Flask snippets) change the
#: method the app sees: every rule and check must hold for those methods too.
METHOD_OVERRIDES = ("HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD",
                    "HTTP_X_METHOD_OVERRIDE")


def methods_of(environ: Mapping[str, Any]) -> list[str]:
    """The methods an app may take the request for: the real one, then any override."""
    methods = [str(environ.get("REQUEST_METHOD", "GET")).upper()]
    methods += [str(environ[key]).strip().upper() for key in METHOD_OVERRIDES if key in environ]
    return methods


def _environ(request_or_environ: Any) -> Mapping[str, Any]:
    if isinstance(request_or_environ, Mapping):
        return request_or_environ
    environ = getattr(request_or_environ, "environ", None)
    if environ is None:
        environ = getattr(request_or_environ, "META", None)  # Django's HttpRequest
    if not isinstance(environ, Mapping):
        raise TypeError("pass a WSGI environ or a request object with .environ")
    return environ


def get_jwt(request_or_environ: Any) -> dict[str, Any]:
    """The verified token's claims, or ``{}`` when the request carried no token."""
    return dict(_environ(request_or_environ).get(CLAIMS) or {})


def get_jwt_header(request_or_environ: Any) -> dict[str, Any]:
    """The verified token's JOSE header, or ``{}`` when the request carried no token."""
    return dict(_environ(request_or_environ).get(HEADER) or {})


def get_jwt_identity(request_or_environ: Any) -> Any:
    """The identity claim (``sub`` by default), or ``None`` when there was no token."""
    return _environ(request_or_environ).get(IDENTITY)


def get_jwt_request_location(request_or_environ: Any) -> str | None:
    """Where the verified token came from (``"headers"``, ``"cookies"``, ``"query_string"``,
    ``"json"``), or ``None`` when the request carried no token."""
    location = _environ(request_or_environ).get(LOCATION)
    return location if isinstance(location, str) else None


def get_current_user(request_or_environ: Any) -> Any:
    """The user that ``user_lookup_loader`` returned for this request's token, or ``None``
    when the request carried no token or no ``user_lookup_loader`` is registered."""
    return _environ(request_or_environ).get(USER)
