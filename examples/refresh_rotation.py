"""Refresh-token rotation with reuse detection, shared by every worker through Redis.

Run it (a Redis on 127.0.0.1:6379, two worker processes)::

    export JWT_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(48))")
    export REDIS_URL=redis://127.0.0.1:6379/0
    gunicorn -w 2 -b 127.0.0.1:8000 examples.refresh_rotation:app

``POST /login`` hands out an access and a refresh token of one family.
``POST /token/rotate`` (with the refresh token) trades it for a new pair; the old one is
then used up, in every worker. Sending it again revokes the whole family, the new pair
included, and answers 401 ``{"msg": "Refresh token has already been used"}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jwt_wsgi import JWTManager, JWTMiddleware, JWTWSGIError, RedisBlocklist, get_jwt_identity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

jwt = JWTManager(
    secret_key=os.environ["JWT_SECRET_KEY"],
    blocklist=RedisBlocklist(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                             timeout=0.5),
)


def _json(start_response: StartResponse, status: str, body: object) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def views(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if (method, path) == ("POST", "/login"):
        # A real app checks a password here.
        access, refresh = jwt.create_token_pair("alice")
        return _json(start_response, "200 OK", {"access_token": access,
                                                "refresh_token": refresh})
    if (method, path) == ("POST", "/token/rotate"):
        token = environ["HTTP_AUTHORIZATION"].split(" ", 1)[1]  # the middleware checked it
        try:
            access, refresh = jwt.rotate_refresh(token)
        except JWTWSGIError as error:  # used before, revoked, ...: the loaders answer
            return jwt.responders.respond(error, environ)(environ, start_response)
        return _json(start_response, "200 OK", {"access_token": access,
                                                "refresh_token": refresh,
                                                "worker": os.getpid()})
    if (method, path) == ("GET", "/whoami"):
        return _json(start_response, "200 OK", {"user": get_jwt_identity(environ),
                                                "worker": os.getpid()})
    return _json(start_response, "404 Not Found", {"msg": "Not found"})


app = JWTMiddleware(views, jwt, routes={
    "POST /login": "public",
    "POST /token/rotate": "refresh",
    "GET /whoami": "required",
}, default="required")
