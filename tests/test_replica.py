"""RedisBlocklist's local replica against real Redis processes on 127.0.0.1: loading,
following pushes, the staleness bound (Redis stopped, frozen, restarted empty, flushed),
Sentinel failover, a three-master Cluster, forked workers, and revoke_all.

Each store stands for one worker: its own client, replica and following thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware, MemoryBlocklist, RedisBlocklist
from jwt_wsgi.blocklist import StaleReplicaError
from tests.harness import SECRET, Recorder, bearer
from tests.harness.redis import Cluster, RedisServer, SentinelSet, wait_until

PREFIX = "jwt_wsgi:revoked:"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    one = RedisServer()
    yield one
    one.close()


@pytest.fixture
def raw(server: RedisServer) -> redis.Redis:
    client = server.client()
    client.flushall()
    return client


@pytest.fixture
def stores() -> Iterator[Callable[..., RedisBlocklist]]:
    """Make stores (workers) that are closed after the test."""
    made: list[RedisBlocklist] = []

    def make(url: str | None = None, **options: Any) -> RedisBlocklist:
        store = RedisBlocklist(url, **options) if url else RedisBlocklist(**options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def statuses(client: Client, token: str, seconds: float, pause: float = 0.02
             ) -> list[tuple[float, int]]:
    """(seconds the request took, status) for requests made during ``seconds``."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        status = client.get("/", headers=bearer(token)).status_code
        seen.append((time.monotonic() - started, status))
        time.sleep(pause)
    return seen


def guarded(store: Any) -> tuple[JWTManager, Client]:
    jwt = JWTManager(secret_key=SECRET, blocklist=store)
    return jwt, Client(JWTMiddleware(Recorder(), jwt, default="required"))


# -- one Redis ---------------------------------------------------------------------

def test_a_new_worker_loads_what_is_revoked(server: RedisServer, raw: redis.Redis,
                                            stores: Callable[..., RedisBlocklist]) -> None:
    with raw.pipeline(transaction=False) as pipe:
        for i in range(2500):  # several SCAN batches
            pipe.set(f"{PREFIX}j{i}", 1, ex=600)
        pipe.set(f"{PREFIX}forever", 1)
        pipe.set("jwt_wsgi:other:j1", 1)
        pipe.execute()
    store = stores(server.url)
    assert all(store.contains(f"j{i}") for i in range(2500))
    assert store.contains("forever") and not store.contains("j2500")
    assert len(store.replica.revoked) == 2501  # other prefixes are not followed


@pytest.mark.parametrize(("write", "jti", "revoked"), [
    pytest.param(lambda r: r.set(f"{PREFIX}op", 1, ex=600), "op", True, id="operator-set-ex"),
    pytest.param(lambda r: r.set(f"{PREFIX}op", 1), "op", True, id="operator-set-no-ttl"),
    pytest.param(lambda r: r.delete(f"{PREFIX}seeded"), "seeded", False,
                 id="operator-del-unrevokes"),
    pytest.param(lambda r: r.pexpire(f"{PREFIX}seeded", 50), "seeded", False,
                 id="key-expires-in-redis"),
    pytest.param(lambda r: r.set(f"{PREFIX}seeded", 1, ex=900), "seeded", True,
                 id="ttl-extended"),
])
def test_what_redis_pushes_reaches_every_worker(
        server: RedisServer, raw: redis.Redis, stores: Callable[..., RedisBlocklist],
        write: Callable[[redis.Redis], object], jti: str, revoked: bool) -> None:
    raw.set(f"{PREFIX}seeded", 1, ex=600)
    workers = [stores(server.url), stores(server.url)]
    assert all(w.contains("seeded") and not w.contains("op") for w in workers)
    write(raw)
    raw.set("jwt_wsgi:revokedX", 1)  # a near miss of the prefix is not followed
    wait_until(lambda: all(w.contains(jti) is revoked for w in workers), 2,
               f"{jti} revoked={revoked} in both workers")
    assert not any(w.contains("X") or w.contains("revokedX") for w in workers)


def test_contains_makes_no_round_trip(server: RedisServer, raw: redis.Redis,
                                      stores: Callable[..., RedisBlocklist]) -> None:
    store = stores(server.url, max_staleness=60)  # heartbeats every 15 s: none during the loop
    store.add("gone", time.time() + 60)
    store.contains("x")
    before = raw.info("stats")["total_commands_processed"]
    answers = [store.contains(f"j{i}") for i in range(5000)] + [store.contains("gone")]
    after = raw.info("stats")["total_commands_processed"]
    assert answers.count(True) == 1
    assert after - before <= 2  # our INFO, and at most one heartbeat


def test_a_revocation_reaches_another_worker_fast(server: RedisServer, raw: redis.Redis,
                                                  stores: Callable[..., RedisBlocklist]) -> None:
    writer, reader = stores(server.url), stores(server.url)
    reader.contains("warm")
    delays = []
    for i in range(20):
        started = time.monotonic()
        writer.add(f"fast{i}", time.time() + 60)
        wait_until(lambda i=i: reader.contains(f"fast{i}"), 2, "the push arrived")
        delays.append(time.monotonic() - started)
    assert max(delays) < 1.0, delays  # benchmarks/revocation.py measures the p99


def test_expired_entries_leave_the_replica(server: RedisServer, raw: redis.Redis,
                                           stores: Callable[..., RedisBlocklist]) -> None:
    store = stores(server.url)
    store.add("short", time.time() + 0.3)
    store.add("long", time.time() + 60)
    assert store.contains("short")
    wait_until(lambda: not store.contains("short") and "short" not in store.replica.revoked,
               3, "the expired entry left memory")
    assert store.contains("long")


# -- the staleness bound: Redis stopped, frozen, restarted empty, flushed -----------------

@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    one = RedisServer()
    yield one
    one.close()


BOUND = 0.5


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_an_outage_fails_closed_within_the_bound_and_recovers(
        own_server: RedisServer, stores: Callable[..., RedisBlocklist], outage: str) -> None:
    store = stores(own_server.url, timeout=0.3, max_staleness=BOUND)
    jwt, client = guarded(store)
    revoked, valid = jwt.create_access_token("mallory"), jwt.create_access_token("alice")
    jwt.revoke(revoked)
    assert client.get("/", headers=bearer(valid)).status_code == 200
    if outage == "stopped":
        own_server.stop()
    else:
        own_server.freeze()
    down = time.monotonic()
    during = statuses(client, valid, BOUND + 0.6) + statuses(client, revoked, 0.3)
    assert max(took for took, _ in during) < BOUND, "a request waited for Redis"
    assert {status for _, status in during} <= {200, 401, 503}
    first_503 = next(i for i, (_, status) in enumerate(during) if status == 503)
    assert all(status == 503 for _, status in during[first_503:])
    assert sum(took + 0.02 for took, _ in during[:first_503]) < BOUND + 0.3
    assert time.monotonic() - down > BOUND
    if outage == "stopped":
        own_server.start()  # the same port, and no data: everything was lost
    else:
        own_server.thaw()
    wait_until(lambda: client.get("/", headers=bearer(valid)).status_code == 200, 5,
               "service resumes by itself")
    assert client.get("/", headers=bearer(revoked)).json == {"msg": "Token has been revoked"}


def test_a_redis_that_lost_its_data_gets_it_back(own_server: RedisServer,
                                                 stores: Callable[..., RedisBlocklist]) -> None:
    first = stores(own_server.url, max_staleness=BOUND)
    first.add("kept", time.time() + 60)
    first.revoke_all("bob", time.time(), time.time() + 60)
    own_server.stop()
    own_server.start()  # empty: no persistence
    raw = own_server.client()
    wait_until(lambda: raw.exists(f"{PREFIX}kept"), 5, "the worker wrote the revocation back")
    assert 59 <= raw.ttl(f"{PREFIX}kept") <= 60
    assert raw.exists("jwt_wsgi:revoked-before:bob")
    late = stores(own_server.url)  # a worker started after the loss still refuses
    assert late.contains("kept") and late.revoked_before("bob") is not None


def test_a_flush_is_data_loss_too(own_server: RedisServer,
                                  stores: Callable[..., RedisBlocklist]) -> None:
    store = stores(own_server.url)
    store.add("kept", time.time() + 60)
    raw = own_server.client()
    raw.flushall()
    wait_until(lambda: raw.exists(f"{PREFIX}kept"), 5, "written back after FLUSHALL")
    assert store.contains("kept")


def test_a_worker_that_cannot_load_refuses_at_once(stores: Callable[..., RedisBlocklist]) -> None:
    from tests.harness import free_port

    store = stores(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StaleReplicaError):
        store.contains("x")
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    with pytest.raises(StaleReplicaError):
        store.contains("x")  # only the first check of a process waits for the load
    assert time.monotonic() - started < 0.05


def test_a_forked_worker_follows_on_its_own(server: RedisServer, raw: redis.Redis,
                                            stores: Callable[..., RedisBlocklist]) -> None:
    store = stores(server.url)
    store.add("before-fork", time.time() + 60)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked after the app loaded
        code = 1
        try:
            os.close(read)
            ok = store.contains("before-fork")
            os.write(write, b"1")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not store.contains("after-fork"):
                time.sleep(0.01)
            code = 0 if ok and store.contains("after-fork") else 2
        finally:
            os._exit(code)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.close(read)
    raw.set(f"{PREFIX}after-fork", 1, ex=60)  # written by another process
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.contains("before-fork")


# -- Sentinel --------------------------------------------------------------------------

def test_sentinel_failover_keeps_revocations_and_resumes(
        stores: Callable[..., RedisBlocklist]) -> None:
    sentinels = SentinelSet()
    try:
        sentinel = Sentinel(sentinels.addresses, socket_timeout=0.3,
                            sentinel_kwargs={"socket_timeout": 0.3})
        master = sentinel.master_for("m", socket_timeout=0.3, socket_connect_timeout=0.3)
        store = stores(client=master, timeout=0.3, max_staleness=BOUND)
        jwt, client = guarded(store)
        revoked, valid = jwt.create_access_token("mallory"), jwt.create_access_token("alice")
        jwt.revoke(revoked)
        assert master.wait(1, 2000) == 1  # replicated before the master dies
        assert client.get("/", headers=bearer(valid)).status_code == 200
        def current_master() -> tuple[str, int] | None:
            try:
                return sentinel.discover_master("m")  # type: ignore[no-any-return]
            except redis.sentinel.MasterNotFoundError:
                return None  # the sentinels have seen it fall and not yet promoted

        old = current_master()
        sentinels.master.stop()
        seen: set[int] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for token, allowed in ((revoked, {401, 503}), (valid, {200, 503})):
                started = time.monotonic()
                status = client.get("/", headers=bearer(token)).status_code
                assert time.monotonic() - started < BOUND
                assert status in allowed, (token == revoked, status)
                seen.add(status)
            if current_master() not in (old, None) and 503 in seen and \
                    client.get("/", headers=bearer(valid)).status_code == 200:
                break
            time.sleep(0.02)
        assert current_master() == ("127.0.0.1", sentinels.replica.port)
        assert client.get("/", headers=bearer(valid)).status_code == 200, "did not resume"
        assert client.get("/", headers=bearer(revoked)).status_code == 401
        late = stores(client=sentinel.master_for("m", socket_timeout=0.3))
        assert late.contains(jwt.decode_token(revoked)["jti"])
    finally:
        sentinels.close()


# -- Cluster ---------------------------------------------------------------------------

def test_cluster_revocations_over_every_master_reach_every_worker(
        stores: Callable[..., RedisBlocklist]) -> None:
    cluster = Cluster()
    try:
        def worker() -> RedisBlocklist:
            node = cluster.nodes[0]
            return stores(client=RedisCluster(host="127.0.0.1", port=node.port,
                                              socket_timeout=0.5))

        writer, reader = worker(), worker()
        assert reader.contains("warm") is False
        jtis = [f"c{i}" for i in range(60)]
        for jti in jtis:
            writer.add(jti, time.time() + 60)
        writer.revoke_all("carol", time.time(), time.time() + 60)
        per_node = [n.client().dbsize() for n in cluster.nodes]
        assert all(size > 0 for size in per_node), per_node  # spread over the three masters
        wait_until(lambda: all(reader.contains(j) for j in jtis), 2, "every slot reached")
        wait_until(lambda: reader.revoked_before("carol") is not None, 2, "watermark reached")
        direct = RedisCluster(host="127.0.0.1", port=cluster.nodes[2].port)
        direct.set(f"{PREFIX}by-hand", 1, ex=60)
        direct.delete(f"{PREFIX}c0")
        wait_until(lambda: reader.contains("by-hand") and not reader.contains("c0"), 2,
                   "operator writes on any node reach the worker")
        late = worker()
        assert late.contains("c1") and late.contains("by-hand") and not late.contains("c0")
        assert late.replica.fresh_until > time.monotonic()
    finally:
        cluster.close()


# -- revoke_all: log out everywhere ------------------------------------------------------

@pytest.fixture(params=["memory", "redis"])
def shared(request: pytest.FixtureRequest, server: RedisServer,
           stores: Callable[..., RedisBlocklist]) -> tuple[Any, Any]:
    """Two workers' stores: one MemoryBlocklist shared in-process, or two Redis replicas."""
    if request.param == "memory":
        memory = MemoryBlocklist()
        return memory, memory
    server.client().flushall()
    return stores(server.url), stores(server.url)


@pytest.mark.parametrize(("identity", "claims", "refused"), [
    pytest.param("alice", {"iat": -10}, True, id="issued-before"),
    pytest.param("alice", {"iat": +10}, False, id="issued-after"),
    pytest.param("alice", {"iat": -0.0001}, True, id="just-before"),
    pytest.param("alice", {"iat": None}, True, id="no-iat-is-refused"),
    pytest.param("bob", {"iat": -10}, False, id="other-identity"),
    pytest.param("alice", {"iat": -10, "type": "refresh"}, True, id="refresh-token-too"),
])
def test_revoke_all_refuses_older_tokens_in_every_worker(
        shared: tuple[Any, Any], identity: str, claims: dict[str, Any], refused: bool) -> None:
    here, there = shared
    issuer = JWTManager(secret_key=SECRET, blocklist=here)
    checker, client = guarded(there)
    now = time.time()
    before = now - 20  # iat offsets are from here, so that none is in the future
    assert issuer.revoke_all("alice", before=before) == before
    body = {"sub": identity, "jti": "j-" + identity, "type": "access", "fresh": False,
            "exp": int(now) + 600}
    if claims["iat"] is not None:
        body["iat"] = before + claims["iat"]
    body["type"] = claims.get("type", "access")
    token = issuer.codec.encode(body)
    path_client = client if body["type"] == "access" else Client(
        JWTMiddleware(Recorder(), checker, routes={"/": "refresh"}))

    def answer() -> int:
        return int(path_client.get("/", headers=bearer(token)).status_code)

    expected = 401 if refused else 200
    wait_until(lambda: answer() == expected, 2, f"answer {expected}")
    if refused:
        assert path_client.get("/", headers=bearer(token)).json == {"msg": "Token has been revoked"}


def test_revoke_all_watermarks_only_move_forward(server: RedisServer, raw: redis.Redis,
                                                 stores: Callable[..., RedisBlocklist]) -> None:
    jwt = JWTManager(secret_key=SECRET, blocklist=stores(server.url))
    earlier = time.time() - 100
    jwt.revoke_all("dave", before=earlier)
    jwt.revoke_all("dave", before=earlier - 50)  # an older call arriving late changes nothing
    assert float(raw.get("jwt_wsgi:revoked-before:dave")) == earlier
    now = jwt.revoke_all("dave")
    assert 30 * 86400 - 5 < raw.ttl("jwt_wsgi:revoked-before:dave") <= 30 * 86400
    assert float(raw.get("jwt_wsgi:revoked-before:dave")) == now


def test_revoke_all_needs_a_store_that_has_it() -> None:
    class Plain:
        def add(self, jti: str, expires_at: float | None) -> None: ...
        def contains(self, jti: str) -> bool:
            return False

    with pytest.raises(TypeError, match="revoke_all"):
        JWTManager(secret_key=SECRET, blocklist=Plain()).revoke_all("alice")


def test_the_python_blocks_of_the_revocation_page_run() -> None:
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "guide" / "revocation.rst"
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", page.read_text())
    assert len(blocks) == 3
    for block in blocks:
        exec(compile("\n".join(line[4:] for line in block.splitlines()), str(page), "exec"), {})
