"""Concurrency: many threads at one middleware instance, every answer checked.

Threads start together (a barrier) and send a mix of valid, expired, revoked and forged
tokens. Every valid request must reach the app with its own claims (the app marks each
claims dict it gets and would notice one seen before), every other one must get its own
refusal. A second test does the same while a JWKS refetch is in progress: tokens of the
known key keep working, tokens of the new key wait for the one fetch, and the endpoint
is fetched once, not once per thread.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from jwt_wsgi import JWTManager, JWTMiddleware
from jwt_wsgi.keys import public_jwk
from tests.harness import NOW, SECRET, Clock, bearer_call, keys, manager, sign

THREADS = 16
REQUESTS = 200
KINDS = ("valid", "expired", "revoked", "forged")
EXPECTED = {"expired": "Token has expired", "revoked": "Token has been revoked",
            "forged": "Signature verification failed", "unknown-kid": "No key matches the token"}


class MarkingApp:
    """Echoes the identity and jti; fails loudly if it sees a claims dict twice."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        claims = environ["jwt_wsgi.claims"]
        if "seen-by-app" in claims:
            self.errors.append("a claims dict was shared between requests")
        claims["seen-by-app"] = True
        claims.setdefault("roles", []).append("mutated")
        with self._lock:
            self.calls += 1
        time.sleep(0)  # let another thread in between reading and answering
        body = json.dumps({"sub": claims["sub"], "jti": claims["jti"],
                           "roles": claims["roles"], "remote": environ.get("REMOTE_USER")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


def hammer(middleware: JWTMiddleware, plan: Callable[[int, int], tuple[str, str, str]]) -> list[str]:
    """Run THREADS x REQUESTS requests; plan(thread, i) -> (kind, token, expected sub)."""
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> None:
        barrier.wait()
        for i in range(REQUESTS):
            kind, token, sub = plan(thread, i)
            answer = bearer_call(middleware, token)
            if kind.startswith("valid"):
                if answer.status != 200:
                    errors.append(f"{kind}: {answer.status} {answer.body!r}")
                    continue
                got = answer.json
                if got["sub"] != sub or got["remote"] != sub or got["roles"] != ["user", "mutated"]:
                    errors.append(f"{kind}: wrong answer {got!r} for {sub}")
            elif (answer.status, answer.json.get("msg")) != (401, EXPECTED[kind]):
                errors.append(f"{kind}: {answer.status} {answer.body!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return errors


@pytest.mark.parametrize("cache_size", [pytest.param(0, id="no-token-cache"),
                                        pytest.param(8, id="small-cache-evicting"),
                                        pytest.param(1024, id="default-cache")])
def test_one_middleware_many_threads_mixed_tokens(cache_size: int) -> None:
    jwt = manager(token_cache_size=cache_size)
    app = MarkingApp()
    middleware = JWTMiddleware(app, jwt, routes={"/p": "required"})
    tokens: dict[tuple[int, str], tuple[str, str]] = {}
    for thread in range(THREADS):
        for variant in range(4):
            sub = f"user-{thread}-{variant}"
            extra = {"roles": ["user"]}
            tokens[(thread, f"valid{variant}")] = (jwt.create_access_token(sub, additional_claims=extra), sub)
        tokens[(thread, "expired")] = (jwt.create_access_token("x", expires_delta=-5), "x")
        revoked = jwt.create_access_token("r", additional_claims={"roles": ["user"]})
        jwt.revoke(revoked)
        tokens[(thread, "revoked")] = (revoked, "r")
        good = tokens[(thread, "valid0")][0]
        tokens[(thread, "forged")] = (good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), "")

    def plan(thread: int, i: int) -> tuple[str, str, str]:
        kind = KINDS[i % 4]
        key = f"valid{(i // 4) % 4}" if kind == "valid" else kind
        token, sub = tokens[(thread, key)]
        return key, token, sub

    errors = hammer(middleware, plan)
    assert errors == []
    assert app.errors == []
    assert app.calls == THREADS * REQUESTS // 4


def test_many_threads_while_a_jwks_refetch_is_in_progress() -> None:
    k = keys()
    from cryptography.hazmat.primitives.asymmetric import rsa

    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    first = {"keys": [public_jwk(k.rsa_private.public_key(), "k1", "RS256")]}
    rotated = {"keys": [public_jwk(k.rsa_private.public_key(), "k1", "RS256"),
                        public_jwk(new_key.public_key(), "k2", "RS256")]}
    fetches: list[float] = []
    fetch_started = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(time.monotonic())
            if len(fetches) > 1:
                fetch_started.set()
                time.sleep(0.3)  # a slow identity provider: the refetch stays in progress
            body = json.dumps(first if len(fetches) == 1 else rotated).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        jwt = JWTManager(algorithm="RS256", jwks_url=f"http://127.0.0.1:{server.server_address[1]}/jwks",
                         jwks_refetch_seconds=60, clock=Clock())
        monotonic = [0.0]
        assert jwt.jwks_fetcher is not None
        jwt.jwks_fetcher.clock = lambda: monotonic[0]
        app = MarkingApp()
        middleware = JWTMiddleware(app, jwt, routes={"/p": "required"})

        def token(key: Any, kid: str, sub: str) -> str:
            return sign({"alg": "RS256", "kid": kid},
                        {"sub": sub, "iat": NOW, "exp": NOW + 600, "jti": sub, "type": "access",
                         "roles": ["user"]}, key)

        old = {t: token(k.rsa_private, "k1", f"old-{t}") for t in range(THREADS)}
        new = {t: token(new_key, "k2", f"new-{t}") for t in range(THREADS)}
        forged = token(attacker, "k3", "mallory")
        assert bearer_call(middleware, old[0]).status == 200  # the first fetch: k1 only
        assert len(fetches) == 1
        monotonic[0] = 61.0  # past the refetch cooldown, inside the cache lifetime

        def plan(thread: int, i: int) -> tuple[str, str, str]:
            if i % 3 == 0:
                return "valid-old", old[thread], f"old-{thread}"
            if i % 3 == 1:
                return "valid-new", new[thread], f"new-{thread}"
            return "unknown-kid", forged, ""

        errors = hammer(middleware, plan)
        assert fetch_started.is_set()
        assert errors == []
        assert app.errors == []
        # One fetch at start, one for k2; k3 never appears and the cooldown holds the rest.
        assert len(fetches) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_token_of_another_manager_is_refused() -> None:
    # Two middlewares in one process: a token of one is never accepted by the other.
    other = JWTManager(secret_key=SECRET[::-1])
    app = MarkingApp()
    middleware = JWTMiddleware(app, manager(), routes={"/p": "required"})
    assert bearer_call(middleware, other.create_access_token("eve")).status == 401


def test_revocation_takes_effect_mid_flight() -> None:
    """Threads reuse one token (a verified-token cache would hold it) while it is revoked:
    every request sent after ``revoke`` returned is refused, none before is wrongly refused."""
    jwt = manager()
    app = MarkingApp()
    middleware = JWTMiddleware(app, jwt, routes={"/p": "required"})
    token = jwt.create_access_token("alice", additional_claims={"roles": ["user"]})
    revoked = threading.Event()
    errors: list[str] = []
    barrier = threading.Barrier(THREADS + 1)

    def worker() -> None:
        barrier.wait()
        for _ in range(REQUESTS):
            after = revoked.is_set()
            answer = bearer_call(middleware, token)
            if after and answer.status != 401:
                errors.append(f"revoked token answered {answer.status}")
            elif not after and answer.status == 200 and answer.json["sub"] != "alice":
                errors.append(f"wrong identity {answer.body!r}")
            elif answer.status not in (200, 401):
                errors.append(f"unexpected {answer.status}")

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    deadline = time.monotonic() + 60
    while app.calls < THREADS * 10 and time.monotonic() < deadline:
        time.sleep(0.001)  # let the token be verified (and cached) many times first
    jwt.revoke(token)
    revoked.set()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and app.errors == []
    assert bearer_call(middleware, token).status == 401
