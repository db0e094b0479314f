"""The WSGI entry point: Django's application wrapped by JWTMiddleware.

Serve it with ``gunicorn --chdir examples django_site.wsgi:application`` (or waitress).
Wrap what ``get_wsgi_application()`` returns: the middleware runs before Django's own, so a
refused request never reaches Django at all.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from jwt_wsgi import JWTManager, JWTMiddleware

django_app = get_wsgi_application()
jwt = JWTManager.from_mapping({name: getattr(settings, name) for name in dir(settings)
                               if name.startswith("JWT_")})


@jwt.expired_token_loader
def expired(jwt_header: dict[str, object], jwt_payload: dict[str, object]) -> tuple[dict[str, object], int]:
    return {"msg": "Your session has expired, log in again", "user": jwt_payload.get("sub")}, 401


application = JWTMiddleware(django_app, jwt, routes={
    "POST /login": "public",
    "/health": "public",
    "/admin/*": {"require": "fresh", "claims": {"role": "admin"}},
}, default="required")
