"""What jwt_wsgi adds to a request, next to a pure-Python floor and flask-jwt-extended.

Every case is one WSGI request made in this process (no server, no sockets), timed
in batches; the cases take turns round after round, so that a busy machine slows
all of them alike, and the table shows the median of the rounds. "Added" is the time
a case takes minus the same request without protection (the bare app, or the bare
Flask app for the Flask cases); the ratios compare added costs.

Run it from a checkout (``pip install flask flask-jwt-extended`` first)::

    python benchmarks/overhead.py            # about a minute
    python benchmarks/overhead.py --quick    # a few seconds, rough numbers
    python benchmarks/overhead.py --chart docs/overhead.png   # needs: pip install matplotlib
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gc
import hashlib
import hmac
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-" + "x" * 32
Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


# -- the apps being timed --------------------------------------------------------------

def bare_app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


class PassThrough:
    """The least any middleware costs: one more call."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.app(environ, start_response)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class FloorHS256:
    """The pure-Python floor: what any HS256 check in Python must at least do.

    Split, base64url-decode header and payload, two ``json.loads``, ``hmac`` and
    ``compare_digest``, integer ``exp``/``nbf`` checks. No strictness beyond that.
    """

    def __init__(self, app: WSGIApp, secret: str) -> None:
        self.app = app
        self.key = secret.encode()

    def verify(self, token: str) -> dict[str, Any] | None:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        claims: dict[str, Any] = json.loads(_b64decode(payload_b64))
        expected = hmac.new(self.key, f"{header_b64}.{payload_b64}".encode(),
                            hashlib.sha256).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(
                expected, _b64decode(signature_b64)):
            return None
        now = int(time.time())
        if claims.get("exp", now + 1) <= now or claims.get("nbf", 0) > now:
            return None
        return claims

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        claims = self.verify(auth[7:]) if auth.startswith("Bearer ") else None
        if claims is None:
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"msg":"Unauthorized"}']
        environ["claims"] = claims
        return self.app(environ, start_response)


# -- cases -----------------------------------------------------------------------------

@dataclass
class Case:
    """One kind of request: an app and the environ it gets (or a fresh one each call)."""

    name: str
    app: WSGIApp
    environ: Environ | None = None
    environs: Iterator[Environ] | None = None
    baseline: str = "bare app"
    group: str = "wsgi"
    samples: list[float] = field(default_factory=list)
    batch: int = 1

    def call(self) -> tuple[str, bytes]:
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(line)
            return None

        environ = next(self.environs) if self.environs is not None else dict(self.environ or {})
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return status[0], body

    def timed_batch(self) -> float:
        """Seconds per request over one batch."""
        app, start = self.app, _start_response
        if self.environs is not None:
            envs = [next(self.environs) for _ in range(self.batch)]
        else:
            base = self.environ or {}
            envs = [dict(base) for _ in range(self.batch)]
        begin = time.perf_counter()
        for environ in envs:
            result = app(environ, start)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return (time.perf_counter() - begin) / self.batch

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def environ_for(path: str, token: str | None = None) -> Environ:
    from werkzeug.test import EnvironBuilder

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    environ: Environ = EnvironBuilder(path=path, headers=headers).get_environ()
    return environ


def routes(count: int) -> dict[str, Any]:
    """A route table of ``count`` protected API rules, like a real app's, plus a health check."""
    table: dict[str, Any] = {}
    for i in range(count):
        kind = i % 4
        if kind == 0:
            table[f"/api/v1/res{i}/<int:item_id>"] = "required"
        elif kind == 1:
            table[f"POST,DELETE /api/v1/res{i}/*"] = "fresh"
        elif kind == 2:
            table[f"/api/v1/res{i}"] = {"require": "required", "scopes": [f"res{i}:read"]}
        else:
            table[f"/admin/section{i}/*"] = "required"
    table["/api/v1/me"] = "required"
    table["/health"] = "public"
    return table


def _key_pems() -> dict[str, tuple[bytes, Any]]:
    """RS256 and ES256 private PEMs, and the public keys a floor would use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    out = {}
    for alg, key in (("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                     ("ES256", ec.generate_private_key(ec.SECP256R1()))):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        out[alg] = (pem, key.public_key())
    return out


def token_stream(mint: Callable[[], str], path: str, count: int) -> Iterator[Environ]:
    """Environs each carrying a token never seen before (minted ahead of the timing)."""
    base = environ_for(path)
    tokens = [mint() for _ in range(count)]
    return (dict(base, HTTP_AUTHORIZATION=f"Bearer {token}") for token in tokens)


def path_stream(path: str, count: int) -> Iterator[Environ]:
    """Environs for ``count`` different paths, round and round: more than the route memo
    keeps, so every request goes through the matcher."""
    base = environ_for(path)
    environs = [dict(base, PATH_INFO=f"{path}/{i}") for i in range(count)]
    return (dict(environ) for environ in itertools.cycle(environs))


def build_cases(rounds: int, stream_batch: int) -> list[Case]:
    from jwt_wsgi import JWTManager, JWTMiddleware

    cases: list[Case] = []
    expiry = datetime.timedelta(hours=2)
    cold = JWTManager(secret_key=SECRET, token_cache_size=0, access_token_expires=expiry)
    cached = JWTManager(secret_key=SECRET, access_token_expires=expiry)
    token = cold.create_access_token("alice")
    rules10, rules1000 = routes(10), routes(1000)

    cases.append(Case("bare app", bare_app, environ_for("/api/v1/me", token)))
    cases.append(Case("pass-through middleware", PassThrough(bare_app),
                      environ_for("/api/v1/me", token)))
    cases.append(Case("pure-Python HS256 floor", FloorHS256(bare_app, SECRET),
                      environ_for("/api/v1/me", token)))
    fresh_count = rounds * stream_batch + 50  # + calibration and the check
    cases.append(Case("pure-Python HS256 floor, new tokens", FloorHS256(bare_app, SECRET),
                      environs=token_stream(lambda: cold.create_access_token("alice"),
                                            "/api/v1/me", fresh_count)))
    mw10 = JWTMiddleware(bare_app, cached, routes=rules10)
    mw1000 = JWTMiddleware(bare_app, cached, routes=rules1000)
    cases.append(Case("jwt_wsgi public path", mw10, environ_for("/health")))
    cases.append(Case("jwt_wsgi unmatched, 10 rules", mw10, environ_for("/api/v1/other/7")))
    cases.append(Case("jwt_wsgi unmatched, 1000 rules", mw1000,
                      environ_for("/api/v1/other/7")))
    import jwt_wsgi.routes

    paths = max(1000, 2 * getattr(jwt_wsgi.routes, "MEMO_SIZE", 0))
    cases.append(Case("jwt_wsgi unmatched, 10 rules, new paths", mw10,
                      environs=path_stream("/api/v1/other", paths)))
    cases.append(Case("jwt_wsgi unmatched, 1000 rules, new paths", mw1000,
                      environs=path_stream("/api/v1/other", paths)))
    cases.append(Case("jwt_wsgi HS256 cold (cache off)",
                      JWTMiddleware(bare_app, cold, routes=rules10),
                      environ_for("/api/v1/me", token)))
    cases.append(Case("jwt_wsgi HS256 cold (new tokens)", mw10,
                      environs=token_stream(lambda: cached.create_access_token("alice"),
                                            "/api/v1/me", fresh_count)))
    cases.append(Case("jwt_wsgi HS256 cached", mw10, environ_for("/api/v1/me", token)))
    cases.append(Case("jwt_wsgi HS256 cached, 1000 rules", mw1000,
                      environ_for("/api/v1/me", token)))

    for alg, (pem, _public) in _key_pems().items():
        signer = JWTManager(algorithm=alg, private_key=pem, token_cache_size=0,
                            access_token_expires=expiry)
        signed = signer.create_access_token("alice")
        with_cache = JWTManager(algorithm=alg, private_key=pem, access_token_expires=expiry)
        cases.append(Case(f"jwt_wsgi {alg} cold (cache off)",
                          JWTMiddleware(bare_app, signer, routes=rules10),
                          environ_for("/api/v1/me", signed)))
        cases.append(Case(f"jwt_wsgi {alg} cached",
                          JWTMiddleware(bare_app, with_cache, routes=rules10),
                          environ_for("/api/v1/me", signed)))

    cases.extend(flask_cases(token, cached, cold))
    return cases


def flask_cases(token: str, cached: Any, cold: Any) -> list[Case]:
    """Bare Flask, flask-jwt-extended, and Flask behind jwt_wsgi: same view, same token."""
    try:
        import flask
        import flask_jwt_extended
    except ImportError:
        print("(Flask cases skipped: pip install flask flask-jwt-extended)", file=sys.stderr)
        return []
    from jwt_wsgi import JWTMiddleware

    def make_app() -> Any:
        app = flask.Flask("bench")
        app.config.update(JWT_SECRET_KEY=SECRET, JWT_ALGORITHM="HS256")

        @app.get("/open")
        def open_view() -> str:
            return "ok"

        return app

    bare = make_app()
    fje = make_app()
    flask_jwt_extended.JWTManager(fje)

    @fje.get("/protected")
    @flask_jwt_extended.jwt_required()
    def fje_view() -> str:
        return "ok"

    def behind(manager: Any) -> Any:
        app = make_app()
        app.add_url_rule("/protected", "protected", lambda: "ok")
        app.wsgi_app = JWTMiddleware(app.wsgi_app, manager,  # type: ignore[method-assign]
                                     routes={"/protected": "required"})
        return app

    floor = make_app()
    floor.add_url_rule("/protected", "protected", lambda: "ok")
    floor.wsgi_app = FloorHS256(floor.wsgi_app, SECRET)  # type: ignore[method-assign]
    flask_case = {"baseline": "Flask bare", "group": "flask"}
    return [
        Case("Flask bare", bare, environ_for("/open", token), **flask_case),
        Case("Flask + flask-jwt-extended", fje, environ_for("/protected", token), **flask_case),
        Case("Flask + pure-Python floor", floor, environ_for("/protected", token),
             **flask_case),
        Case("Flask + jwt_wsgi cold (cache off)", behind(cold),
             environ_for("/protected", token), **flask_case),
        Case("Flask + jwt_wsgi cached", behind(cached), environ_for("/protected", token),
             **flask_case),
    ]


# -- running ---------------------------------------------------------------------------

def check(cases: list[Case]) -> None:
    """Every case must really answer 200: a benchmark of refusals would be meaningless."""
    for case in cases:
        status, body = case.call()
        if not status.startswith("200"):
            raise SystemExit(f"{case.name}: expected 200, got {status} {body[:200]!r}")


def calibrate(cases: list[Case], target: float, stream_batch: int) -> None:
    """Size each case's batch to take about ``target`` seconds."""
    for case in cases:
        case.batch = max(5, int(target / max(_probe(case), 1e-7)))
        if case.environs is not None:
            case.batch = min(case.batch, stream_batch)


def _probe(case: Case) -> float:
    begin = time.perf_counter()
    for _ in range(20):
        case.call()
    return (time.perf_counter() - begin) / 20


def run(cases: list[Case], rounds: int, target: float, stream_batch: int) -> None:
    calibrate(cases, target, stream_batch)
    gc_was = gc.isenabled()
    try:
        for round_ in range(rounds):
            order = cases if round_ % 2 == 0 else list(reversed(cases))
            for case in order:
                gc.collect()
                gc.disable()
                try:
                    case.samples.append(case.timed_batch())
                finally:
                    if gc_was:
                        gc.enable()
    finally:
        if gc_was:
            gc.enable()


def report(cases: list[Case]) -> dict[str, Any]:
    by_name = {case.name: case for case in cases}
    floor = by_name["pure-Python HS256 floor"].median - by_name["bare app"].median
    fje = by_name.get("Flask + flask-jwt-extended")
    fje_added = fje.median - by_name["Flask bare"].median if fje else None
    rows = []
    print(f"{'case':40s} {'median':>10s} {'added':>10s} {'x floor':>8s} {'FJE / it':>9s}")
    for case in cases:
        base = by_name[case.baseline].median
        added = case.median - base
        ratio = added / floor if case.baseline != case.name else None
        vs_fje = fje_added / added if fje_added and added > 0 and case.name != fje.name \
            and case.baseline != case.name else None  # type: ignore[union-attr]
        rows.append({"case": case.name, "median_us": case.median * 1e6,
                     "added_us": added * 1e6, "x_floor": ratio, "fje_over": vs_fje})
        print(f"{case.name:40s} {case.median * 1e6:8.2f}us {added * 1e6:8.2f}us "
              f"{'' if ratio is None else f'{ratio:7.2f}x'} "
              f"{'' if vs_fje is None else f'{vs_fje:8.1f}x'}")
    return {"floor_added_us": floor * 1e6, "rows": rows,
            "fje_added_us": None if fje_added is None else fje_added * 1e6}


def goals(result: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The goals of the performance work, each with what this run measured."""
    rows = {row["case"]: row for row in result["rows"]}

    def x(name: str) -> float:
        return float(rows[name]["x_floor"])

    def added(name: str) -> float:
        return float(rows[name]["added_us"])

    cold = x("jwt_wsgi HS256 cold (cache off)")
    new_tokens = added("jwt_wsgi HS256 cold (new tokens)") / added(
        "pure-Python HS256 floor, new tokens")
    small = added("jwt_wsgi unmatched, 10 rules, new paths")
    large = added("jwt_wsgi unmatched, 1000 rules, new paths")
    growth = large / small if small > 0 else float("inf")
    out = [
        ("cold protected request <= 1.3x floor", cold <= 1.3 and new_tokens <= 1.3,
         f"same token, cache off {cold:.2f}x; new tokens, cache on {new_tokens:.2f}x "
         "the floor on new tokens"),
        ("cached protected request <= 0.15x floor", x("jwt_wsgi HS256 cached") <= 0.15,
         f"{x('jwt_wsgi HS256 cached'):.2f}x"),
        ("public path <= 0.1x floor", x("jwt_wsgi public path") <= 0.1,
         f"{x('jwt_wsgi public path'):.2f}x"),
        ("unmatched path <= 0.1x floor", max(x("jwt_wsgi unmatched, 1000 rules, new paths"),
                                             x("jwt_wsgi unmatched, 1000 rules")) <= 0.1,
         f"repeated path {x('jwt_wsgi unmatched, 10 rules'):.2f}x (10 rules) / "
         f"{x('jwt_wsgi unmatched, 1000 rules'):.2f}x (1000); new paths "
         f"{x('jwt_wsgi unmatched, 10 rules, new paths'):.2f}x / "
         f"{x('jwt_wsgi unmatched, 1000 rules, new paths'):.2f}x"),
        ("unmatched: 1000 rules cost <= 2x 10 rules", growth <= 2,
         f"{growth:.2f}x (new paths, so the matcher runs every time)"),
    ]
    if "Flask + flask-jwt-extended" in rows:
        fje = added("Flask + flask-jwt-extended")
        ours = added("jwt_wsgi HS256 cold (cache off)")
        flask_ours = added("Flask + jwt_wsgi cold (cache off)")
        flask_cached = added("Flask + jwt_wsgi cached")
        flask_floor = added("Flask + pure-Python floor")
        out.append(("flask-jwt-extended adds >= 10x more than jwt_wsgi",
                    fje / ours >= 10 and fje / flask_ours >= 10,
                    f"cold: {fje / ours:.1f}x as plain WSGI, {fje / flask_ours:.1f}x inside "
                    f"Flask (the floor inside Flask: {fje / flask_floor:.1f}x); cached "
                    f"inside Flask: {fje / flask_cached:.1f}x"))
    return out


def stage_table(result: dict[str, Any], rounds: int, batch: int) -> list[dict[str, Any]]:
    """Where each microsecond of the requests with goals goes (see stages.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import stages

    rows = {row["case"]: row for row in result["rows"]}

    def added(name: str) -> float:
        return float(rows[name]["added_us"])

    table = stages.build(environ_for, routes, SECRET, fresh=rounds * batch + 100)
    stages.run(table, rounds, max(50, batch // 4))
    floor = result["floor_added_us"]
    measured = {
        "cached HS256 request": (added("jwt_wsgi HS256 cached"), floor),
        "HS256 request, token never seen": (added("jwt_wsgi HS256 cold (new tokens)"),
                                            added("pure-Python HS256 floor, new tokens")),
        "public request, path never seen": (added("jwt_wsgi unmatched, 10 rules, new paths"),
                                            floor)}
    return stages.report(table, floor, measured,
                         added("jwt_wsgi public path"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("python-jose", "cryptography", "werkzeug", "webob", "flask",
                 "flask-jwt-extended", "pyjwt"):
        try:
            from importlib.metadata import version

            versions.append(f"{dist} {version(dist)}")
        except Exception:
            continue
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, load {load:.2f}; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}; " + ", ".join(versions))


def chart(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--chart needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {row["case"]: row for row in result["rows"]}

    def added(name: str) -> float:
        return float(rows[name]["added_us"]) if name in rows else 0.0

    labels = ["pure-Python\nHS256 floor", "jwt_wsgi\ncold", "jwt_wsgi\ncached",
              "flask-jwt-\nextended"]
    plain = [result["floor_added_us"], added("jwt_wsgi HS256 cold (cache off)"),
             added("jwt_wsgi HS256 cached"), 0.0]
    in_flask = [added("Flask + pure-Python floor"), added("Flask + jwt_wsgi cold (cache off)"),
                added("Flask + jwt_wsgi cached"), added("Flask + flask-jwt-extended")]
    fig, ax = plt.subplots(figsize=(7.5, 4), dpi=110)
    width = 0.38
    for offset, values, label, color in ((-width / 2, plain, "plain WSGI app", "#1f77b4"),
                                         (width / 2, in_flask, "inside Flask", "#ff7f0e")):
        xs = [i + offset for i in range(len(labels))]
        ax.bar(xs, values, width, label=label, color=color)
        for x, value in zip(xs, values, strict=True):
            if value > 0:
                ax.annotate(f"{value:.0f}", (x, value), ha="center", va="bottom", fontsize=8,
                            xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("added cost per request (us, median)")
    ax.set_title("What checking an HS256 token adds to one WSGI request")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"chart written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few short rounds (rough numbers)")
    parser.add_argument("--rounds", type=int, help="rounds of interleaved batches")
    parser.add_argument("--chart", type=Path, help="write a PNG chart here (needs matplotlib)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="the checkout whose jwt_wsgi to time (default: this one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.source.resolve()))
    import jwt_wsgi

    rounds = args.rounds or (3 if args.quick else 25)
    target = 0.002 if args.quick else 0.03
    print(f"jwt_wsgi from {Path(jwt_wsgi.__file__).parent}")
    print(f"machine: {machine()}")
    stream_batch = 200 if args.quick else 2000
    cases = build_cases(rounds, stream_batch)
    check(cases)
    run(cases, rounds, target, stream_batch)
    print(f"{rounds} interleaved rounds; median time per request; added = minus the same "
          "request unprotected")
    result = report(cases)
    result["machine"] = machine()
    result["goals"] = []
    print()
    for goal, met, detail in goals(result):
        result["goals"].append({"goal": goal, "met": met, "measured": detail})
        print(f"{'MET    ' if met else 'NOT MET'}  {goal}: {detail}")
    result["stages"] = stage_table(result, rounds, stream_batch)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.chart:
        chart(result, args.chart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
