"""Where each microsecond goes: the stages of the requests whose goals are not met yet.

``overhead.py`` prints this table after its goals. Each stage is one step of the request
path, called on its own on the same inputs the request would give it (fresh paths and
tokens where the request has them), timed in batches, interleaved with the others over
the rounds, and shown as the median minus the cost of calling an empty function on the
same inputs. A request is more than its stages (frames, attribute reads, the hand-over
between steps): the last line of each group shows that rest, the measured request minus
the stages.

This reads the middleware's parts directly, private ones included: it is a map of the
request path for whoever wants to make it faster, and ``tests/test_benchmarks.py`` runs it,
so a renamed part breaks the test, not the map.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Environ = dict[str, Any]


@dataclass
class Stage:
    """One step, called as ``step(item)`` over items from ``items`` (a fresh one each call)."""

    group: str
    name: str
    step: Callable[[Any], object]
    items: Iterator[Any]
    samples: list[float] = field(default_factory=list)
    empty: list[float] = field(default_factory=list)

    def timed(self, batch: int) -> None:
        inputs = [next(self.items) for _ in range(batch)]
        step = self.step
        gc.disable()
        try:
            begin = time.perf_counter()
            for item in inputs:
                step(item)
            middle = time.perf_counter()
            for item in inputs:
                _empty(item)
            end = time.perf_counter()
        finally:
            gc.enable()
        self.samples.append((middle - begin) / batch)
        self.empty.append((end - middle) / batch)

    @property
    def cost(self) -> float:
        return max(0.0, statistics.median(self.samples) - statistics.median(self.empty))


def _empty(item: Any) -> None:
    return None


def same(value: Any) -> Iterator[Any]:
    return itertools.repeat(value)


def build(environ_for: Callable[..., Environ], routes: Callable[[int], dict[str, Any]],
          secret: str, fresh: int) -> list[Stage]:
    """The stages of a cached request, a cold one and one on a path never seen before."""
    import datetime

    from jwt_wsgi import JWTManager, JWTMiddleware
    from jwt_wsgi.readings import is_plain
    from jwt_wsgi.tokens import b64decode, parse_json_object

    def app(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    expiry = datetime.timedelta(hours=2)
    cached = JWTManager(secret_key=secret, access_token_expires=expiry)
    middleware = JWTMiddleware(app, cached, routes=routes(10))
    token = cached.create_access_token("alice")
    environ = environ_for("/api/v1/me", token)
    for _ in range(3):  # the third request leaves the verdict
        list(middleware(dict(environ), lambda *args: None))
    policy = middleware.routes.resolve("GET", "/api/v1/me")
    locations = policy.locations or middleware._locations
    header, claims = cached.verify(token)
    probe = cached.revocation_probe(claims)
    verdicts = middleware.verdicts
    found = middleware._find(environ, locations, False)
    assert verdicts.recall(found, policy) is not None, "no verdict to time"

    def set_environ(env: Environ) -> None:
        env["jwt_wsgi.claims"] = claims
        env["jwt_wsgi.header"] = header
        env["jwt_wsgi.identity"] = "alice"
        env["jwt_wsgi.location"] = "headers"
        env["REMOTE_USER"] = "alice"

    hit = "cached HS256 request"
    stages = [
        Stage(hit, "token from the Authorization header (memo)",
              lambda env: middleware._find(env, locations, False), same(environ)),
        Stage(hit, "verdict recall, all of it", lambda f: verdicts.recall(f, policy),
              same(found)),
        Stage(hit, "  of which the clock", lambda t: cached.clock(), same(token)),
        Stage(hit, "  of which revocation (jti, watermark)",
              lambda t: cached.is_revoked(probe, header, claims), same(token)),
        Stage(hit, "  of which copies of header and claims",
              lambda t: (header.copy(), claims.copy()), same(token)),
        Stage(hit, "claims into the environ", set_environ, (dict(environ) for _ in
                                                            itertools.count())),
    ]

    tokens = (cached.create_access_token("alice") for _ in range(fresh))
    minted = [next(tokens) for _ in range(min(fresh, 4000))]
    parts = [t.split(".") for t in minted]
    state, codec = cached.key_state, cached.codec
    cache = cached.token_cache
    assert cache is not None
    context = (state.keys, state.keys.generation, cached._validation)
    decoded = [(parse_json_object(b64decode(h)), parse_json_object(b64decode(p)),
                (h + "." + p).encode(), b64decode(s)) for h, p, s in parts]
    verifier = codec._check_header(decoded[0][0])
    new = "HS256 request, token never seen"
    cycle = itertools.cycle
    stages += [
        Stage(new, "token from the Authorization header (a new value)",
              lambda env: middleware._find(env, locations, False),
              (dict(environ, HTTP_AUTHORIZATION=f"Bearer {t}") for t in cycle(minted))),
        Stage(new, "token cache: the miss, and the admission's set",
              lambda t: (cache.get(t, context), cache.put(t, context, {}, {})),
              (f"{t}{i}" for i, t in enumerate(cycle(minted)))),
        Stage(new, "verify: signature and every static rule", state.verify, cycle(minted)),
        Stage(new, "  of which split, ASCII, three parts",
              lambda t: (t.split("."), t.isascii()), cycle(minted)),
        Stage(new, "  of which base64url, three segments",
              lambda p: (b64decode(p[0]), b64decode(p[1]), b64decode(p[2])), cycle(parts)),
        Stage(new, "  of which JSON (with base64url again)",
              lambda p: (parse_json_object(b64decode(p[0])),
                         parse_json_object(b64decode(p[1]))), cycle(parts)),
        Stage(new, "  of which header rules and key lookup",
              lambda d: codec._check_header(d[0]), cycle(decoded)),
        Stage(new, "  of which HMAC-SHA256 and compare",
              lambda d: verifier.verify(d[2], d[3]), cycle(decoded)),
        Stage(new, "  of which claim rules", lambda d: codec._check_claims(d[1]),
              cycle(decoded)),
        Stage(new, "clock rules (exp, nbf, iat)", lambda d: codec.check_times(d[1]),
              cycle(decoded)),
        Stage(new, "revocation (jti, watermark)", lambda d: cached.check_revoked(d[0], d[1]),
              cycle(decoded)),
        Stage(new, "route policy", lambda d: policy.check(d[1], 0.0, None), cycle(decoded)),
    ]

    table = middleware.routes
    paths = (f"/api/v1/other/{i}" for i in itertools.count())
    fresh_paths = (f"/api/v1/other/n{i}" for i in itertools.count())
    unseen = "public request, path never seen"
    stages += [
        Stage(unseen, "route table, all of it (memo miss, match, memo store)",
              lambda p: table.resolve("GET", p), fresh_paths),
        Stage(unseen, "  of which the memo miss", lambda p: table.memo.get(("GET", p)),
              (f"/api/v1/miss/{i}" for i in itertools.count())),
        Stage(unseen, "  of which the canonical-path test", is_plain, paths),
        Stage(unseen, "  of which the tree walk", lambda p: table._settled("GET", p),
              (f"/api/v1/walk/{i}" for i in itertools.count())),
    ]
    return stages


def run(stages: list[Stage], rounds: int, batch: int) -> None:
    for round_ in range(rounds):
        for stage in stages if round_ % 2 == 0 else reversed(stages):
            stage.timed(batch)


def report(stages: list[Stage], floor_us: float,
           measured_us: dict[str, tuple[float, float]], frame_us: float) -> list[dict[str, Any]]:
    """Print the table; ``measured_us`` is each group's request as the main table measured
    it (added cost) and the floor it is compared with, ``frame_us`` what every request pays
    before any of its own steps (the public path's added cost)."""
    rows: list[dict[str, Any]] = []
    print("\nWhere the time goes: each stage alone, in us per call (median, the cost of an "
          "empty call taken off)")
    for group in dict.fromkeys(stage.group for stage in stages):
        members = [stage for stage in stages if stage.group == group]
        measured, its_floor = measured_us.get(group, (None, floor_us))
        title = f"{group}: {measured:.2f} us added, {measured / its_floor:.2f}x its floor" \
            if measured is not None else group
        print(f"\n  {title}")
        print(f"    {'stage':52s} {'us':>7s} {'x floor':>8s}")
        counted = frame_us
        print(f"    {'request frame (what a public path costs)':52s} {frame_us:7.2f} "
              f"{frame_us / floor_us:7.2f}x")
        for stage in members:
            cost = stage.cost * 1e6
            if not stage.name.startswith("  "):
                counted += cost
            rows.append({"group": group, "stage": stage.name.strip(), "us": cost})
            print(f"    {stage.name:52s} {cost:7.2f} {cost / floor_us:7.2f}x")
        if measured is not None:
            rest = measured - counted
            rows.append({"group": group, "stage": "rest", "us": rest})
            print(f"    {'the rest (calls between stages, frames)':52s} {rest:7.2f} "
                  f"{rest / floor_us:7.2f}x")
    return rows
