"""Throughput over HTTP: one endpoint under gunicorn, protected by jwt_wsgi and not.

gunicorn (2 sync workers by default) serves each app of benchmarks/http_app.py on its own
127.0.0.1 port; wrk loads one at a time, for a bounded time, with a valid token in every
request. The apps take turns round after round; each round gives a ratio to the
unprotected app, and the median ratio is reported::

    apt-get install wrk; pip install gunicorn
    python benchmarks/http_throughput.py                  # 15 rounds of 3 s per app
    python benchmarks/http_throughput.py --duration 1 --rounds 1

On a machine with few cores, wrk and the workers share them: the ratio between the
apps is what this measures, not the server's best throughput.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "http-benchmark-secret-" + "x" * 32
APPS = ("unprotected", "protected", "protected_no_cache")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not listen on port {port} within {timeout} s")


def serve(app: str, workers: int, worker_class: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, JWT_BENCH_SECRET=SECRET,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class",
         worker_class, "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         f"benchmarks.http_app:{app}"],
        env=env, cwd=ROOT)
    wait_for(port, process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load(port: int, token: str, duration: int, connections: int) -> float:
    """Requests per second that wrk measured; refuses a run with any non-2xx answer."""
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s",
         "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}/api/items"],
        capture_output=True, text=True, timeout=duration + 60, check=True)
    if "Non-2xx" in result.stdout or ("Socket errors" in result.stdout and re.search(
            r"(read|write|timeout) [1-9]", result.stdout)):
        raise SystemExit("wrk saw failed requests:\n" + result.stdout)
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise SystemExit("no Requests/sec in wrk output:\n" + result.stdout)
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=15, help="runs per app, interleaved")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (or your system's package)")
    sys.path.insert(0, str(ROOT))
    from jwt_wsgi import JWTManager

    token = JWTManager(secret_key=SECRET).create_access_token("bench")
    results: dict[str, list[float]] = {app: [] for app in APPS}
    servers = {}
    try:
        for app in APPS:
            servers[app] = serve(app, args.workers, args.worker_class)
        for app in APPS:
            load(servers[app][1], token, 1, args.connections)  # warm the workers up
        # Short runs taking turns (the order flips every round): a machine whose speed
        # drifts slows every app alike, and each round gives one ratio.
        for round_ in range(args.rounds):
            for app in APPS if round_ % 2 == 0 else tuple(reversed(APPS)):
                results[app].append(load(servers[app][1], token, args.duration,
                                         args.connections))
    finally:
        for process, _port in servers.values():
            stop(process)
    print(f"gunicorn {args.workers} {args.worker_class} workers on 127.0.0.1, wrk "
          f"{args.connections} connections, {args.rounds} x {args.duration} s per app; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    base = results["unprotected"]
    print(f"{'app':22s} {'median req/s':>12s} {'ratio':>7s}   runs (req/s)")
    for app in APPS:
        ratios = [r / b for r, b in zip(results[app], base, strict=True)]
        runs = ", ".join(f"{r:.0f}" for r in results[app])
        print(f"{app:22s} {statistics.median(results[app]):12.0f} "
              f"{statistics.median(ratios):7.1%}   {runs}")
    kept = statistics.median(r / b for r, b in zip(results["protected"], base, strict=True))
    print("\nratio: the median, over the rounds, of the app's req/s over the unprotected "
          "req/s of the same round")
    print(f"{'MET    ' if kept >= 0.95 else 'NOT MET'}  protected keeps >= 95% of the "
          f"unprotected throughput: {kept:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
