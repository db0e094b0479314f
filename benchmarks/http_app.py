"""The apps benchmarks/http_throughput.py serves with gunicorn: one endpoint, with and without jwt_wsgi.

``JWT_BENCH_SECRET`` (set by benchmarks/http_throughput.py) is the HMAC secret of the tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from jwt_wsgi import JWTManager, JWTMiddleware, RedisBlocklist

BODY = b'{"hello":"world"}'


def unprotected(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


_secret = os.environ.get("JWT_BENCH_SECRET", "unset-" + "x" * 40)
protected = JWTMiddleware(unprotected, JWTManager(secret_key=_secret),
                          routes={"/api/*": "required", "/health": "public"})
protected_no_cache = JWTMiddleware(
    unprotected, JWTManager(secret_key=_secret, token_cache_size=0),
    routes={"/api/*": "required", "/health": "public"})

# Revocations shared through Redis (benchmarks/revocation.py --http sets the URL); the
# replica connects on the first request, so importing this module needs no Redis.
protected_redis = JWTMiddleware(
    unprotected, JWTManager(secret_key=_secret, blocklist=RedisBlocklist(
        os.environ.get("JWT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))),
    routes={"/api/*": "required", "/health": "public"})
