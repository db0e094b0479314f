"""What one long request path costs the router: the worst tables and paths we could build.

Each case sends one long PATH_INFO through a :class:`~jwt_wsgi.JWTMiddleware` with no token
and reports its CPU time. By default the paths are 8 KiB, the longest the middleware reads
(``max_path_size``; nginx and Apache refuse longer request lines); ``--size`` raises the
limit with the paths (waitress accepts 256 KiB request lines), to show the cost grows in
proportion to the path, not faster. The tables hold the patterns that used to
backtrack (two variables in a segment, several ``<path:>``) in the forms still allowed,
and the paths are built to make a backtracking matcher try every split::

    python benchmarks/path_dos.py                 # every case, slowest first
    python benchmarks/path_dos.py --size 262144   # max_path_size raised to match

``tests/security/test_path_dos.py`` runs the same cases with a generous bound, and compares
the cost at two sizes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from typing import Any

SIZE = 8 * 1024  # MAX_PATH_SIZE, the default limit

#: Patterns a matcher may find hard, as tables a user could write.
TABLES: dict[str, dict[str, Any]] = {
    "two-variables": {"/api/<name>.<fmt>": "required", "/f/<int:id>.<fmt>": "required",
                      "/g/<name>.<string(maxlength=3):fmt>": "required",
                      "/h/<slug>-<int:n>.<any(json,xml):fmt>": "required",
                      "/d/<int:a>.<float:v>": "required", "/u/<name>.<uuid:u>": "required"},
    "lenient-numbers": {"/n/<int:a>.<int:b>.json": "required", "/p/<float:x>": "required",
                        "/q/<int(signed=True):n>": "required", "/<username>": "required",
                        "/": "public"},
    "path-converters": {"/files/<path:p>/edit": "required",
                        "/files/<path:p>/<name>.<fmt>": "required",
                        "/docs/<path:p>": "public", "/docs/<lang>/*": "required"},
    "many-segments": {"/<a>/<b>/<c>/<d>": "required", "/<a>/<int:b>/": "public",
                      "/x/*": "required", "/x/x/x/x/x/x": "public", "/*": "optional"},
}


def _paths(size: int) -> dict[str, str]:
    def fill(prefix: str, unit: str, suffix: str = "") -> str:  # at most size characters
        return prefix + unit * ((size - len(prefix) - len(suffix)) // len(unit)) + suffix

    return {
        "dots-in-one-segment": fill("/api/", "a."),
        "dots-then-slash": fill("/api/", "a.", "/"),
        "digits-and-dots": fill("/f/", "1."),
        "near-suffix": fill("/n/", "1.", "jso"),
        "dashes-digits": fill("/h/", "a-1"),
        "float-dots": fill("/d/", "1.1."),
        "many-slashes": "/" * size,
        "segments": fill("", "/x"),
        "path-segments": fill("/files", "/a.b", "/edit/"),
        "dot-segments": fill("", "/a/.."),
        "dots-only": fill("", "/."),
        "percent-dots": fill("/api/", "%2e"),
        "percent-slashes": fill("/files/", "%2f"),
        "double-encoded": fill("/docs/", "%252e%252e%252f"),
        "percent-percent": fill("/", "%25"),
        "invalid-utf8": fill("/api/", "\xff"),
        "utf8-text": fill("/api/", "\xc3\xa9"),
        "invalid-utf8-mixed": fill("/api/", "\xffa.%"),
        "bad-escapes": fill("/api/", "%%41"),
        "lone-percents": fill("/api/", "%"),
        "dot-params": fill("/api/", ".;/"),
        "encoded-dot-segments": fill("/docs", "/%2e%2e/a"),
        "backslashes": fill("/docs", "\\.."),
        "no-leading-slash": fill("files", "/.."),
        "long-number": fill("/q/", "1"),
        "fullwidth-digits": fill("/q/", "\xef\xbc\x91"),
        "trailing-slashes": fill("/x", "/x", "//////"),
    }


def cases(size: int = SIZE, max_path_size: int | None = None,
          ) -> Iterable[tuple[str, str, Callable[[], str]]]:
    """(table, path, call) for every table and path: call sends one request and returns
    the status line. The middleware reads paths up to ``max_path_size`` (``size`` or the
    default limit, whichever is larger, unless given)."""
    from jwt_wsgi import JWTManager, JWTMiddleware
    from jwt_wsgi.routes import MAX_PATH_SIZE

    if max_path_size is None:
        max_path_size = max(size, MAX_PATH_SIZE)
    manager = JWTManager(secret_key="path-dos-benchmark-" + "x" * 32)
    paths = _paths(size)
    for table_name, routes in TABLES.items():
        middleware = JWTMiddleware(_app, manager, routes=routes, max_path_size=max_path_size)
        for path_name, path in paths.items():
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "",
                       "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
                       "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http"}

            def call(middleware: Any = middleware, environ: dict[str, Any] = environ) -> str:
                statuses: list[str] = []

                def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                    statuses.append(status)
                    return lambda data: None

                b"".join(middleware(dict(environ), start_response))
                return statuses[0]

            yield table_name, path_name, call


def cpu_time(call: Callable[[], object], repeat: int = 3) -> float:
    """The least CPU time (seconds) of a few calls: what the request costs, whatever else
    the machine is busy with."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        call()
        best = min(best, time.thread_time() - start)
    return best


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=SIZE, help="path length in bytes")
    args = parser.parse_args(argv)
    timings = sorted(((cpu_time(call), table, path) for table, path, call in cases(args.size)),
                     reverse=True)
    print(f"{len(timings)} cases, {args.size} byte paths, CPU ms per request (slowest first)")
    for seconds, table, path in timings:
        print(f"{seconds * 1000:8.2f}  {table:18s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
