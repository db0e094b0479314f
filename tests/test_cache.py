"""The verified-token cache: what a hit skips, what it never skips, and what it never shares."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from jwt_wsgi.cache import TokenCache, copy_json
from jwt_wsgi.keys import verifier
from tests.harness import NOW, SECRET, Clock, Recorder, bearer, manager
from tests.test_jwks import JWKSServer, jwk_of, mint, protected

ROUTES = {"/protected": "required", "/fresh": "fresh", "/refresh": "refresh"}
MakeToken = Callable[..., str]


def cache_of(jwt: JWTManager) -> TokenCache:
    assert jwt.token_cache is not None
    return jwt.token_cache


def warm(client: Client, token: str, path: str = "/protected") -> None:
    """Two verifications: a token is kept from its second one (admission)."""
    for _ in range(2):
        assert client.get(path, headers=bearer(token)).status_code == 200


@pytest.fixture
def client(protect: Callable[..., Client]) -> Client:
    return protect(ROUTES)


def test_cache_is_on_by_default_with_the_setting_size(jwt: JWTManager) -> None:
    assert cache_of(jwt).size == 1024
    assert cache_of(manager(token_cache_size=7)).size == 7
    from_ini = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_CACHE_SIZE": "3"})
    assert cache_of(from_ini).size == 3


def test_kept_on_its_second_verification_then_a_hit_with_the_same_claims(
        client: Client, jwt: JWTManager, recorder: Recorder, make_token: MakeToken) -> None:
    token = make_token("alice", additional_claims={"role": "admin"})
    cache = cache_of(jwt)
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 0)  # seen once: not kept
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert (cache.hits, cache.misses, len(cache)) == (0, 2, 1)
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)
    first, _, second = recorder.environs
    assert first["jwt_wsgi.claims"] == second["jwt_wsgi.claims"]
    assert second["jwt_wsgi.claims"]["role"] == "admin"
    assert second["jwt_wsgi.header"] == first["jwt_wsgi.header"]
    assert second["REMOTE_USER"] == "alice"
    assert first["jwt_wsgi.claims"] is not second["jwt_wsgi.claims"]


def test_hit_needs_the_exact_token_string(client: Client, jwt: JWTManager,
                                          make_token: MakeToken) -> None:
    token = make_token("alice")
    warm(client, token)
    signing_input, _, signature = token.rpartition(".")
    forged = signing_input + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    response = client.get("/protected", headers=bearer(forged))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Signature verification failed"}
    assert len(cache_of(jwt)) == 1


def test_revocation_after_caching_is_honoured(client: Client, jwt: JWTManager,
                                              make_token: MakeToken) -> None:
    token = make_token("alice")
    warm(client, token)
    jwt.revoke(token)
    response = client.get("/protected", headers=bearer(token))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Token has been revoked"}
    assert cache_of(jwt).hits == 1


def test_blocklist_loader_registered_after_caching_is_honoured(
        client: Client, jwt: JWTManager, make_token: MakeToken) -> None:
    token = make_token("alice")
    warm(client, token)
    seen: list[dict[str, Any]] = []

    @jwt.token_in_blocklist_loader
    def revoked(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> bool:
        seen.append(jwt_payload)
        return True

    assert client.get("/protected", headers=bearer(token)).status_code == 401
    assert seen and seen[0]["sub"] == "alice"


class BrokenStore:
    def __init__(self) -> None:
        self.broken = False

    def add(self, jti: str, expires_at: float | None) -> None:
        pass

    def contains(self, jti: str) -> bool:
        if self.broken:
            raise ConnectionError("store down")
        return False


def test_store_failure_on_a_hit_fails_closed(recorder: Recorder) -> None:
    store = BrokenStore()
    jwt = JWTManager(secret_key=SECRET, blocklist=store)
    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES))
    token = jwt.create_access_token("alice")
    warm(client, token)
    store.broken = True
    response = client.get("/protected", headers=bearer(token))
    assert response.status_code == 503
    assert cache_of(jwt).hits == 1
    assert recorder.calls == 2


def test_expiry_after_caching_is_honoured(client: Client, jwt: JWTManager, clock: Clock,
                                          make_token: MakeToken) -> None:
    token = make_token("alice", expires_delta=datetime.timedelta(seconds=60))
    warm(client, token)
    clock.now = NOW + 59
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    clock.now = NOW + 60
    response = client.get("/protected", headers=bearer(token))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Token has expired"}
    assert cache_of(jwt).hits == 2


def test_nbf_and_iat_are_checked_on_a_hit(client: Client, jwt: JWTManager, clock: Clock,
                                          make_token: MakeToken) -> None:
    token = make_token("alice")
    warm(client, token)
    # The clock going back before the token's nbf and iat (say, a corrected clock).
    clock.now = NOW - 10
    response = client.get("/protected", headers=bearer(token))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "The token is not yet valid (nbf)"}
    assert cache_of(jwt).hits == 1


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid", "bad_signature", "revoked"])
def test_a_failure_is_never_cached(client: Client, jwt: JWTManager, clock: Clock,
                                   make_token: MakeToken, kind: str) -> None:
    if kind == "expired":
        token = make_token("alice", expires_delta=datetime.timedelta(seconds=-1))
    elif kind == "not_yet_valid":
        clock.now = NOW + 100
        token = make_token("alice")
        clock.now = NOW
    elif kind == "bad_signature":
        token = make_token("alice")[:-2] + "AA"
    else:
        token = make_token("alice")
        jwt.revoke(token)
    for _ in range(2):
        assert client.get("/protected", headers=bearer(token)).status_code == 401
    assert len(cache_of(jwt)) == 0
    assert cache_of(jwt).hits == 0


def test_policy_is_still_checked_on_a_hit(client: Client, jwt: JWTManager,
                                          make_token: MakeToken) -> None:
    token = make_token("alice", fresh=False)
    warm(client, token)
    response = client.get("/fresh", headers=bearer(token))
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Fresh token required"}
    assert client.get("/refresh", headers=bearer(token)).status_code == 401
    assert cache_of(jwt).hits == 2


def test_key_change_flushes_the_cache(client: Client, jwt: JWTManager,
                                      make_token: MakeToken) -> None:
    token = make_token("alice")
    cache = cache_of(jwt)
    warm(client, token)
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)
    generation = jwt.keys.generation
    jwt.keys.add(verifier(b"another-secret-" + b"k" * 40, "HS256"), "HS256", "new-kid")
    assert jwt.keys.generation > generation
    assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert (cache.hits, cache.misses, cache.flushes, len(cache)) == (1, 3, 1, 0)
    warm(client, token)  # verified again under the new keys, kept from the second time
    assert (cache.hits, cache.misses, len(cache)) == (2, 4, 1)


def test_cached_token_is_refused_once_its_key_leaves_the_jwks() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = JWKSServer()
    try:
        server.jwks = {"keys": [jwk_of(old, "old", "ES256")]}
        manager, client, clock = protected(server.url, decode_algorithms=["ES256"])
        token = mint(old, "old", "ES256")
        # the first fetch changes the keys during the first check: admitted from
        # the second request on, kept at the third, a hit at the fourth
        for _ in range(4):
            assert client.get("/x", headers=bearer(token)).status_code == 200
        assert cache_of(manager).hits == 1 and server.requests == 1
        # The provider drops the key; once the fetched set expires, a hit must notice.
        server.jwks = {"keys": [jwk_of(new, "new", "ES256")]}
        clock.now += 599
        assert client.get("/x", headers=bearer(token)).status_code == 200
        clock.now += 2
        response = client.get("/x", headers=bearer(token))
        assert response.status_code == 401
        assert json.loads(response.get_data()) == {"msg": "No key matches the token"}
        assert server.requests == 2 and cache_of(manager).flushes == 1
    finally:
        server.stop()


def test_an_issuers_expired_jwks_is_refreshed_on_a_hit() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.test_issuers import API, IDP, idp_token, jwks

    old, new = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                for _ in range(2))
    server = JWKSServer()
    try:
        server.jwks = jwks(old, "idp-1")
        manager = JWTManager(secret_key=SECRET, issuer=API, issuers={
            IDP: {"jwks_url": server.url, "audience": API}})
        fetcher = manager.issuers[IDP].material.fetcher
        assert fetcher is not None
        clock = [1000.0]
        fetcher.clock = lambda: clock[0]
        client = Client(JWTMiddleware(Recorder(), manager, default="required"))
        token = idp_token(old, "idp-1", IDP)
        # the first fetch changes the keys during the first check: admitted from
        # the second request on, kept at the third, a hit at the fourth
        for _ in range(4):
            assert client.get("/x", headers=bearer(token)).status_code == 200
        assert cache_of(manager).hits == 1
        # The provider drops the key; once the issuer's set expires, a hit must notice.
        server.jwks = jwks(new, "idp-2")
        clock[0] += 601
        assert client.get("/x", headers=bearer(token)).status_code == 401
        assert server.requests == 2
    finally:
        server.stop()


def test_a_result_verified_under_old_keys_is_not_kept() -> None:
    cache = TokenCache(4)
    old, new = ("keys", 1), ("keys", 2)
    assert cache.get("t", old) is None
    # Keys change while "t" is being verified; another request already saw the new keys.
    assert cache.get("u", new) is None
    header, claims = cache.put("t", old, {"alg": "HS256"}, {"sub": "a"})
    assert claims == {"sub": "a"} and header == {"alg": "HS256"}
    assert len(cache) == 0
    assert cache.get("t", new) is None


def test_another_key_set_object_is_another_context() -> None:
    cache = TokenCache(4)
    cache.get("t", (object(), 1))
    for _ in range(2):
        cache.put("t", cache._context, {}, {"sub": "a"})
    assert len(cache) == 1
    assert cache.get("t", (object(), 1)) is None
    assert cache.flushes == 1


class Mutator(Recorder):
    """An app that scribbles over everything the middleware gave it."""

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = super().__call__(environ, start_response)
        claims, header = environ["jwt_wsgi.claims"], environ["jwt_wsgi.header"]
        self.seen = json.loads(json.dumps([header, claims]))
        claims["sub"] = "mallory"
        claims["roles"].append("admin")
        claims["profile"]["org"]["id"] = 666
        claims["profile"]["tags"].clear()
        claims["new"] = True
        del claims["jti"]
        header["alg"] = "none"
        header["ext"]["x"].append(1)
        return result


def test_app_mutation_does_not_reach_the_next_request(jwt: JWTManager) -> None:
    app = Mutator()
    client = Client(JWTMiddleware(app, jwt, routes=ROUTES))
    token = jwt.create_access_token(
        "alice", additional_claims={"roles": ["user"],
                                    "profile": {"tags": ["t"], "org": {"id": 1}}},
        additional_headers={"ext": {"x": [0]}})
    views = []
    for _ in range(4):  # not kept, kept, hit, hit
        assert client.get("/protected", headers=bearer(token)).status_code == 200
        views.append(app.seen)
    assert views[0] == views[1] == views[2] == views[3]
    header, claims = views[3]
    assert claims["sub"] == "alice" and claims["roles"] == ["user"]
    assert claims["profile"] == {"tags": ["t"], "org": {"id": 1}}
    assert "new" not in claims and "jti" in claims
    assert header["alg"] == "HS256" and header["ext"] == {"x": [0]}
    # A hit, then the verdict the hit left (jwt_wsgi.verdicts): copies either way.
    middleware = client.application
    assert isinstance(middleware, JWTMiddleware)
    assert (cache_of(jwt).hits, middleware.verdicts.recalls) == (1, 1)


def test_blocklist_loader_mutation_does_not_reach_the_cache(client: Client, jwt: JWTManager,
                                                            recorder: Recorder) -> None:
    @jwt.token_in_blocklist_loader
    def scribble(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> bool:
        jwt_payload["roles"].append("admin")
        jwt_payload["sub"] = "mallory"
        return False

    token = jwt.create_access_token("alice", additional_claims={"roles": ["user"]})
    for _ in range(3):
        assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert [c["jwt_wsgi.claims"]["roles"] for c in recorder.environs] == [["user"]] * 3
    assert [c["REMOTE_USER"] for c in recorder.environs] == ["alice"] * 3


def test_copy_json_shares_nothing_mutable() -> None:
    value = {"a": [1, {"b": [2]}], "c": {"d": {"e": []}}, "f": "s", "g": None}
    copied = copy_json(value)
    assert copied == value
    assert copied is not value and copied["a"] is not value["a"]
    assert copied["a"][1]["b"] is not value["a"][1]["b"]
    assert copied["c"]["d"]["e"] is not value["c"]["d"]["e"]


def test_cache_is_bounded_and_drops_the_least_recently_used(recorder: Recorder) -> None:
    jwt = manager(token_cache_size=3)
    middleware = JWTMiddleware(recorder, jwt, routes=ROUTES)
    client = Client(middleware)
    tokens = [jwt.create_access_token(f"user{i}") for i in range(5)]
    cache = cache_of(jwt)
    for token in tokens[:3]:
        warm(client, token)
    # Use the oldest again: it becomes the most recent, so user1 goes first.
    assert client.get("/protected", headers=bearer(tokens[0])).status_code == 200
    for token in tokens[3:]:
        warm(client, token)
    assert len(cache) == 3
    # Answered without verifying again: by a cache hit, or by the verdict a hit left.
    def answered() -> int:
        return cache.hits + middleware.verdicts.recalls

    before = answered()
    for token in (tokens[0], tokens[3], tokens[4]):
        assert client.get("/protected", headers=bearer(token)).status_code == 200
    assert answered() == before + 3
    assert client.get("/protected", headers=bearer(tokens[1])).status_code == 200
    assert answered() == before + 3 and len(cache) == 3


def test_size_zero_turns_the_cache_off(recorder: Recorder) -> None:
    jwt = manager(token_cache_size=0)
    assert jwt.token_cache is None
    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES))
    token = jwt.create_access_token("alice")
    for _ in range(2):
        assert client.get("/protected", headers=bearer(token)).status_code == 200
    jwt.revoke(token)
    assert client.get("/protected", headers=bearer(token)).status_code == 401


def test_many_threads_share_the_cache_safely(recorder: Recorder) -> None:
    jwt = manager(token_cache_size=8)
    app = JWTMiddleware(recorder, jwt, routes=ROUTES)
    tokens = {f"user{i}": jwt.create_access_token(f"user{i}",
                                                  additional_claims={"tags": [f"user{i}"]})
              for i in range(20)}
    revoked = jwt.create_access_token("gone")
    jwt.revoke(revoked)
    errors: list[str] = []
    start = threading.Barrier(16)

    def worker(seed: int) -> None:
        client = Client(app)
        start.wait()
        for n in range(60):
            name = f"user{(seed * 7 + n) % 20}"
            response = client.get("/protected", headers=bearer(tokens[name]))
            seen = json.loads(response.get_data()).get("sub")
            if response.status_code != 200 or seen != name:
                errors.append(f"{name}: {response.status_code} {seen}")
            if n % 10 == 0 and client.get("/protected",
                                          headers=bearer(revoked)).status_code != 401:
                errors.append("revoked token accepted")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    cache = cache_of(jwt)
    assert len(cache) <= 8
    # Each request reached the cache, or was answered by a verdict (jwt_wsgi.verdicts).
    assert cache.hits + cache.misses + app.verdicts.recalls == 16 * (60 + 6)
    assert cache.hits > 0
    ok = [c for c in recorder.environs if c["jwt_wsgi.claims"]["tags"] != [c["REMOTE_USER"]]]
    assert ok == []


def test_tokens_seen_once_do_not_push_out_a_token_in_use(recorder: Recorder) -> None:
    jwt = manager(token_cache_size=4)
    client = Client(JWTMiddleware(recorder, jwt, routes=ROUTES))
    cache = cache_of(jwt)
    hot = jwt.create_access_token("alice")
    warm(client, hot)
    for i in range(30):  # one request each, as with one token per login
        one_shot = jwt.create_access_token(f"user{i}")
        assert client.get("/protected", headers=bearer(one_shot)).status_code == 200
    assert len(cache) == 1
    hits = cache.hits
    assert client.get("/protected", headers=bearer(hot)).status_code == 200
    assert cache.hits == hits + 1


def test_tokens_seen_once_are_remembered_within_bounds() -> None:
    cache = TokenCache(3)
    context = ("keys", 1)
    cache.get("x", context)
    for i in range(50):
        _header, claims = cache.put(f"t{i}", context, {"alg": "HS256"}, {"sub": str(i)})
        assert claims == {"sub": str(i)}
        assert len(cache._seen) <= 6
    assert len(cache) == 0
    cache.clear()
    assert not cache._seen
