"""The JWKS refresher: sets fetched again before they expire, away from requests.

Real clock, real HTTP (the stdlib server of tests/test_jwks.py), short cache times.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from tests.harness import Recorder, bearer
from tests.test_jwks import JWKSServer, jwk_of, mint


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def server(key: rsa.RSAPrivateKey) -> Any:
    srv = JWKSServer()
    srv.jwks = {"keys": [jwk_of(key, "a")]}
    yield srv
    srv.stop()


def eventually(condition: Callable[[], bool], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def refreshers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jwt_wsgi-jwks-refresh"]


def test_nothing_runs_before_the_first_need(server: JWKSServer) -> None:
    manager = JWTManager(algorithm="RS256", jwks_url=server.url)
    assert manager.jwks_fetcher is not None and not manager.jwks_fetcher.refreshing
    assert server.requests == 0


def test_the_set_is_fetched_again_before_it_expires(server: JWKSServer,
                                                    key: rsa.RSAPrivateKey) -> None:
    manager = JWTManager(algorithm="RS256", jwks_url=server.url, jwks_cache_seconds=1)
    fetcher = manager.jwks_fetcher
    assert fetcher is not None
    client = Client(JWTMiddleware(Recorder(), manager, default="required"))
    assert client.get("/", headers=bearer(mint(key, "a"))).status_code == 200
    assert fetcher.refreshing
    # No request is made: the refresher alone fetches, a tenth of the lifetime early.
    assert eventually(lambda: server.requests == 2)
    assert fetcher.clock() < fetcher._expires_at
    fetcher.close()
    assert not fetcher.refreshing


def test_requests_never_wait_for_a_failing_endpoint(server: JWKSServer,
                                                    key: rsa.RSAPrivateKey) -> None:
    manager = JWTManager(algorithm="RS256", jwks_url=server.url, jwks_cache_seconds=1,
                         jwks_refetch_seconds=1, jwks_timeout=1)
    fetcher = manager.jwks_fetcher
    assert fetcher is not None
    client = Client(JWTMiddleware(Recorder(), manager, default="required"))
    token = mint(key, "a")
    assert client.get("/", headers=bearer(token)).status_code == 200
    server.gate.clear()  # from now on the endpoint hangs past jwks_timeout
    try:
        slowest = 0.0
        until = time.monotonic() + 2.0  # past the set's expiry and a failed refresh
        while time.monotonic() < until:
            started = time.monotonic()
            assert client.get("/", headers=bearer(token)).status_code == 200  # stale set
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.05)
        assert slowest < 0.5  # no request waited for the hanging fetch (1 s)
        assert server.requests >= 2  # the refresher tried
    finally:
        server.gate.set()
        fetcher.close()


def test_a_garbage_fetcher_stops_its_refresher(server: JWKSServer) -> None:
    before = set(refreshers())
    manager = JWTManager(algorithm="RS256", jwks_url=server.url)
    assert manager.jwks_fetcher is not None and manager.jwks_fetcher.refresh()
    (thread,) = set(refreshers()) - before
    del manager
    gc.collect()
    thread.join(2)
    assert not thread.is_alive()


def test_refresh_ahead_can_be_turned_off(server: JWKSServer) -> None:
    manager = JWTManager(algorithm="RS256", jwks_url=server.url)
    assert manager.jwks_fetcher is not None
    manager.jwks_fetcher.refresh_ahead = False
    assert manager.jwks_fetcher.refresh()
    assert not manager.jwks_fetcher.refreshing
