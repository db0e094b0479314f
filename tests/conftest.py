"""The fixtures of the one harness (:mod:`tests.harness`): keys, a frozen clock, a token
maker, the recording app, a protected client, and real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager
from tests.harness import SECRET, Clock, Recorder, Upstream, keys, wrap
from tests.harness.rawserver import RawServer, reply
from tests.harness.redis import RedisServer


@pytest.fixture(scope="session")
def rsa_private_pem() -> bytes:
    return keys().rsa_private_pem()


@pytest.fixture(scope="session")
def rsa_public_pem() -> bytes:
    return keys().public("rsa", "pem")


@pytest.fixture(scope="session")
def ec_private_pem() -> bytes:
    return keys().ec_private_pem()


@pytest.fixture
def clock() -> Clock:
    """The clock of the ``jwt`` fixture, frozen at NOW."""
    return Clock()


@pytest.fixture
def jwt(clock: Clock) -> JWTManager:
    """An HS256 manager with its clock frozen at NOW (move it with the ``clock`` fixture)."""
    return JWTManager(secret_key=SECRET, clock=clock)


@pytest.fixture
def make_token(jwt: JWTManager) -> Callable[..., str]:
    """Mint an access token with the test manager: ``make_token("alice", fresh=True)``."""
    def make(identity: str = "alice", **kwargs: Any) -> str:
        refresh = kwargs.pop("refresh", False)
        if refresh:
            return jwt.create_refresh_token(identity, **kwargs)
        return jwt.create_access_token(identity, **kwargs)

    return make


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def protect(jwt: JWTManager, recorder: Recorder) -> Callable[..., Client]:
    """``protect(routes, **kwargs)``: the recorder behind the ``jwt`` manager, as a werkzeug
    test Client."""
    def build(routes: dict[str, Any], **kwargs: Any) -> Client:
        return Client(wrap(recorder, jwt, routes, **kwargs))

    return build


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """A recording HTTP server that answers ``{}`` to everything (for jku, x5u, kid URLs)."""
    server = Upstream(b"{}")
    yield server
    server.close()


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering JSON of what it received (``path``,
    ``headers`` by lower-cased name, ...). Yields its base URL."""
    server = Upstream()
    yield server.url
    server.close()


@pytest.fixture
def raw_upstream() -> Iterator[tuple[str, list[bytes]]]:
    """A real socket server on 127.0.0.1 that keeps the raw bytes of each request head (up
    to the blank line) and answers 200 with no body. Yields its base URL and the heads.

    Raw bytes, not a parsed request: a stdlib server would fold a continuation line into the
    header before it, hiding what an upstream that does not fold would read."""
    with RawServer(reply(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")) as server:
        yield server.url, server.requests


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1, one per test module."""
    server = RedisServer()
    yield server
    server.close()
