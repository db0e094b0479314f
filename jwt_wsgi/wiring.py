"""Wiring: how an app, a manager and the middleware are put together, and the ways to get it wrong.

A newcomer writes what worked in the library they came from: ``JWTManager(app)`` and
``jwt.init_app(app)`` (flask-jwt-extended), ``JWTManager("secret")`` (PyJWT, Express),
``JWTMiddleware(jwt, app)``, ``app.wsgi_app = JWTMiddleware(app, jwt)`` (the Flask object
instead of its ``wsgi_app``), an ASGI app (FastAPI, Starlette), ``@jwt.expired_token_loader()``
with parentheses. Each of these either works or fails here, at once, with a message that
shows the line to write instead. Nothing in this module runs per request except
:data:`WITHIN`, the marker that catches a middleware called again inside itself.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

#: The line that wraps a Flask app, shown wherever a message is about Flask.
FLASK_LINE = "app.wsgi_app = JWTMiddleware(app.wsgi_app, jwt, routes={...})"
#: The environ key a middleware sets while the app it wraps runs: finding its own mark
#: again means the app called the middleware back (see :func:`reentry_message`).
WITHIN = "jwt_wsgi.within"

#: flask-jwt-extended loaders with no counterpart here, and what to use instead.
FOREIGN_LOADERS = {
    "token_verification_loader": "a route policy with 'claims' or 'check'",
    "claims_verification_loader": "a route policy with 'claims' or 'check'",
    "token_verification_failed_loader": "insufficient_scope_loader",
    "claims_verification_failed_loader": "insufficient_scope_loader",
    "encode_key_loader": "the private_key / signing_keys settings",
    "decode_key_loader": "the public_key, jwks or issuers settings",
}


def check_settings_argument(settings: object) -> None:
    """Refuse a first positional argument to ``JWTManager`` that is not a ``Settings``.

    :raises TypeError: naming the form to write, for a Flask app, a config mapping, a
        bare secret, or anything else.
    """
    if _is_flask_app(settings):
        raise TypeError(
            "JWTManager(app) is flask-jwt-extended's form; jwt_wsgi reads the JWT_* keys "
            "and wraps the app in two lines: jwt = JWTManager.from_mapping(app.config) "
            f"then {FLASK_LINE}")
    if isinstance(settings, Mapping):
        raise TypeError("JWTManager takes keyword options; to read JWT_* keys from a "
                        "mapping (a Flask app.config, os.environ, INI strings) write "
                        "JWTManager.from_mapping(mapping)")
    if isinstance(settings, (str, bytes)):
        raise TypeError("pass the key by name: JWTManager(secret_key=...) for HS256, or "
                        "JWTManager(algorithm='RS256', private_key=...)")
    raise TypeError(f"JWTManager's first argument is a Settings object, not "
                    f"{type(settings).__name__}; write JWTManager(secret_key=..., ...)")


def init_app_message() -> str:
    return ("jwt.init_app(app) is flask-jwt-extended's form; jwt_wsgi protects the app "
            f"with a middleware and a routes table instead: {FLASK_LINE}")


def loader_function(name: str, func: F | None) -> F:
    """The function given to a loader decorator, or a TypeError that shows the right form.

    ``@jwt.expired_token_loader()`` (with parentheses, as ``@app.route()``) calls the
    decorator with no function; flask-jwt-extended has no such form either, so one form
    is kept and the message shows it.
    """
    if func is None:
        raise TypeError(f"{name} is a decorator without parentheses: write "
                        f"'@jwt.{name}' above the function (or call jwt.{name}(func))")
    if not callable(func):
        raise TypeError(f"{name} takes the loader function itself, not {func!r}: write "
                        f"'@jwt.{name}' above the function (or call jwt.{name}(func))")
    return func


def unknown_loader_message(name: str, known: Iterable[str]) -> str:
    """``unknown loader 'expired_loader'; did you mean 'expired_token_loader'?``"""
    message = f"unknown loader {name!r}"
    if name in FOREIGN_LOADERS:
        return (f"{message}: flask-jwt-extended's {name} has no counterpart in jwt_wsgi; "
                f"use {FOREIGN_LOADERS[name]}")
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; the loaders are: {', '.join(names)}"


def check_app(app: object, manager_type: type) -> None:
    """Refuse, at construction, an ``app`` argument that cannot be a WSGI app.

    :raises TypeError: the manager was given where the app goes (swapped arguments).
    :raises ConfigError: not callable, or an ASGI app (FastAPI, Starlette, Django's
        ASGIHandler), which would fail on its first request.
    """
    if isinstance(app, manager_type):
        raise TypeError("JWTMiddleware(app, manager): the app comes first, then the manager, "
                        f"as in {FLASK_LINE} or JWTMiddleware(wsgi_app, jwt, routes={{...}})")
    if not callable(app):
        raise ConfigError(f"app must be a WSGI callable (environ, start_response), not "
                          f"{type(app).__name__}")
    if _is_asgi(app):
        raise ConfigError(
            f"{type(app).__name__} is an ASGI app (async def __call__); jwt_wsgi protects WSGI "
            "apps. Serve a WSGI app (Flask, Django's get_wsgi_application(), Pyramid, Falcon, "
            "Bottle), or put jwt-wsgi serve --upstream URL in front of the ASGI server")


def owner_of(app: object) -> object | None:
    """The Flask-like object that owns ``app``: itself, or the object of a bound ``wsgi_app``."""
    if getattr(app, "__name__", None) == "wsgi_app":
        return getattr(app, "__self__", None)
    return app if callable(getattr(app, "wsgi_app", None)) else None


def reentry_message(app: object, middleware: object) -> str:
    """What to log when a middleware finds its own mark in the environ: the app it wraps
    called it again, which would recurse until Python's stack limit."""
    owner = owner_of(app)
    if owner is not None and getattr(owner, "wsgi_app", None) is middleware:
        return ("JWTMiddleware wraps the Flask object and is its wsgi_app at once: "
                "app.wsgi_app = JWTMiddleware(app, ...) calls itself for every request that "
                f"reaches the app; wrap the original method instead: {FLASK_LINE}")
    return (f"JWTMiddleware was called again for the same request from inside the app it "
            f"wraps ({type(app).__name__}): the app loops back to the middleware; wrap the "
            f"inner WSGI callable, as in {FLASK_LINE}")


def _is_flask_app(obj: object) -> bool:
    return (callable(getattr(obj, "wsgi_app", None))
            and isinstance(getattr(obj, "config", None), Mapping))


def _is_asgi(app: object) -> bool:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return inspect.iscoroutinefunction(app)
    call = next((vars(base)["__call__"] for base in type(app).__mro__
                 if "__call__" in vars(base)), None)
    return inspect.iscoroutinefunction(call)
