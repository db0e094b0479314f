"""flask-jwt-extended compatibility: what only a Flask app needs, in one place.

- The loader signatures of both generations (:data:`RESPONDER_ARGS`): the seed's
  ``expired_token_loader()`` and 4.x's ``expired_token_loader(jwt_header, jwt_payload)``
  are both accepted; :class:`jwt_wsgi.handlers.Signature` picks one at registration.
- The Flask app context around the loaders: ``app.wsgi_app = JWTMiddleware(app.wsgi_app,
  ...)`` wraps a Flask app's bound method, and a seed loader that returns
  ``jsonify(...), 401`` needs that app's context, as it had under flask-jwt-extended.

Elsewhere, because they are one piece with what surrounds them: the ``JWT_*`` key of each
setting is field metadata (:mod:`jwt_wsgi.fields`, ``flask=``), and Flask's return forms
(``(body, headers)``, ``(Response, status)``) are read where every return form is read,
in :meth:`jwt_wsgi.handlers.Responders.respond`.
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

MSG = ("msg",)
TOKEN = ("jwt_header", "jwt_payload")
#: Each responder loader and the argument lists it may take: the seed's and
#: flask-jwt-extended 4.x's where they differ (``()`` or ``(jwt_header, jwt_payload)``).
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
    "refresh_token_reused_loader": ((), TOKEN),
    "user_lookup_error_loader": (TOKEN,),
}


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
