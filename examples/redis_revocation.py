"""Revocation that every worker sees at once: one Redis behind a multi-worker gunicorn.

Run it (a Redis on 127.0.0.1:6379, four worker processes)::

    export JWT_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(48))")
    export REDIS_URL=redis://127.0.0.1:6379/0
    gunicorn -w 4 -b 127.0.0.1:8000 examples.redis_revocation:app

Then::

    curl -s -XPOST localhost:8000/login -d '{"username": "alice"}'     # access + refresh
    curl -s localhost:8000/whoami -H "Authorization: Bearer $ACCESS"    # 200, any worker
    curl -s -XPOST localhost:8000/logout -H "Authorization: Bearer $ACCESS"
    curl -s localhost:8000/whoami -H "Authorization: Bearer $ACCESS"    # 401 on every worker

``POST /refresh`` (with the refresh token) mints access tokens that carry the refresh
token's ``jti`` in ``refresh_jti``; ``POST /logout/everywhere`` (with the refresh token)
revokes it, and with it every access token minted from it. When Redis is down,
protected requests get a 503 JSON answer: the check fails closed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jwt_wsgi import JWTManager, JWTMiddleware, RedisBlocklist, get_jwt, get_jwt_identity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

jwt = JWTManager(
    secret_key=os.environ["JWT_SECRET_KEY"],
    # One pool per worker process; a command waits at most `timeout` seconds.
    blocklist=RedisBlocklist(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                             timeout=0.5),
)


def _json(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


#: (method, path) pairs the API serves; the routes table below names each one.
SERVED = {("POST", "/login"), ("POST", "/refresh"), ("POST", "/logout"),
          ("POST", "/logout/everywhere"), ("GET", "/whoami"), ("HEAD", "/whoami")}


def api(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
    # Each view answers only the method its route names: ``GET /refresh`` fell through to
    # the default policy, so an access token could mint itself a successor there.
    if (method, path) not in SERVED:
        return _json(start_response, "404 Not Found", {"msg": "Not found"})
    if path == "/login":
        # Check the user's password here; this example trusts the name it is given.
        length = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
        try:
            user = json.loads(environ["wsgi.input"].read(length) or b"{}").get("username")
        except (ValueError, AttributeError):
            user = None
        if not isinstance(user, str) or not user:
            return _json(start_response, "400 Bad Request", {"msg": "Send {\"username\": ...}"})
        refresh = jwt.create_refresh_token(user)
        refresh_jti = jwt.decode_token(refresh)["jti"]
        return _json(start_response, "200 OK", {
            "access_token": jwt.create_access_token(
                user, fresh=True, additional_claims={"refresh_jti": refresh_jti}),
            "refresh_token": refresh,
        })
    if path == "/refresh":
        claims = get_jwt(environ)
        token = jwt.create_access_token(claims["sub"],
                                        additional_claims={"refresh_jti": claims["jti"]})
        return _json(start_response, "200 OK", {"access_token": token})
    if path in ("/logout", "/logout/everywhere"):
        jwt.revoke(get_jwt(environ))
        return _json(start_response, "200 OK", {"msg": "revoked"})
    if path == "/whoami":
        return _json(start_response, "200 OK", {"sub": get_jwt_identity(environ),
                                                "worker": os.getpid()})
    return _json(start_response, "404 Not Found", {"msg": "Not found"})


app = JWTMiddleware(api, jwt, routes={
    "POST /login": "public",
    "POST /refresh": "refresh",
    "POST /logout/everywhere": "refresh",
    "POST /logout": "required",
    "/whoami": "required",
}, default="required")
