"""Forward auth cost: nginx with auth_request to jwt_wsgi against nginx alone, with wrk.

Three numbers:

1. the auth service's own time for one answer (a cached token, a protected route), in
   process, with no network: ``ForwardAuth.__call__`` timed over many calls;
2. requests per second and mean latency of nginx alone (proxying to an upstream that
   answers at once: a second nginx with ``return 200``);
3. the same through ``examples/forward_auth/nginx.conf`` (auth_request to jwt_wsgi served by
   gunicorn), with a valid token in every request.

::

    apt-get install nginx wrk; pip install gunicorn
    python benchmarks/forward_auth.py --duration 3

On a machine with few cores, wrk, nginx and the workers share them: compare the two rows,
not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.proxies import EXAMPLES, _process, nginx  # noqa: E402
from tests.harness.servers import free_port  # noqa: E402

SECRET = "forward-auth-benchmark-" + "x" * 32
APP = "benchmarks.forward_auth:application"
UPSTREAM_CONF = """worker_processes 1;
error_log logs/error.log warn;
events { worker_connections 1024; }
http { access_log off;
  server { listen 127.0.0.1:PORT; location / { return 200 "ok"; } } }
"""
ALONE_CONF = """worker_processes 1;
error_log logs/error.log warn;
events { worker_connections 1024; }
http { access_log off; proxy_temp_path tmp/proxy; client_body_temp_path tmp/client_body;
  upstream app { server 127.0.0.1:9001; keepalive 16; }
  server { listen 127.0.0.1:8000;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; }
  } }
"""


def application_factory():  # type: ignore[no-untyped-def]
    from jwt_wsgi.config import load_config

    os.environ.setdefault("JWT_SECRET_KEY", SECRET)
    return load_config(EXAMPLES / "jwt.toml").forward_auth_app()


application = application_factory() if os.environ.get("JWT_FA_BENCH") else None


def own_time(calls: int) -> float:
    """Microseconds per ForwardAuth answer for a cached token, in process."""
    os.environ.setdefault("JWT_SECRET_KEY", SECRET)
    app = application_factory()
    token = app.middleware.manager.create_access_token("alice")
    environ_base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/_jwt_auth", "QUERY_STRING": "",
                    "REMOTE_ADDR": "127.0.0.1", "HTTP_X_ORIGINAL_METHOD": "GET",
                    "HTTP_X_ORIGINAL_URI": "/api/orders?page=2",
                    "HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.url_scheme": "http"}
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    app(dict(environ_base), start_response)  # warm the cache
    assert statuses == ["200 OK"], statuses
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            app(dict(environ_base), start_response)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


@contextlib.contextmanager
def raw_nginx(text: str) -> Iterator[int]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jwt-bench-") as tmp:
        prefix = Path(tmp)
        (prefix / "logs").mkdir()
        (prefix / "tmp").mkdir(mode=0o777)
        conf = prefix / "nginx.conf"
        conf.write_text(text.replace("PORT", str(port)))
        argv = ["nginx", "-p", tmp, "-e", str(prefix / "logs" / "error.log"), "-c", str(conf),
                "-g", f"daemon off; pid {prefix / 'nginx.pid'};"]
        with _process(argv, port, log=prefix / "logs" / "error.log"):
            yield port


@contextlib.contextmanager
def gunicorn(workers: int) -> Iterator[int]:
    port = free_port()
    env = dict(os.environ, JWT_FA_BENCH="1", JWT_SECRET_KEY=SECRET,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
            f"127.0.0.1:{port}", "--log-level", "warning", APP]
    with _process(argv, port, env):
        yield port


def wrk(port: int, duration: float, token: str) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{duration:g}s", "-H", f"Authorization: Bearer {token}",
         f"http://127.0.0.1:{port}/api/orders"], capture_output=True, text=True,
        timeout=duration + 30, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw refusals:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rate, latency


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of wrk per row")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--calls", type=int, default=20000, help="in-process calls per round")
    args = parser.parse_args(argv)
    micros = own_time(args.calls)
    print(f"auth service own time, cached token: {micros:.1f} us per answer")
    os.environ.setdefault("JWT_SECRET_KEY", SECRET)
    token = application_factory().middleware.manager.create_access_token("alice")
    with raw_nginx(UPSTREAM_CONF) as up_port, gunicorn(args.workers) as auth_port:
        alone_conf = ALONE_CONF.replace("127.0.0.1:9001", f"127.0.0.1:{up_port}")
        with raw_nginx(alone_conf.replace("127.0.0.1:8000", "127.0.0.1:PORT")) as alone:
            rate_alone, latency_alone = wrk(alone, args.duration, token)
        with nginx(auth_port, up_port) as guarded:
            rate_auth, latency_auth = wrk(guarded, args.duration, token)
    print(f"{'case':<32} {'req/s':>10} {'mean latency':>14}")
    print(f"{'nginx alone':<32} {rate_alone:>10.0f} {latency_alone:>14}")
    print(f"{'nginx + jwt_wsgi forward auth':<32} {rate_auth:>10.0f} {latency_auth:>14}")
    print(f"ratio: {rate_auth / rate_alone:.2f} of nginx alone")
    goal = "MET" if micros < 1000 else "NOT MET"
    print(f"{goal} auth answer under 1 ms of its own time ({micros:.1f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
