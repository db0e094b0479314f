"""A Pyramid app protected by jwt_wsgi: wrap what ``Configurator.make_wsgi_app()`` returns.

Views read the claims the Pyramid way, as request properties (``request.jwt_claims``,
``request.jwt_identity``) added with ``config.add_request_method``.

    waitress-serve --call pyramid_app:main     # from the examples/ directory
"""

import os
import secrets
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.view import view_config

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt, get_jwt_identity

USERS = {"alice": "wonderland", "bob": "builder"}
jwt = JWTManager(secret_key=os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48))


@jwt.unauthorized_loader
def no_token(msg: str) -> tuple[dict[str, Any], int]:
    return {"error": "login_required", "detail": msg, "login": "/login"}, 401


@view_config(route_name="login", request_method="POST", renderer="json")
def login(request: Request) -> dict[str, Any]:
    try:
        user, password = str(request.json_body["username"]), str(request.json_body["password"])
    except (ValueError, KeyError, TypeError):
        request.response.status = 400
        return {"msg": "Send JSON with username and password"}
    if not secrets.compare_digest(USERS.get(user, "\0"), password):
        request.response.status = 401
        return {"msg": "Bad username or password"}
    return {"access_token": jwt.create_access_token(user, fresh=True),
            "refresh_token": jwt.create_refresh_token(user)}


@view_config(route_name="me", renderer="json")
def me(request: Request) -> dict[str, Any]:
    return {"user": request.jwt_identity, "jti": request.jwt_claims["jti"]}


@view_config(route_name="refresh", request_method="POST", renderer="json")
def refresh(request: Request) -> dict[str, Any]:
    return {"access_token": jwt.create_access_token(request.jwt_identity, fresh=False)}


@view_config(route_name="home", renderer="json")
def home(request: Request) -> dict[str, Any]:
    return {"hello": "public page", "user": request.jwt_identity}


def main(global_config: Any = None, **settings: Any) -> JWTMiddleware:
    """Build the Pyramid app and wrap it."""
    with Configurator(settings=settings) as config:
        config.add_request_method(get_jwt, "jwt_claims", reify=True)
        config.add_request_method(get_jwt_identity, "jwt_identity", reify=True)
        config.add_route("home", "/")
        config.add_route("login", "/login")
        config.add_route("me", "/api/me")
        config.add_route("refresh", "/token/refresh")
        config.scan(__name__)
        pyramid_app = config.make_wsgi_app()
    return JWTMiddleware(pyramid_app, jwt, routes={
        "/": "optional",
        "POST /login": "public",
        "/api/*": "required",
        "POST /token/refresh": "refresh",
    }, default="required")


application = main()
