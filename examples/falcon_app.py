"""A Falcon app protected by jwt_wsgi: wrap the ``falcon.App`` itself (it is the WSGI app).

Resources read the claims the Falcon way, from ``req.context``: a small Falcon middleware
component copies them there from the WSGI environ (``req.env``).

    gunicorn falcon_app:application     # from the examples/ directory
"""

import os
import secrets
from typing import Any

import falcon

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt, get_jwt_identity

USERS = {"alice": "wonderland", "bob": "builder"}
jwt = JWTManager(secret_key=os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48))


@jwt.needs_fresh_token_loader
def needs_fresh(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
    return {"title": "Fresh login required",
            "description": f"{jwt_payload.get('sub')}, confirm your password first"}, 401


class ClaimsComponent:
    """Expose the verified token on ``req.context.jwt`` and ``req.context.identity``."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.jwt = get_jwt(req.env)
        req.context.identity = get_jwt_identity(req.env)


class Login:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.get_media(default_when_empty={})
        user, password = str(body.get("username", "")), str(body.get("password", ""))
        if not secrets.compare_digest(USERS.get(user, "\0"), password):
            raise falcon.HTTPUnauthorized(title="Bad username or password")
        resp.media = {"access_token": jwt.create_access_token(user, fresh=True),
                      "refresh_token": jwt.create_refresh_token(user)}


class Me:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"user": req.context.identity, "type": req.context.jwt["type"]}


class Password:
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"changed_for": req.context.identity}


falcon_app = falcon.App(middleware=[ClaimsComponent()])
falcon_app.add_route("/login", Login())
falcon_app.add_route("/api/me", Me())
falcon_app.add_route("/api/password", Password())

application = JWTMiddleware(falcon_app, jwt, routes={
    "POST /login": "public",
    "/api/*": "required",
    "PUT /api/password": "fresh",
}, default="required")
