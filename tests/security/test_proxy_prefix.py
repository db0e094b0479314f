"""The reverse proxy never leaves the upstream prefix it was given, whatever the target.

werkzeug's server, waitress and wsgiref hand a request target without its leading slash on
as is: ``GET -admin/x`` is PATH_INFO ``-admin/x``. The proxy glued it to the prefix, so
``ReverseProxy("http://internal/public")`` forwarded ``/public-admin/x``, a sibling of the
one subtree the operator exposed (and ``x`` became ``/publicx``). The rules read such a
path with a leading slash (``readings``); the upstream now gets that same path.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import waitress
from werkzeug.serving import make_server

from jwt_wsgi.proxy import ReverseProxy
from tests.harness.servers import Upstream, upstream


def _werkzeug(app: Any) -> tuple[int, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server.port, lambda: (server.shutdown(), server.server_close())


def _waitress(app: Any) -> tuple[int, Callable[[], None]]:
    server = waitress.create_server(app, host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    return int(server.effective_port), server.close


SERVERS = {"werkzeug": _werkzeug, "waitress": _waitress}


@pytest.fixture(scope="module")
def up() -> Iterator[Upstream]:
    with upstream() as record:
        yield record


@pytest.fixture(scope="module", params=sorted(SERVERS))
def front(request: pytest.FixtureRequest, up: Upstream) -> Iterator[int]:
    proxy = ReverseProxy(f"http://127.0.0.1:{up.port}/public", forward_authorization=True,
                         timeout=5)
    port, stop = SERVERS[request.param](proxy)
    try:
        yield port
    finally:
        stop()


def _send(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        for _ in range(1000):  # bounded: the reply is small
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    return reply.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(("target", "forwarded"), [
    pytest.param("-admin/x", "/public/-admin/x", id="sibling-of-the-prefix"),
    pytest.param("x", "/public/x", id="glued-to-the-prefix"),
    pytest.param("*", "/public/*", id="asterisk"),
    pytest.param("http://h-admin/x", "/public/x", id="absolute-form"),
    pytest.param("/x", "/public/x", id="origin-form"),
])
def test_a_target_without_its_slash_stays_under_the_prefix(
        front: int, up: Upstream, target: str, forwarded: str) -> None:
    up.seen.clear()
    assert b" 200 " in _send(front, target)
    assert [seen.target for seen in up.seen] == [forwarded]


@pytest.mark.parametrize("target", [
    pytest.param("..", id="dots-alone"),
    pytest.param("../x", id="dots-without-a-slash"),
    pytest.param("..;/x", id="dots-with-a-parameter"),
])
def test_dot_segments_without_a_slash_are_refused(front: int, up: Upstream,
                                                   target: str) -> None:
    up.seen.clear()
    assert b" 400 " in _send(front, target)
    assert up.seen == []
