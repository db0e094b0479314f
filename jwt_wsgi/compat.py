"""flask-jwt-extended compatibility: what only a Flask app needs, in one place.

Today this is the Flask app context around the loaders: ``app.wsgi_app =
JWTMiddleware(app.wsgi_app, ...)`` wraps a Flask app's bound method, and a seed loader that
returns ``jsonify(...), 401`` needs that app's context, as it had under flask-jwt-extended.
(The loader signatures of both generations live in :mod:`jwt_wsgi.handlers`, the ``JWT_*``
names in :mod:`jwt_wsgi.settings`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from .errors import JWTWSGIError
    from .handlers import Responders

logger = logging.getLogger("jwt_wsgi")

AppContext = Callable[[], AbstractContextManager[Any]]


def app_context_of(app: object) -> AppContext | None:
    """The ``app_context`` of the framework app whose bound method ``app`` is, if any."""
    owner_context = getattr(getattr(app, "__self__", None), "app_context", None)
    return owner_context if callable(owner_context) else None


def respond_in(app_context: AppContext, responders: Responders, error: JWTWSGIError,
               environ: WSGIEnvironment) -> WSGIApplication:
    """The loader's answer, made inside ``app_context``; the default answer if entering or
    leaving that context fails."""
    try:
        with app_context():
            return responders.respond(error, environ)
    except Exception:
        logger.exception("the app context around the %s loader failed", error.loader)
        return responders.default(error)
