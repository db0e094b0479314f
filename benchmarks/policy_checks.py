"""What ``contains`` and ``any_scopes`` add to a request with a cached token.

Three cases take turns, round after round, in one process: the bare app, a route that
only requires a token, and the same route with a ``contains`` on a nested list claim and
an ``any_scopes``. The token is the same on every request, so the verified-token cache
answers and what is left is the policy's own work. Prints the median of the rounds.

    python benchmarks/policy_checks.py           # a few seconds
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jwt_wsgi import JWTManager, JWTMiddleware

SECRET = "benchmark-secret-" + "x" * 32


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def main(rounds: int = 30, batch: int = 2000) -> None:
    jwt = JWTManager(secret_key=SECRET)
    token = jwt.create_access_token("alice", additional_claims={
        "scope": "openid reports.read",
        "realm_access": {"roles": ["offline_access", "uma_authorization", "shop-admin"]},
    })
    plain = JWTMiddleware(bare, jwt, routes={"/r": "required"})
    rich = JWTMiddleware(bare, jwt, routes={"/r": {
        "contains": {"/realm_access/roles": "shop-admin"},
        "any_scopes": ["reports.read", "reports.admin"]}})
    cases = {"bare app": bare, "required": plain, "contains + any_scopes": rich}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/r", "HTTP_AUTHORIZATION": f"Bearer {token}",
               "wsgi.url_scheme": "http", "SERVER_NAME": "x", "SERVER_PORT": "80"}
    for app in cases.values():  # warm the caches; every case must answer 200
        statuses: list[str] = []
        app(dict(environ), lambda s, h, e=None, seen=statuses: seen.append(s))
        assert statuses == ["200 OK"], statuses
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, app in cases.items():
            start = time.perf_counter()
            for _ in range(batch):
                app(dict(environ), _start)
            timings[name].append((time.perf_counter() - start) / batch * 1e6)
    median = {name: statistics.median(values) for name, values in timings.items()}
    base = median["bare app"]
    for name, value in median.items():
        print(f"{name:24} {value:7.2f} us/request   added {value - base:6.2f} us")
    print(f"contains + any_scopes cost {median['contains + any_scopes'] - median['required']:.2f} "
          "us over 'required' on a cached token")


if __name__ == "__main__":
    main()
