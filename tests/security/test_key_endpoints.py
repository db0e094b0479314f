"""Identity-provider key endpoints that misbehave must cost only the requests that need them.

Real HTTP: the JWKS endpoints are a raw socket server on 127.0.0.1 that never answers or
trickles (tests/rawserver.py) and the stdlib server of tests/test_jwks.py.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from jwt_wsgi.jwks import JWKSFetcher, loggable
from jwt_wsgi.keys import KeySet
from tests.harness import SECRET, Recorder, bearer
from tests.harness.rawserver import RawServer, established_to, trickle
from tests.test_issuers import API, IDP, idp_token, jwks
from tests.test_jwks import JWKSServer, mint


def silent(conn: Any, stop: threading.Event) -> None:
    """A key endpoint that accepts, reads the request and never answers."""
    stop.wait(10)


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("cache", [pytest.param(1024, id="token-cache"),
                                   pytest.param(0, id="no-token-cache")])
def test_a_dead_issuer_endpoint_never_delays_another_issuers_tokens(cache: int) -> None:
    with RawServer(silent) as dead:
        manager = JWTManager(secret_key=SECRET, issuer=API, jwks_timeout=1.5,
                             token_cache_size=cache, issuers={
                                 IDP: {"jwks_url": dead.url + "/jwks", "audience": API}})
        client = Client(JWTMiddleware(Recorder(), manager, default="required"))
        token = manager.create_access_token("alice")
        started = time.monotonic()
        for _ in range(5):  # miss, miss (admission), hits
            assert client.get("/x", headers=bearer(token)).status_code == 200
        assert time.monotonic() - started < 1.5
        assert dead.requests == []  # the unrelated endpoint was never even contacted


def test_a_token_of_the_dead_issuer_waits_once_then_fails_closed(
        idp_key: rsa.RSAPrivateKey) -> None:
    with RawServer(silent) as dead:
        manager = JWTManager(secret_key=SECRET, issuer=API, jwks_timeout=1,
                             issuers={IDP: {"jwks_url": dead.url + "/jwks", "audience": API}})
        client = Client(JWTMiddleware(Recorder(), manager, default="required"))
        token = idp_token(idp_key, "k1", IDP)
        started = time.monotonic()
        response = client.get("/x", headers=bearer(token))
        assert response.status_code == 503
        assert response.json == {"msg": "Signing keys unavailable"}
        assert time.monotonic() - started < 2
        # Inside the cooldown the next one fails closed at once, and the dead fetch left
        # no socket open.
        started = time.monotonic()
        assert client.get("/x", headers=bearer(token)).status_code == 503
        assert time.monotonic() - started < 0.5
        assert established_to(dead.port) == 0
        fetcher = manager.issuers[IDP].material.fetcher
        assert fetcher is not None
        fetcher.close()


@pytest.mark.parametrize("head", [
    pytest.param(b"", id="status-line"),
    pytest.param(b"HTTP/1.1 200 OK\r\n", id="headers"),
])
def test_a_trickling_key_endpoint_leaves_no_thread_or_socket(head: bytes) -> None:
    dribble = b"HTTP/1.1 200 OK\r\n"[len(head):] + b"X-Padding: " + b"p" * 60 + b"\r\n"
    with RawServer(trickle(head, dribble, 0.1)) as endpoint:
        fetcher = JWKSFetcher(endpoint.url + "/jwks", KeySet(), ["RS256"], timeout=1,
                              refresh_ahead=False)
        threads = threading.active_count()
        started = time.monotonic()
        assert fetcher.refresh() is False
        assert time.monotonic() - started < 2
        # nothing kept running past the deadline: no fetch thread, no open connection
        assert threading.active_count() == threads
        assert established_to(endpoint.port) == 0


@pytest.mark.parametrize(("kid", "shown"), [
    pytest.param("rotated-2", "'rotated-2'", id="plain"),
    pytest.param("a\r\nFAKE: line", "'a\\x0d\\x0aFAKE: line'", id="line-break"),
    pytest.param("\x1b[31mred", "'\\x1b[31mred'", id="escape-sequence"),
    pytest.param("zo\u00eb\u202e", "'zo\\xeb\\u202e'", id="non-ascii"),
    pytest.param("k" * 500, "'" + "k" * 64 + "'... (500 chars)", id="long"),
])
def test_loggable_kid(kid: str, shown: str) -> None:
    assert loggable(kid) == shown


def test_an_unknown_kid_held_back_by_the_cooldown_is_logged_once(
        idp_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture) -> None:
    server = JWKSServer()
    try:
        server.jwks = jwks(idp_key, "k1")
        manager = JWTManager(algorithm="RS256", jwks_url=server.url, jwks_refetch_seconds=30)
        client = Client(JWTMiddleware(Recorder(), manager, default="required"))
        assert client.get("/x", headers=bearer(mint(idp_key, "k1"))).status_code == 200
        unknown = [mint(idp_key, "evil\r\nX: " + "k" * 300), mint(idp_key, "other")]
        with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
            for token in unknown * 3:
                assert client.get("/x", headers=bearer(token)).status_code == 401
        held = [r.getMessage() for r in caplog.records if "next refetch" in r.getMessage()]
        assert len(held) == 1, held
        assert "kid 'evil\\x0d\\x0aX: kkk" in held[0] and "(309 chars)" in held[0]
        assert "next refetch in 30 s" in held[0] or "next refetch in 29 s" in held[0]
        assert all("\r" not in r.getMessage() and "\n" not in r.getMessage()
                   for r in caplog.records)
        for token in unknown:
            for part in token.split("."):
                assert part not in caplog.text
        assert server.requests == 1
        assert manager.jwks_fetcher is not None
        manager.jwks_fetcher.close()
    finally:
        server.stop()
