"""Django settings of the jwt_wsgi example: an API with no database, sessions or CSRF.

The token replaces Django's session login, so the example needs neither ``auth`` nor a
database. The JWT secret comes from ``JWT_SECRET_KEY`` in the environment.
"""

import os
import secrets

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Read by django_site.wsgi with JWTManager.from_mapping: the JWT_* names of flask-jwt-extended.
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
JWT_ACCESS_TOKEN_EXPIRES = "15m"
