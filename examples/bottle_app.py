"""A Bottle app protected by jwt_wsgi: wrap the ``Bottle`` object (it is the WSGI app).

Routes read the claims from Bottle's thread-local ``request`` (it has ``.environ``), and
Bottle's ``request.auth`` gives ``(identity, None)`` from the ``REMOTE_USER`` the middleware sets.

    python bottle_app.py     # serves on 127.0.0.1:8080
"""

import os
import secrets
from typing import Any

import bottle
from bottle import request, response

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt

USERS = {"alice": "wonderland", "bob": "builder"}
jwt = JWTManager(secret_key=os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48))
bottle_app = bottle.Bottle()


@jwt.insufficient_scope_loader
def forbidden(msg: str) -> tuple[str, int, dict[str, str]]:
    return f"Forbidden: {msg}\n", 403, {"Content-Type": "text/plain; charset=utf-8"}


@bottle_app.post("/login")
def login() -> dict[str, Any]:
    body = request.json or {}
    user, password = str(body.get("username", "")), str(body.get("password", ""))
    if not secrets.compare_digest(USERS.get(user, "\0"), password):
        response.status = 401
        return {"msg": "Bad username or password"}
    scope = "notes:read notes:write" if user == "alice" else "notes:read"
    return {"access_token": jwt.create_access_token(user, additional_claims={"scope": scope})}


@bottle_app.get("/notes")
def notes() -> dict[str, Any]:
    return {"owner": request.auth[0], "scope": get_jwt(request)["scope"]}


@bottle_app.post("/notes")
def add_note() -> dict[str, Any]:
    return {"added_by": request.auth[0]}


application = JWTMiddleware(bottle_app, jwt, routes={
    "POST /login": "public",
    "GET /notes": {"require": "required", "scopes": ["notes:read"]},
    "POST /notes": {"require": "required", "scopes": ["notes:write"]},
}, default="required")

if __name__ == "__main__":
    bottle.run(application, host="127.0.0.1", port=8080)
