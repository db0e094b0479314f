"""The verdict memo (jwt_wsgi.verdicts): a token that passed a route before passes again
at once, but never where the whole way would refuse it.

Each case gets a verdict first (three requests: the token cache keeps a token from its
second verification, the verdict is kept from the third), changes one thing, and asks
again: the answer must be the whole way's answer, word for word.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest

from jwt_wsgi import JWTManager, JWTMiddleware, MemoryBlocklist
from jwt_wsgi.verdicts import VERDICTS_SIZE, window
from tests.harness import NOW, SECRET, Answer, Clock, Recorder, bearer_call, manager

ROUTES: dict[str, Any] = {
    "/p": "required",
    "/fresh": "fresh",
    "/admin": {"require": "required", "scopes": ["admin"]},
    "/optional": "optional",
}


class Setup:
    """One manager and middleware, a clock, and a token that already has its verdict."""

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.recorder = Recorder()
        self.jwt = manager(clock=self.clock, **options)
        self.app = JWTMiddleware(self.recorder, self.jwt, routes=ROUTES)
        self.token = self.mint()

    def mint(self, **kwargs: Any) -> str:
        return self.jwt.create_access_token("alice", **kwargs)

    def ask(self, token: str | None = None, path: str = "/p") -> Answer:
        return bearer_call(self.app, token or self.token, path)

    def warm(self, token: str | None = None, path: str = "/p") -> None:
        """Three passes: the third leaves the verdict, which then answers."""
        for _ in range(3):
            assert self.ask(token, path).status == 200
        recalls = self.app.verdicts.recalls
        assert self.ask(token, path).status == 200
        assert self.app.verdicts.recalls == recalls + 1, "no verdict was kept"


def whole_way(setup: Setup, path: str = "/p", token: str | None = None) -> Answer:
    """What a middleware without verdicts answers now (a fresh one, same manager)."""
    fresh = JWTMiddleware(Recorder(), setup.jwt, routes=ROUTES)
    return bearer_call(fresh, token or setup.token, path)


def _expire(s: Setup) -> None:
    s.clock.now = NOW + 15 * 60  # the default access lifetime


def _just_before_expiry(s: Setup) -> None:
    s.clock.now = NOW + 15 * 60 - 1


def _clock_back(s: Setup) -> None:
    s.clock.now = NOW - 10  # before nbf and iat


def _revoke(s: Setup) -> None:
    s.jwt.revoke(s.token)


def _revoke_all(s: Setup) -> None:
    s.clock.now = NOW + 1
    s.jwt.revoke_all("alice")


def _revoke_all_someone_else(s: Setup) -> None:
    s.jwt.revoke_all("bob")


def _loader_revokes(s: Setup) -> None:
    s.jwt.token_in_blocklist_loader(lambda header, claims: 1)


def _loader_keeps(s: Setup) -> None:
    s.jwt.token_in_blocklist_loader(lambda header, claims: None)


def _replace_keys(s: Setup) -> None:
    s.jwt.replace_keys(secret_key="another-secret-" + "k" * 40)


def _replace_keys_keeping_old(s: Setup) -> None:
    s.jwt.replace_keys(secret_key="another-secret-" + "k" * 40, secret_key_fallbacks=[SECRET])


def _user_lookup_fails(s: Setup) -> None:
    s.jwt.user_lookup_loader(lambda header, claims: None)


# name, change, path, expected status, expected message (None: the app's 200)
CASES: list[tuple[str, Callable[[Setup], None], str, int, str | None]] = [
    ("nothing-changed", lambda s: None, "/p", 200, None),
    ("expired", _expire, "/p", 401, "Token has expired"),
    ("one-second-before-expiry", _just_before_expiry, "/p", 200, None),
    ("clock-set-back-before-nbf", _clock_back, "/p", 401, "The token is not yet valid (nbf)"),
    ("revoked", _revoke, "/p", 401, "Token has been revoked"),
    ("revoke-all", _revoke_all, "/p", 401, "Token has been revoked"),
    ("revoke-all-of-another", _revoke_all_someone_else, "/p", 200, None),
    ("blocklist-loader-registered", _loader_revokes, "/p", 401, "Token has been revoked"),
    ("blocklist-loader-says-no", _loader_keeps, "/p", 200, None),
    ("keys-replaced", _replace_keys, "/p", 401, "Signature verification failed"),
    ("keys-replaced-old-kept", _replace_keys_keeping_old, "/p", 200, None),
    ("user-lookup-registered", _user_lookup_fails, "/p", 401, "Error loading the user alice"),
]


@pytest.mark.parametrize(("change", "path", "status", "message"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_a_verdict_answers_as_the_whole_way_would(
        change: Callable[[Setup], None], path: str, status: int, message: str | None) -> None:
    setup = Setup()
    setup.warm(path=path)
    change(setup)
    answer = setup.ask(path=path)
    expected = whole_way(setup, path)
    assert (answer.status, answer.json) == (expected.status, expected.json)
    assert answer.status == status
    if message is not None:
        assert answer.json == {"msg": message}
    else:
        assert answer.json == {"path": path, "sub": "alice"}


def test_a_verdict_is_for_one_policy() -> None:
    """Passing /p says nothing about /admin, which needs a scope the token lacks."""
    setup = Setup()
    setup.warm()
    for _ in range(4):
        answer = setup.ask(path="/admin")
        assert (answer.status, answer.json) == (403, {"msg": "Insufficient scope"})
    scoped = setup.mint(additional_claims={"scope": "admin"})
    setup.warm(scoped, "/admin")


def test_a_numeric_fresh_claim_ends_the_verdict_of_a_fresh_route() -> None:
    setup = Setup()
    token = setup.mint(fresh=datetime.timedelta(minutes=5))
    setup.warm(token, "/fresh")
    setup.clock.now = NOW + 5 * 60 - 1
    assert setup.ask(token, "/fresh").status == 200
    setup.clock.now = NOW + 5 * 60
    answer = setup.ask(token, "/fresh")
    assert (answer.status, answer.json) == (401, {"msg": "Fresh token required"})
    assert setup.ask(token, "/p").status == 200  # not fresh, still valid elsewhere


def test_revoking_the_refresh_token_it_came_from_ends_the_verdict() -> None:
    setup = Setup()
    refresh = setup.jwt.create_refresh_token("alice")
    parent = setup.jwt.decode_token(refresh)["jti"]
    token = setup.mint(additional_claims={"refresh_jti": parent})
    setup.warm(token)
    setup.jwt.revoke(refresh)
    answer = setup.ask(token)
    assert (answer.status, answer.json) == (401, {"msg": "Token has been revoked"})


class FailingStore(MemoryBlocklist):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def contains(self, jti: str) -> bool:
        if self.down:
            raise ConnectionError("store down")
        return super().contains(jti)


def test_a_store_that_fails_after_the_verdict_fails_closed() -> None:
    store = FailingStore()
    setup = Setup(blocklist=store)
    setup.warm()
    store.down = True
    answer = setup.ask()
    assert (answer.status, answer.json) == (503, {"msg": "Token revocation status unavailable"})
    assert setup.recorder.calls == 4  # the warm-up's, not this one


def test_a_key_added_sends_the_token_the_whole_way_again() -> None:
    from jwt_wsgi.keys import verifier

    setup = Setup()
    setup.warm()
    cache = setup.jwt.token_cache
    assert cache is not None
    misses = cache.misses
    setup.jwt.keys.add(verifier(b"another-secret-" + b"k" * 40, "HS256"), "HS256", "new")
    assert setup.ask().status == 200
    assert cache.misses == misses + 1


def test_the_app_gets_copies_it_may_change() -> None:
    seen: list[dict[str, Any]] = []

    def mutator(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        claims = environ["jwt_wsgi.claims"]
        seen.append(json.loads(json.dumps(claims)))
        claims["sub"] = "mallory"
        claims["roles"].append("admin")
        environ["jwt_wsgi.header"]["alg"] = "none"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    jwt = manager()
    app = JWTMiddleware(mutator, jwt, routes=ROUTES)
    token = jwt.create_access_token("alice", additional_claims={"roles": ["user"]})
    for _ in range(6):
        assert bearer_call(app, token).status == 200
    assert app.verdicts.recalls == 3
    assert all(claims["sub"] == "alice" and claims["roles"] == ["user"] for claims in seen)


def test_what_reads_the_request_is_never_memoized() -> None:
    """A route check runs on every request; a cookie's CSRF check too."""
    calls: list[str] = []

    def check(claims: dict[str, Any], environ: dict[str, Any]) -> bool:
        calls.append(environ["PATH_INFO"])
        return environ.get("HTTP_X_ALLOW") == "yes"

    jwt = manager(token_location=["headers", "cookies"])
    app = JWTMiddleware(Recorder(), jwt, routes={"/c": {"require": "required", "check": check},
                                                 "/p": "required"})
    token = jwt.create_access_token("alice")
    for _ in range(5):
        assert bearer_call(app, token, "/c", HTTP_X_ALLOW="yes").status == 200
    assert bearer_call(app, token, "/c").status == 403
    assert calls == ["/c"] * 6 and app.verdicts.recalls == 0

    csrf = jwt.decode_token(token)["csrf"]
    cookie = {"HTTP_COOKIE": f"access_token_cookie={token}"}
    for _ in range(5):
        answer = bearer_call(app, "unused", "/p", method="POST", **cookie,
                             HTTP_X_CSRF_TOKEN=csrf, HTTP_AUTHORIZATION="")
        assert answer.status == 200
    answer = bearer_call(app, "unused", "/p", method="POST", **cookie, HTTP_AUTHORIZATION="")
    assert (answer.status, answer.json) == (401, {"msg": "Missing CSRF token"})
    assert app.verdicts.recalls == 0


def test_a_verdict_from_a_header_does_not_answer_for_the_same_token_in_a_cookie() -> None:
    """The token a browser holds in its cookie, also sent in a header (an SPA that reads
    it), has a verdict; a cross-site POST that carries only the cookie must still be
    checked for CSRF."""
    jwt = manager(token_location=["headers", "cookies"])
    app = JWTMiddleware(Recorder(), jwt, routes={"/p": "required"})
    token = jwt.create_access_token("alice")
    for _ in range(4):
        assert bearer_call(app, token, "/p", method="POST").status == 200
    assert app.verdicts.recalls == 1  # the header verdict is kept and answers
    cookie = {"HTTP_COOKIE": f"access_token_cookie={token}", "HTTP_AUTHORIZATION": ""}
    for _ in range(3):
        answer = bearer_call(app, "unused", "/p", method="POST", **cookie)
        assert (answer.status, answer.json) == (401, {"msg": "Missing CSRF token"})
    assert app.verdicts.recalls == 1


def test_no_verdict_without_the_token_cache() -> None:
    off = Setup(token_cache_size=0)
    for _ in range(5):
        assert off.ask().status == 200
    assert off.app.verdicts.recalls == 0


def test_the_memo_is_bounded() -> None:
    setup = Setup(token_cache_size=50)
    assert setup.app.verdicts.size == 50 <= VERDICTS_SIZE
    tokens = [setup.mint() for _ in range(120)]
    for token in tokens:
        for _ in range(3):
            assert setup.ask(token).status == 200
    assert 0 < len(setup.app.verdicts._kept) <= 50


@pytest.mark.parametrize(("claims", "leeway", "require", "expected"), [
    pytest.param({}, 0, "required", (-float("inf"), float("inf")), id="no-time-claims"),
    pytest.param({"exp": 100, "nbf": 10, "iat": 20}, 0, "required", (20, 100), id="iat-latest"),
    pytest.param({"exp": 100, "nbf": 30, "iat": 20}, 5, "required", (25, 105), id="leeway"),
    pytest.param({"exp": 100, "fresh": 50}, 0, "fresh", (-float("inf"), 50), id="fresh-bound"),
    pytest.param({"exp": 100, "fresh": 500}, 0, "fresh", (-float("inf"), 100), id="exp-first"),
    pytest.param({"exp": 100, "fresh": True}, 0, "fresh", (-float("inf"), 100), id="fresh-true"),
    pytest.param({"exp": 100, "fresh": 50}, 0, "required", (-float("inf"), 100),
                 id="fresh-ignored-elsewhere"),
])
def test_the_window_is_the_clock_rules(claims: dict[str, Any], leeway: float, require: str,
                                       expected: tuple[float, float]) -> None:
    from jwt_wsgi.policy import Policy

    assert window(claims, leeway, Policy(require)) == expected


def test_fetched_keys_keep_no_verdict() -> None:
    """Keys from a JWKS endpoint refresh when a token is verified: no verdict skips that."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.test_jwks import JWKSServer, jwk_of, mint

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = JWKSServer()
    try:
        server.jwks = {"keys": [jwk_of(private, "k1")]}
        jwt = JWTManager(jwks_url=server.url, algorithm="RS256")
        app = JWTMiddleware(Recorder(), jwt, routes=ROUTES)
        token = mint(private, "k1")
        for _ in range(5):
            assert bearer_call(app, token).status == 200
        assert app.verdicts.recalls == 0
    finally:
        server.stop()
