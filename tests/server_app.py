"""The WSGI app the server tests run under gunicorn and waitress.

Settings come from the environment through ``JWTManager.from_mapping``, as a deployment
would do it; every worker process builds the same manager from the same secret.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt, get_jwt_identity

jwt = JWTManager.from_mapping({key: value for key, value in os.environ.items()
                               if key in ("JWT_SECRET_KEY", "JWT_ACCESS_TOKEN_EXPIRES")})


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/api/slow":
        time.sleep(0.6)  # keeps one worker busy so that the next request goes to the other
    body = json.dumps({"path": environ.get("PATH_INFO"), "user": get_jwt_identity(environ),
                       "role": get_jwt(environ).get("role"), "pid": os.getpid(),
                       "server": environ.get("SERVER_SOFTWARE", "")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


application = JWTMiddleware(app, jwt, routes={
    "/api/*": "required",
    "/admin/*": {"require": "fresh", "claims": {"role": "admin"}},
    "/public/*": "public",
})
