"""Refresh-token rotation: consumed once, reuse ends the family, across threads and workers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug.test import Client

from jwt_wsgi import (
    ExpiredTokenError,
    JWTManager,
    JWTMiddleware,
    RedisBlocklist,
    RefreshTokenReusedError,
    RevokedTokenError,
    WrongTokenTypeError,
)
from jwt_wsgi.errors import InvalidTokenError, JWTWSGIError
from tests.harness import NOW, SECRET, Recorder, ask, bearer, free_port, wait_for_port
from tests.harness.redis import RedisServer, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def jwt() -> JWTManager:
    manager = JWTManager(secret_key=SECRET)
    manager.codec.clock = lambda: float(NOW)
    return manager


def _refused(jwt: JWTManager, token: str) -> str:
    try:
        jwt.verify(token)
    except JWTWSGIError as error:
        return error.code
    return "accepted"


def test_rotation_gives_a_new_pair_of_the_same_family(jwt: JWTManager) -> None:
    access, refresh = jwt.create_token_pair("alice", additional_claims={"tenant": "t1"})
    new_access, new_refresh = jwt.rotate_refresh(refresh)
    old, a, r = (jwt.decode_token(t) for t in (refresh, new_access, new_refresh))
    assert a["family"] == r["family"] == old["family"] == old["jti"]
    assert a["refresh_jti"] == r["jti"] != old["jti"]
    assert (a["type"], r["type"], a["fresh"]) == ("access", "refresh", False)
    assert a["sub"] == r["sub"] == "alice" and a["tenant"] == r["tenant"] == "t1"
    assert _refused(jwt, new_access) == _refused(jwt, access) == "accepted"


def test_second_use_revokes_the_whole_family(jwt: JWTManager) -> None:
    access, refresh = jwt.create_token_pair("alice")
    new_access, new_refresh = jwt.rotate_refresh(refresh)
    with pytest.raises(RefreshTokenReusedError) as caught:
        jwt.rotate_refresh(refresh)
    assert caught.value.jwt_payload is not None  # the loader gets the token's claims
    for token in (access, new_access, new_refresh, refresh):
        assert _refused(jwt, token) == "token_revoked"
    with pytest.raises(RevokedTokenError):  # the thief's next try, and the victim's
        jwt.rotate_refresh(new_refresh)


def test_reuse_answers_through_the_loader(jwt: JWTManager) -> None:
    @jwt.refresh_token_reused_loader
    def reused(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        return {"msg": "session ended", "family": jwt_payload["family"]}, 401

    _, refresh = jwt.create_token_pair("alice")
    jwt.rotate_refresh(refresh)
    try:
        jwt.rotate_refresh(refresh)
    except JWTWSGIError as error:
        response = Client(jwt.responders.respond(error, {})).get("/")
    assert response.status_code == 401
    assert response.json == {"msg": "session ended", "family": jwt.decode_token(
        refresh, allow_expired=True)["family"]}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        pytest.param(lambda j: j.create_access_token("alice"), WrongTokenTypeError,
                     id="access-token"),
        pytest.param(lambda j: j.create_refresh_token("alice", expires_delta=-10),
                     ExpiredTokenError, id="expired"),
        pytest.param(lambda j: JWTManager(secret_key="another-secret-" + "z" * 40)
                     .create_refresh_token("alice"), InvalidTokenError, id="another-key"),
        pytest.param(lambda j: j.create_refresh_token("alice", additional_claims={"family": 7}),
                     InvalidTokenError, id="family-not-a-string"),
        pytest.param(lambda j: j.create_refresh_token("alice", additional_claims={"jti": None}),
                     InvalidTokenError, id="no-jti"),
    ],
)
def test_what_is_never_rotated(jwt: JWTManager, make: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        jwt.rotate_refresh(make(jwt))


def test_another_issuers_refresh_token_is_not_rotated_into_ours() -> None:
    other = JWTManager(secret_key="idp-secret-" + "q" * 40, issuer="https://idp.example")
    ours = JWTManager(secret_key=SECRET, issuer="https://us.example", issuers={
        "https://idp.example": {"secret_key": "idp-secret-" + "q" * 40,
                                "algorithms": ["HS256"]}})
    token = other.create_refresh_token("mallory")
    assert ours.decode_token(token)["sub"] == "mallory"  # we accept it as a token...
    with pytest.raises(JWTWSGIError):
        ours.rotate_refresh(token)  # ...but never re-sign it as our own


def test_refresh_tokens_without_a_family_still_work(jwt: JWTManager) -> None:
    """Older refresh tokens and flask-jwt-extended's: they verify, and a rotation starts
    their family (at their own jti), consuming them once."""
    flask = pytest.importorskip("flask")  # a test extra: installed in CI
    flask_jwt_extended = pytest.importorskip("flask_jwt_extended")
    app = flask.Flask("x")
    app.config["JWT_SECRET_KEY"] = SECRET
    flask_jwt_extended.JWTManager(app)
    with app.app_context():
        theirs = flask_jwt_extended.create_refresh_token("alice")
    ours = JWTManager(secret_key=SECRET)
    plain = ours.create_refresh_token("alice")
    for token in (theirs, plain):
        client = Client(JWTMiddleware(Recorder(), ours, routes={"/refresh": "refresh"}))
        assert client.get("/refresh", headers=bearer(token)).status_code == 200
        access, refresh = ours.rotate_refresh(token)
        assert ours.decode_token(refresh)["family"] == ours.decode_token(token)["jti"]
        with pytest.raises(RefreshTokenReusedError):
            ours.rotate_refresh(token)
        assert _refused(ours, access) == "token_revoked"


def test_loaders_do_not_see_the_identity_as_a_user(jwt: JWTManager) -> None:
    class User:
        name = "alice"

    jwt.user_identity_loader(lambda user: user.name)
    jwt.additional_claims_loader(lambda user: {"display": user.name.title()})
    _, refresh = jwt.create_token_pair(User())
    access, _ = jwt.rotate_refresh(refresh)  # no AttributeError from the loaders
    assert jwt.decode_token(access)["display"] == "Alice"  # carried over, not recomputed


def test_threads_racing_one_token_one_wins(jwt: JWTManager) -> None:
    for _ in range(20):
        _, refresh = jwt.create_token_pair("alice")
        barrier = threading.Barrier(8)

        def race(token: str = refresh) -> str:
            barrier.wait()
            try:
                jwt.rotate_refresh(token)
            except RefreshTokenReusedError:
                return "reused"
            except RevokedTokenError:
                return "revoked"  # a loser that came after another loser revoked the family
            return "won"

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: race(), range(8)))
        assert results.count("won") == 1, results
        assert results.count("reused") >= 1


def test_redis_consumes_once_across_managers(redis_server: RedisServer) -> None:
    """Two managers with their own pools, as two workers have: SET NX decides."""
    redis.Redis.from_url(redis_server.url).flushdb()
    first = JWTManager(secret_key=SECRET, blocklist=RedisBlocklist(redis_server.url))
    second = JWTManager(secret_key=SECRET, blocklist=RedisBlocklist(redis_server.url))
    _, refresh = first.create_token_pair("alice")
    access, new_refresh = second.rotate_refresh(refresh)
    with pytest.raises(RefreshTokenReusedError):
        first.rotate_refresh(refresh)
    # Rotation asks Redis itself: the family another worker ended is refused at once...
    with pytest.raises(RevokedTokenError):
        second.rotate_refresh(new_refresh)
    # ...and the replica of every worker refuses its tokens within milliseconds.
    wait_until(lambda: _refused(second, access) == "token_revoked", 2,
               "the family's revocation reaches the other worker")
    keys = redis.Redis.from_url(redis_server.url).keys("jwt_wsgi:consumed:*")
    assert len(keys) == 1  # the one refresh token that was used (a refused one is not)
    assert all(redis.Redis.from_url(redis_server.url).ttl(k) > 0 for k in keys)


def test_gunicorn_workers_race_one_refresh_token(redis_server: RedisServer) -> None:
    """Two gunicorn workers, 100 races of the same token: one winner each time, and the
    loser's answer ends the winner's family."""
    redis.Redis.from_url(redis_server.url).flushdb()
    port = free_port()
    env = {**os.environ, "JWT_SECRET_KEY": SECRET, "REDIS_URL": redis_server.url,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--keep-alive", "0", "--log-level", "warning", "examples.refresh_rotation:app"],
        cwd=ROOT, env=env)
    try:
        wait_for_port(port, proc)
        winners: set[int] = set()
        deadline = time.monotonic() + 120
        with ThreadPoolExecutor(2) as pool:
            for _ in range(100):
                assert time.monotonic() < deadline
                _, tokens = ask(port, "POST", "/login")
                refresh = tokens["refresh_token"]
                barrier = threading.Barrier(2)

                def rotate(token: str = refresh, gate: threading.Barrier = barrier
                           ) -> tuple[int, dict[str, Any]]:
                    gate.wait()
                    return ask(port, "POST", "/token/rotate", token)

                results = list(pool.map(lambda _: rotate(), range(2)))
                statuses = sorted(status for status, _ in results)
                assert statuses == [200, 401], results
                won = next(body for status, body in results if status == 200)
                lost = next(body for status, body in results if status == 401)
                assert lost == {"msg": "Refresh token has already been used"}
                winners.add(won["worker"])
                # The loser's reuse ended the winner's family: rotating is refused at once,
                # the access token as soon as the revocation reaches the worker's replica.
                assert ask(port, "POST", "/token/rotate", won["refresh_token"])[0] == 401
                wait_until(lambda token=won["access_token"]: ask(
                    port, "GET", "/whoami", token)[0] == 401, 2, "the family ends everywhere")
        assert len(winners) == 2, "both workers should have won some races"
    finally:
        proc.terminate()
        proc.wait(15)
