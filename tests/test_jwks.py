"""Keys from a JWKS: a real HTTP server on 127.0.0.1 serves the key set the manager fetches."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.test import Client

from jwt_wsgi import (
    ConfigError,
    InvalidTokenError,
    JWTManager,
    JWTMiddleware,
    ServiceUnavailableError,
)
from jwt_wsgi.jwks import cache_lifetime
from jwt_wsgi.keys import public_jwk, thumbprint
from tests.harness import Clock, Recorder, bearer, forge


def _pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    return {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for kid in ("a", "b", "c")}


def jwk_of(key: Any, kid: str | None, alg: str | None = "RS256") -> dict[str, str]:
    algorithm = alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    jwk = public_jwk(key.public_key(), kid or "", algorithm)
    if kid is None:
        del jwk["kid"]
    if alg is None:
        del jwk["alg"]
    return jwk


def mint(key: Any, kid: str | None, alg: str = "RS256", **headers: Any) -> str:
    issuer = JWTManager(algorithm=alg, private_key=_pem(key))
    if kid is None:
        # A token without kid: sign the header ourselves, as a provider without kids would.
        issuer.codec._signing_headers = {}
        return issuer.create_access_token("alice", additional_headers=headers)
    return issuer.create_access_token("alice", additional_headers={"kid": kid, **headers})


class JWKSServer:
    """A real HTTP server whose JWKS response the test changes while it runs."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.body: bytes | None = None  # sent instead of the JSON of ``jwks`` when set
        self.status = 200
        self.cache_control: str | None = None
        self.redirect: str | None = None  # answer 302 to this Location (once per path)
        self.requests = 0
        self.gate = threading.Event()
        self.gate.set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                server.gate.wait(10)
                if server.redirect is not None and self.path == "/.well-known/jwks.json":
                    self.send_response(302)
                    self.send_header("Location", server.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.body if server.body is not None else json.dumps(
                    server.jwks).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if server.cache_control:
                    self.send_header("Cache-Control", server.cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    srv = JWKSServer()
    yield srv
    srv.stop()


def protected(url: str, **options: Any) -> tuple[JWTManager, Client, Clock]:
    manager = JWTManager(algorithm="RS256", jwks_url=url, **options)
    clock = Clock(1000.0)
    assert manager.jwks_fetcher is not None
    manager.jwks_fetcher.clock = clock
    # The refresher sleeps in real time: these tests move a clock of their own and check
    # what requests do; the refresher's tests (test_jwks_refresh.py) use the real clock.
    manager.jwks_fetcher.refresh_ahead = False
    return manager, Client(JWTMiddleware(Recorder(), manager, default="required")), clock


def test_keys_fetched_once_and_cached(server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    _manager, client, clock = protected(server.url)
    assert server.requests == 0  # nothing is fetched at construction
    token = mint(rsa_keys["a"], "a")
    for _ in range(3):
        assert client.get("/", headers=bearer(token)).status_code == 200
    clock.now += 599
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 1
    clock.now += 2  # past jwks_cache_seconds: fetched again
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 2


def test_rotation_is_picked_up_after_one_refetch(server: JWKSServer,
                                                 rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, client, clock = protected(server.url)
    old, new = mint(rsa_keys["a"], "a"), mint(rsa_keys["b"], "b")
    assert client.get("/", headers=bearer(old)).status_code == 200
    generation = manager.keys.generation
    server.jwks = {"keys": [jwk_of(rsa_keys["b"], "b")]}
    # Within the cooldown of the first fetch the unknown kid is refused without a fetch.
    response = client.get("/", headers=bearer(new))
    assert response.status_code == 401
    assert response.json == {"msg": "No key matches the token"}
    assert server.requests == 1
    clock.now += 30
    assert client.get("/", headers=bearer(new)).status_code == 200
    assert server.requests == 2
    assert manager.keys.generation > generation
    # The retired key is gone with the old set.
    assert client.get("/", headers=bearer(old)).status_code == 401


def test_unchanged_set_keeps_the_generation(server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, client, clock = protected(server.url)
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 200
    generation = manager.keys.generation
    clock.now += 700
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 200
    assert server.requests == 2
    assert manager.keys.generation == generation


def test_unknown_kid_flood_fetches_at_most_once_per_cooldown(
        server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    _manager, client, clock = protected(server.url)
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 200
    clock.now += 31
    forged = [mint(rsa_keys["c"], f"made-up-{i}") for i in range(3)]
    statuses: list[int] = []
    server.gate.clear()  # hold the one fetch open so that the others pile up behind it

    def attack(i: int) -> None:
        statuses.append(client.get("/", headers=bearer(forged[i % 3])).status_code)

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    server.gate.set()
    for thread in threads:
        thread.join(20)
    assert statuses == [401] * 40
    assert server.requests == 2
    for i in range(20):
        client.get("/", headers=bearer(forged[i % 3]))
    assert server.requests == 2
    clock.now += 30
    for i in range(20):
        client.get("/", headers=bearer(forged[i % 3]))
    assert server.requests == 3


def test_kid_naming_one_key_signed_by_another_is_refused(
        server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a"), jwk_of(rsa_keys["b"], "b")]}
    _, client, _ = protected(server.url)
    assert client.get("/", headers=bearer(mint(rsa_keys["b"], "b"))).status_code == 200
    response = client.get("/", headers=bearer(mint(rsa_keys["b"], "a")))
    assert response.status_code == 401
    assert response.json == {"msg": "Signature verification failed"}


def test_dead_endpoint_serves_the_stale_set(server: JWKSServer, rsa_keys: dict[str, Any],
                                            caplog: pytest.LogCaptureFixture) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    _, client, clock = protected(server.url)
    token = mint(rsa_keys["a"], "a")
    assert client.get("/", headers=bearer(token)).status_code == 200
    server.status = 500
    clock.now += 601
    with caplog.at_level(logging.WARNING, "jwt_wsgi.jwks"):
        assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 2
    assert "keeping the last good key set" in caplog.text
    assert jwk_of(rsa_keys["a"], "a")["n"][:40] not in caplog.text
    server.stop()
    clock.now += 31
    assert client.get("/", headers=bearer(token)).status_code == 200
    # A server that answers garbage is no better: the stale set stays.
    assert client.get("/", headers=bearer(mint(rsa_keys["b"], "b"))).status_code == 401


@pytest.mark.parametrize(("status", "body"), [
    pytest.param(500, None, id="status-500"),
    pytest.param(404, None, id="status-404"),
    pytest.param(200, b"<html>maintenance</html>", id="not-json"),
    pytest.param(200, b'{"keys": [', id="truncated-json"),
    pytest.param(200, b'["keys"]', id="json-list"),
    pytest.param(200, b'{"nokeys": 1}', id="object-without-keys"),
    pytest.param(200, b'{"keys": {"kty": "RSA"}}', id="keys-not-a-list"),
    pytest.param(200, b'{"keys": [], "pad": "' + b"x" * (1024 * 1024) + b'"}', id="too-large"),
])
def test_a_failed_fetch_keeps_the_last_good_set(server: JWKSServer, rsa_keys: dict[str, Any],
                                                status: int, body: bytes | None) -> None:
    # Only an answer that is a JWKS replaces the set: anything else is a failed fetch, even
    # when it would withdraw every key, so an outage or a broken proxy never locks users out.
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, client, clock = protected(server.url)
    token = mint(rsa_keys["a"], "a")
    assert client.get("/", headers=bearer(token)).status_code == 200
    generation = manager.keys.generation
    server.status, server.body = status, body
    clock.now += 601
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 2
    assert manager.keys.generation == generation
    assert manager.jwks_fetcher is not None and manager.jwks_fetcher.refresh() is False
    assert client.get("/", headers=bearer(token)).status_code == 200


# -- a set the provider publishes is authoritative, even with no key usable here ------------

def _es256_only(_old: Any) -> dict[str, Any]:
    return {"keys": [jwk_of(ec.generate_private_key(ec.SECP256R1()), "new", "ES256")]}


@pytest.mark.parametrize("published", [
    pytest.param(lambda _old: {"keys": []}, id="empty-set"),
    pytest.param(_es256_only, id="only-es256-for-rs256"),
    pytest.param(lambda old: {"keys": [{**jwk_of(old, "a"), "use": "enc"}]},
                 id="old-key-now-use-enc"),
    pytest.param(lambda _old: {"keys": [{"kty": "RSA", "kid": "a"}]},
                 id="only-a-broken-key"),  # RFC 7517 5: ignored, so the set is empty
])
def test_a_set_without_a_usable_key_withdraws_the_old_keys(
        server: JWKSServer, rsa_keys: dict[str, Any], published: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, client, _ = protected(server.url)
    token, kidless = mint(rsa_keys["a"], "a"), mint(rsa_keys["a"], None)
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert client.get("/", headers=bearer(kidless)).status_code == 200
    generation = manager.keys.generation
    server.jwks = published(rsa_keys["a"])
    assert manager.jwks_fetcher is not None
    with caplog.at_level(logging.WARNING, "jwt_wsgi.jwks"):
        assert manager.jwks_fetcher.refresh() is False  # answered, but nothing to verify with
    assert "holds no key usable with RS256" in caplog.text
    assert jwk_of(rsa_keys["a"], "a")["n"][:40] not in caplog.text
    assert manager.keys.generation > generation
    # The endpoint answered, so this is not an outage (503) but a token no key matches.
    for withdrawn in (token, kidless):
        response = client.get("/", headers=bearer(withdrawn))
        assert response.status_code == 401
        assert response.json == {"msg": "No key matches the token"}


def test_a_cached_token_is_refused_once_the_set_is_emptied(server: JWKSServer,
                                                           rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, client, clock = protected(server.url)
    assert manager.token_cache is not None
    token = mint(rsa_keys["a"], "a")
    # the first fetch changes the keys during the first check: admitted from
    # the second request on, kept at the third, a hit at the fourth
    for _ in range(4):
        assert client.get("/", headers=bearer(token)).status_code == 200
    assert manager.token_cache.hits == 1
    server.jwks = {"keys": []}  # the provider withdraws its only key
    clock.now += 601
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"msg": "No key matches the token"}
    assert server.requests == 2 and manager.token_cache.flushes == 1
    # The next unknown kid after the cooldown brings a newly published key in.
    server.jwks = {"keys": [jwk_of(rsa_keys["b"], "b")]}
    assert client.get("/", headers=bearer(mint(rsa_keys["b"], "b"))).status_code == 401
    clock.now += 30
    assert client.get("/", headers=bearer(mint(rsa_keys["b"], "b"))).status_code == 200
    assert client.get("/", headers=bearer(token)).status_code == 401
    assert server.requests == 3


def test_an_issuers_set_without_a_usable_key_withdraws_its_keys(
        server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    from tests.harness import SECRET
    from tests.test_issuers import API, IDP, idp_token, jwks

    server.jwks = jwks(rsa_keys["a"], "idp-1")
    manager = JWTManager(secret_key=SECRET, issuer=API, issuers={
        IDP: {"jwks_url": server.url, "audience": API}})
    fetcher = manager.issuers[IDP].material.fetcher
    assert fetcher is not None
    client = Client(JWTMiddleware(Recorder(), manager, default="required"))
    token, own = idp_token(rsa_keys["a"], "idp-1", IDP), manager.create_access_token("a")
    for _ in range(3):
        assert client.get("/", headers=bearer(token)).status_code == 200
    generation = manager.keys.generation
    server.jwks = {"keys": [{**jwks(rsa_keys["a"], "idp-1")["keys"][0], "use": "enc"}]}
    assert fetcher.refresh() is False
    assert manager.keys.generation > generation  # the verified-token cache is flushed
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"msg": "No key matches the token"}
    assert client.get("/", headers=bearer(own)).status_code == 200  # other issuers unaffected


# -- the cache time is honoured even when it is shorter than the refetch cooldown -----------

def test_a_cache_time_shorter_than_the_cooldown_is_honoured(server: JWKSServer,
                                                            rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    _, client, clock = protected(server.url, jwks_cache_seconds=1, jwks_refetch_seconds=30)
    token = mint(rsa_keys["a"], "a")
    for _ in range(4):
        assert client.get("/", headers=bearer(token)).status_code == 200
        clock.now += 1.5
    assert server.requests == 4


def test_a_failing_endpoint_is_fetched_once_per_cooldown_despite_a_short_cache_time(
        server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    _, client, clock = protected(server.url, jwks_cache_seconds=1, jwks_refetch_seconds=30)
    token, unknown = mint(rsa_keys["a"], "a"), mint(rsa_keys["c"], "made-up")
    assert client.get("/", headers=bearer(token)).status_code == 200  # t=1000: fetch 1
    server.status = 500
    for _ in range(20):  # t=1001.5 .. 1030: one failed fetch (the set expired), then cooldown
        clock.now += 1.5
        assert client.get("/", headers=bearer(token)).status_code == 200  # stale set
        assert client.get("/", headers=bearer(unknown)).status_code == 401
    assert server.requests == 2
    clock.now += 1.5  # t=1031.5: the cooldown of the failed fetch has passed
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 3
    server.status = 200  # back up: each expiry refetches again, without the cooldown
    clock.now += 30
    assert client.get("/", headers=bearer(token)).status_code == 200
    clock.now += 1.5
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 5


def test_no_store_does_not_fetch_more_often_than_the_cooldown(server: JWKSServer,
                                                              rsa_keys: dict[str, Any]) -> None:
    # max-age may shorten the cache time, but not below the configured ones.
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    server.cache_control = "no-store"
    _, client, clock = protected(server.url)
    token = mint(rsa_keys["a"], "a")
    for _ in range(5):
        assert client.get("/", headers=bearer(token)).status_code == 200
    clock.now += 29
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 1
    clock.now += 1
    assert client.get("/", headers=bearer(token)).status_code == 200
    assert server.requests == 2


def test_never_reached_endpoint_fails_closed_with_503(rsa_keys: dict[str, Any]) -> None:
    dead = JWKSServer()
    url = dead.url
    dead.stop()
    manager, client, clock = protected(url, jwks_timeout=1)
    response = client.get("/", headers=bearer(mint(rsa_keys["a"], "a")))
    assert response.status_code == 503
    assert response.json == {"msg": "Signing keys unavailable"}
    assert "a" not in response.get_data(as_text=True).replace("Signing keys unavailable", "")
    with pytest.raises(ServiceUnavailableError):
        manager.decode_token(mint(rsa_keys["a"], "a"))
    assert manager.jwks_fetcher is not None
    assert manager.jwks_fetcher.fetches == 1  # the cooldown also applies to failures
    clock.now += 29
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 503
    assert manager.jwks_fetcher.fetches == 1
    clock.now += 1
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 503
    assert manager.jwks_fetcher.fetches == 2


def test_endpoint_that_comes_up_later_is_used(server: JWKSServer,
                                              rsa_keys: dict[str, Any]) -> None:
    server.status = 503
    _, client, clock = protected(server.url)
    token = mint(rsa_keys["a"], "a")
    assert client.get("/", headers=bearer(token)).status_code == 503
    server.status, server.jwks = 200, {"keys": [jwk_of(rsa_keys["a"], "a")]}
    clock.now += 30
    assert client.get("/", headers=bearer(token)).status_code == 200


def test_shorter_max_age_is_honoured(server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    server.cache_control = "public, max-age=45"
    _, client, clock = protected(server.url)
    token = mint(rsa_keys["a"], "a")
    assert client.get("/", headers=bearer(token)).status_code == 200
    clock.now += 44
    client.get("/", headers=bearer(token))
    assert server.requests == 1
    clock.now += 2
    client.get("/", headers=bearer(token))
    assert server.requests == 2


@pytest.mark.parametrize(("header", "ceiling", "expected"), [
    pytest.param(None, 600, 600, id="none"),
    pytest.param("max-age=60", 600, 60, id="shorter"),
    pytest.param("public, max-age=6000", 600, 600, id="longer-capped"),
    pytest.param("s-maxage=1, max-age=30", 600, 30, id="s-maxage-is-not-max-age"),
    pytest.param("no-store", 600, 0, id="no-store"),
    pytest.param("max-age=abc", 600, 600, id="garbage"),
])
def test_cache_lifetime(header: str | None, ceiling: float, expected: float) -> None:
    assert cache_lifetime(header, ceiling) == expected


def test_jku_and_x5u_are_never_followed(server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    attacker = JWKSServer()
    try:
        attacker.jwks = {"keys": [jwk_of(rsa_keys["c"], "evil")]}
        _, client, _ = protected(server.url)
        token = mint(rsa_keys["c"], "evil", jku=attacker.url, x5u=attacker.url)
        assert client.get("/", headers=bearer(token)).status_code == 401
        assert attacker.requests == 0
    finally:
        attacker.stop()


# -- key selection (static jwks=, the same rules as fetched sets) -------------------------

def static(jwks: dict[str, Any], algorithms: list[str] | None = None) -> Client:
    manager = JWTManager(algorithm=(algorithms or ["RS256"])[0], decode_algorithms=algorithms,
                         jwks=jwks)
    return Client(JWTMiddleware(Recorder(), manager, default="required"))


def test_key_alg_binds_the_token_alg(rsa_keys: dict[str, Any]) -> None:
    client = static({"keys": [jwk_of(rsa_keys["a"], "a", "RS256")]}, ["RS256", "PS256"])
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a", "RS256"))).status_code == 200
    response = client.get("/", headers=bearer(mint(rsa_keys["a"], "a", "PS256")))
    assert response.status_code == 401
    assert response.json == {"msg": "No key matches the token"}


def test_key_without_alg_serves_its_family(rsa_keys: dict[str, Any]) -> None:
    client = static({"keys": [jwk_of(rsa_keys["a"], "a", None)]}, ["RS256", "PS256"])
    for alg in ("RS256", "PS256"):
        assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a", alg))).status_code == 200


def test_kty_must_agree_with_alg(rsa_keys: dict[str, Any]) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    client = static({"keys": [jwk_of(ec_key, "e", "ES256"), jwk_of(rsa_keys["a"], "a")]},
                    ["RS256", "ES256"])
    assert client.get("/", headers=bearer(mint(ec_key, "e", "ES256"))).status_code == 200
    # The RSA key under the EC key's kid: no key of that kid is bound to RS256.
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "e"))).status_code == 401


def test_token_without_kid_uses_the_only_key(rsa_keys: dict[str, Any]) -> None:
    one = static({"keys": [jwk_of(rsa_keys["a"], "a")]})
    assert one.get("/", headers=bearer(mint(rsa_keys["a"], None))).status_code == 200
    two = static({"keys": [jwk_of(rsa_keys["a"], "a"), jwk_of(rsa_keys["b"], "b")]})
    response = two.get("/", headers=bearer(mint(rsa_keys["a"], None)))
    assert response.status_code == 401
    assert response.json == {"msg": "No key matches the token"}


def test_kid_must_match_exactly(rsa_keys: dict[str, Any]) -> None:
    client = static({"keys": [jwk_of(rsa_keys["a"], "a")]})
    for kid in ("A", "a ", "", "b"):
        assert client.get("/", headers=bearer(mint(rsa_keys["a"], kid))).status_code == 401


def test_encryption_keys_are_not_used(rsa_keys: dict[str, Any]) -> None:
    enc = {**jwk_of(rsa_keys["a"], "a"), "use": "enc"}
    with pytest.raises(ConfigError, match="no signing key"):
        static({"keys": [enc]})


def test_minted_tokens_carry_the_thumbprint_kid(rsa_keys: dict[str, Any]) -> None:
    manager = JWTManager(algorithm="RS256", private_key=_pem(rsa_keys["a"]))
    jwks = manager.jwks()
    assert len(jwks["keys"]) == 1
    jwk = jwks["keys"][0]
    assert set(jwk) == {"kty", "kid", "alg", "use", "n", "e"}
    assert jwk["kid"] == thumbprint(jwk)
    token = manager.create_access_token("alice")
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert head["kid"] == jwk["kid"]
    # Another service verifies these tokens from the published set.
    verifier = static(jwks)
    assert verifier.get("/", headers=bearer(token)).status_code == 200


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 section 3.1: the example RSA key and its thumbprint.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
                "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5"
                "v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbIS"
                "D08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
                "kEgU8awapJzKnqDKgw"}
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ec_thumbprint_kid() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    manager = JWTManager(algorithm="ES256", private_key=_pem(key))
    jwk = manager.jwks()["keys"][0]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["kid"] == thumbprint(jwk)


def test_hmac_manager_has_no_public_jwks(jwt: JWTManager) -> None:
    with pytest.raises(RuntimeError, match="never published"):
        jwt.jwks()


def test_jwks_issuer_example_serves_a_verifier(rsa_keys: dict[str, Any]) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from examples.jwks_issuer import make_issuer

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    app, issuer = make_issuer(_pem(rsa_keys["a"]).decode(), "http://issuer.test")
    httpd = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        with urllib.request.urlopen(urllib.request.Request(base + "/token", method="POST"),
                                    timeout=10) as response:
            token = json.loads(response.read())["access_token"]
        verifier = JWTManager(algorithm="RS256", jwks_url=base + "/.well-known/jwks.json",
                              issuer="http://issuer.test")
        assert verifier.decode_token(token)["sub"] == "service-a"
        assert verifier.jwks_fetcher is not None
        assert verifier.jwks_fetcher._expires_at - verifier.jwks_fetcher.clock() <= 300
        # A token of another key that claims the issuer's kid is refused.
        kid = issuer.jwks()["keys"][0]["kid"]
        with pytest.raises(InvalidTokenError, match="Signature verification failed"):
            verifier.decode_token(mint(rsa_keys["b"], kid))
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_refresh_warms_the_cache(server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    manager, _, _ = protected(server.url)
    assert manager.jwks_fetcher is not None
    assert manager.jwks_fetcher.refresh() is True
    assert server.requests == 1
    assert manager.decode_token(mint(rsa_keys["a"], "a"))["sub"] == "alice"
    assert server.requests == 1
    server.status = 500
    assert manager.jwks_fetcher.refresh() is False


def test_weak_rsa_key_in_a_jwks_is_not_used() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    strong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [public_jwk(weak.public_key(), "weak", "RS256"),
                     public_jwk(strong.public_key(), "strong", "RS256")]}
    manager = JWTManager(algorithm="RS256", jwks=jwks)
    assert manager.keys.find("RS256", "strong") is not None
    assert manager.keys.find("RS256", "weak") is None


def test_failed_fetch_log_hides_credentials_in_the_url(caplog: pytest.LogCaptureFixture) -> None:
    # user:password@ in jwks_url is refused at construction (tests/security/
    # test_settings_switches.py); a query string may still hold an API key.
    manager = JWTManager(algorithm="RS256", jwks_url="https://127.0.0.1:9/j?key=abc",
                         jwks_timeout=0.5)
    token = forge({"alg": "RS256", "kid": "k"}, {"sub": "a"})  # the fetch fails first
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        Client(JWTMiddleware(Recorder(), manager, routes={"/p": "required"})).get(
            "/p", headers=bearer(token))
    text = caplog.text
    assert "127.0.0.1:9/j" in text
    assert "abc" not in text and "key=" not in text


# -- redirects: followed only where they cannot downgrade the channel ------------------------

def test_a_redirect_to_the_same_kind_of_url_is_followed(server: JWKSServer,
                                                         rsa_keys: dict[str, Any]) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    server.redirect = server.url.replace("/.well-known/jwks.json", "/keys/v2.json")
    _, client, _ = protected(server.url)
    assert client.get("/", headers=bearer(mint(rsa_keys["a"], "a"))).status_code == 200
    assert server.requests == 2  # the redirect, then the set


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/jwks.json", "file:///etc/passwd"])
def test_a_redirect_off_http_is_refused_and_fails_closed(
        server: JWKSServer, rsa_keys: dict[str, Any], target: str,
        caplog: pytest.LogCaptureFixture) -> None:
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], "a")]}
    server.redirect = target
    _, client, _ = protected(server.url)
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi.jwks"):
        response = client.get("/", headers=bearer(mint(rsa_keys["a"], "a")))
    assert response.status_code == 503
    assert "JWKS fetch" in caplog.text and "passwd" not in caplog.text


@pytest.mark.parametrize(("configured", "target", "followed"), [
    ("https://idp.example/jwks.json", "http://idp.example/jwks.json", False),
    ("https://idp.example/jwks.json", "ftp://idp.example/jwks.json", False),
    ("https://idp.example/jwks.json", "https://cdn.example/jwks.json", True),
    ("http://127.0.0.1/jwks.json", "http://127.0.0.1/v2.json", True),
    ("http://127.0.0.1/jwks.json", "https://idp.example/jwks.json", True),
])
def test_redirect_policy_never_downgrades_https(configured: str, target: str,
                                                followed: bool) -> None:
    # An https server on this machine would need a certificate the fetcher trusts, so the
    # policy for https sources is checked on the redirect handler the fetcher uses, with a
    # real urllib request (no network is touched: deciding a redirect does not connect).
    import email.message
    import urllib.error

    from jwt_wsgi.jwks import JWKSFetcher
    from jwt_wsgi.keys import KeySet

    fetcher = JWKSFetcher(configured, KeySet(), ["RS256"])
    handler = next(h for h in fetcher._opener.handlers
                   if isinstance(h, urllib.request.HTTPRedirectHandler))
    request = urllib.request.Request(configured)
    headers = email.message.Message()
    if followed:
        assert handler.redirect_request(request, None, 302, "Found", headers,
                                        target).full_url == target
    else:
        with pytest.raises(urllib.error.HTTPError, match="refused"):
            handler.redirect_request(request, None, 302, "Found", headers, target)


def test_a_kidless_token_that_no_key_fits_triggers_a_refetch_after_the_cooldown(
        server: JWKSServer, rsa_keys: dict[str, Any]) -> None:
    """A provider that sets no kid publishes an empty set by mistake and fixes it at once:
    its tokens work again after one cooldown, not after the whole cache time."""
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], None)]}
    manager, client, clock = protected(server.url)
    kidless = mint(rsa_keys["a"], None)
    assert client.get("/", headers=bearer(kidless)).status_code == 200
    server.jwks = {"keys": []}
    assert manager.jwks_fetcher is not None
    clock.now += 1
    manager.jwks_fetcher.refresh()
    assert client.get("/", headers=bearer(kidless)).status_code == 401
    server.jwks = {"keys": [jwk_of(rsa_keys["a"], None)]}
    fetches = server.requests
    clock.now += 5  # inside the cooldown: no fetch, still refused
    assert client.get("/", headers=bearer(kidless)).status_code == 401
    assert server.requests == fetches
    clock.now += 30  # past jwks_refetch_seconds, far from jwks_cache_seconds (600)
    assert client.get("/", headers=bearer(kidless)).status_code == 200
    assert server.requests == fetches + 1


@pytest.mark.parametrize("slow", ["body", "headers"])
def test_a_trickling_response_is_cut_at_jwks_timeout(rsa_keys: dict[str, Any], slow: str) -> None:
    """The socket timeout bounds each read only: a server sending a byte every 0.3 s, of
    its body or of its headers, must not hold the fetch (and its lock) as long as it likes."""
    body = json.dumps({"keys": [jwk_of(rsa_keys["a"], "a")]}).encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
            + "X-Padding: " + "p" * 200 + "\r\n\r\n").encode()
    stop = threading.Event()

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if slow == "body":
                self.wfile.write(head)
                dribble = body
            else:
                dribble = head + body
            for byte in dribble:
                if stop.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                stop.wait(0.3)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        manager = JWTManager(algorithm="RS256", jwks_timeout=1,
                             jwks_url=f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json")
        assert manager.jwks_fetcher is not None
        started = time.monotonic()
        assert manager.jwks_fetcher.refresh() is False
        assert time.monotonic() - started < 2  # the whole exchange within jwks_timeout (1 s)
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
