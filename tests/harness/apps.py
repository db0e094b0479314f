"""Apps, managers and a raw WSGI caller: what sits behind and in front of the middleware.

:func:`call` builds the environ with werkzeug's EnvironBuilder and then sets PATH_INFO by
hand: the security cases must control exactly what a server would deliver, and
EnvironBuilder would percent-decode the path first. For everything else a
``werkzeug.test.Client`` (the ``protect`` fixture) is the client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.test import EnvironBuilder

from jwt_wsgi import JWTManager, JWTMiddleware

from .tokens import NOW, SECRET


class Clock:
    """A clock for ``JWTManager(clock=...)``, frozen at ``now``; move it by setting ``now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A WSGI app that keeps the environ of each call and answers 200 with JSON
    ``{"path": ..., "sub": ...}``. ``calls`` counts the calls, ``environs`` holds them."""

    def __init__(self) -> None:
        self.environs: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.environs)

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            self.environs.append(environ)
        body = json.dumps({"path": environ.get("PATH_INFO"),
                           "sub": environ.get("jwt_wsgi.identity")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


def manager(**options: Any) -> JWTManager:
    """A manager with the clock frozen at NOW (HS256 with SECRET unless told otherwise)."""
    if not any(k in options for k in ("secret_key", "private_key", "public_key", "jwks",
                                      "jwks_url")):
        options["secret_key"] = SECRET
    options.setdefault("clock", Clock())
    return JWTManager(**options)


def wrap(app: Callable[..., Iterable[bytes]], jwt: JWTManager | None = None,
         routes: Mapping[str, Any] | None = None, **kwargs: Any) -> JWTMiddleware:
    """``app`` behind the middleware (``{"/p": "required"}`` and :func:`manager` unless given)."""
    return JWTMiddleware(app, jwt or manager(), routes={"/p": "required"} if routes is None
                         else routes, **kwargs)


@dataclass
class Answer:
    """What a WSGI app answered."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(app: Callable[..., Iterable[bytes]], path: str = "/", method: str = "GET",
         headers: Mapping[str, str] | None = None, body: bytes | None = None,
         **environ: Any) -> Answer:
    """Call a WSGI app with PATH_INFO exactly as given (as a server would deliver it)."""
    builder = EnvironBuilder(method="GET", headers=dict(headers or {}), data=body)
    env = builder.get_environ()
    env["REQUEST_METHOD"] = method
    env["PATH_INFO"] = path
    env.update(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = int(status[:3])
        captured["headers"] = list(response_headers)
        return lambda data: None

    chunks = app(env, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(captured["status"], captured["headers"], data)


def bearer_call(app: Callable[..., Iterable[bytes]], token: str, path: str = "/p",
                **kwargs: Any) -> Answer:
    """:func:`call` with ``token`` in the ``Authorization`` header."""
    return call(app, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
