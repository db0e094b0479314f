"""The reverse proxy against upstreams that misbehave, and paths that leave the prefix.

The upstream is a raw socket server (tests/rawserver.py) sending exactly the bytes of each
case; the front is the proxy as a WSGI app (werkzeug's test client), or werkzeug's real
server with http.client where what the client receives on the wire matters.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from jwt_wsgi.proxy import ReverseProxy
from jwt_wsgi.proxy_response import UpstreamBodyCut
from tests.harness.rawserver import RawServer, established_to, reply, trickle

OK = b"HTTP/1.1 200 OK\r\n"
HELLO = b"Content-Length: 5\r\n\r\nhello"


def through(answer: bytes, path: str = "/x", **options: Any) -> Any:
    with RawServer(reply(answer)) as upstream:
        return Client(ReverseProxy(upstream.url, timeout=5, **options)).get(path)


@pytest.mark.parametrize("answer", [
    pytest.param(OK + b"Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n", id="chunked-and-length"),
    pytest.param(OK + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", id="two-lengths"),
    pytest.param(OK + b"Content-Length: 5, 6\r\n\r\nhello!", id="length-list"),
    pytest.param(OK + b"Content-Length: +5\r\n\r\nhello", id="signed-length"),
    pytest.param(OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                 id="coding-before-chunked"),
    pytest.param(OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n", id="chunked-then-gzip"),
    pytest.param(OK + b"Transfer-Encoding: identity\r\n\r\nhello", id="identity-coding"),
    pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", id="101"),
    pytest.param(OK + b"X-A : 1\r\n" + HELLO, id="space-before-colon"),
    pytest.param(OK + b"no colon here\r\n" + HELLO, id="line-without-colon"),
    pytest.param(OK + b" X-A: 1\r\n" + HELLO, id="continuation-first"),
    pytest.param(b"HTTP/1.1 700 Odd\r\n" + HELLO, id="status-700"),
    pytest.param((b"HTTP/1.1 103 Early Hints\r\n\r\n" * 20) + OK + HELLO,
                 id="endless-early-hints"),
])
def test_an_answer_that_cannot_be_framed_safely_is_a_502(answer: bytes) -> None:
    response = through(answer)
    assert response.status_code == 502
    assert response.json == {"msg": "Bad gateway"}
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(("answer", "headers", "body"), [
    pytest.param(OK + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                 [("Content-Length", "5")], b"hello", id="same-length-twice"),
    pytest.param(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                 + OK + b"X-Real: 1\r\n" + HELLO,
                 [("X-Real", "1"), ("Content-Length", "5")], b"hello", id="early-hints"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                 b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK + HELLO,
                 [("Content-Length", "5")], b"hello", id="three-interim"),
    pytest.param(OK + b"X-Folded: a\r\n  b\r\n" + HELLO,
                 [("X-Folded", "a b"), ("Content-Length", "5")], b"hello", id="obs-fold"),
    pytest.param(OK + b"X-Nul: a\x00b\r\n" + HELLO,
                 [("X-Nul", "a b"), ("Content-Length", "5")], b"hello", id="nul"),
    pytest.param(OK + b"Connection: X-Private, keep-alive\r\nX-Private: 1\r\n"
                 b"Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\n"
                 b"Upgrade: h2c\r\nX-Kept: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n",
                 [("X-Kept", "1")], b"hello", id="hop-by-hop"),
])
def test_answers_are_cleaned(answer: bytes, headers: list[tuple[str, str]], body: bytes) -> None:
    response = through(answer)
    assert response.status_code == 200
    assert [(k, v) for k, v in response.headers.items()] == headers
    assert response.get_data() == body


def test_transfer_encoding_never_reaches_the_wsgi_server() -> None:
    seen: list[list[tuple[str, str]]] = []
    with RawServer(reply(OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")) as up:
        proxy = ReverseProxy(up.url, timeout=5)

        def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen.append(headers)
        body = proxy({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response)
        assert b"".join(body) == b"hello"
        body.close()  # type: ignore[attr-defined]
    assert seen == [[]]


# -- one deadline for the whole exchange ----------------------------------------------

@pytest.mark.parametrize("head", [
    pytest.param(b"", id="status-line"),
    pytest.param(OK, id="headers"),
])
def test_a_trickling_answer_is_a_504_at_the_deadline(head: bytes) -> None:
    # each byte comes well inside the timeout: a per-read timeout would wait for all 60
    dribble = b"HTTP/1.1 200 OK\r\n"[len(head):] + b"X-Padding: " + b"p" * 60 + b"\r\n"
    with RawServer(trickle(head, dribble, 0.1)) as upstream:
        threads = threading.active_count()
        started = time.monotonic()
        response = Client(ReverseProxy(upstream.url, timeout=1)).get("/x")
        elapsed = time.monotonic() - started
        assert response.status_code == 504 and response.json == {"msg": "Upstream timed out"}
        assert elapsed < 2.5
        assert established_to(upstream.port) == 0  # the proxy closed its socket
        assert threading.active_count() == threads


def test_a_trickling_body_is_cut_at_the_deadline_and_the_client_sees_it() -> None:
    head = OK + b"Content-Length: 60\r\n\r\n"
    with RawServer(trickle(head, b"b" * 60, 0.1)) as upstream:
        proxy = ReverseProxy(upstream.url, timeout=1)
        front = make_server("127.0.0.1", 0, proxy, threaded=True)
        thread = threading.Thread(target=front.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            client = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=5)
            started = time.monotonic()
            client.request("GET", "/x")
            answer = client.getresponse()
            assert answer.status == 200
            with pytest.raises(http.client.IncompleteRead):
                answer.read()
            assert time.monotonic() - started < 2.5
            client.close()
            deadline = time.monotonic() + 2
            while established_to(upstream.port) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert established_to(upstream.port) == 0
        finally:
            front.shutdown()
            front.server_close()


def test_the_body_iterator_raises_when_cut() -> None:
    with RawServer(reply(OK + b"Content-Length: 10\r\n\r\nhello")) as upstream:
        proxy = ReverseProxy(upstream.url, timeout=2)
        body = proxy({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
        with pytest.raises(UpstreamBodyCut):
            b"".join(body)


# -- dot segments in any spelling stay out of the prefix ------------------------------

DOT_PATHS = [
    pytest.param("/..;/internal", id="dotdot-semicolon"),
    pytest.param("/..;jsessionid=1/internal", id="dotdot-jsessionid"),
    pytest.param("/.;/internal", id="dot-semicolon"),
    pytest.param("/a/..;x", id="trailing"),
    pytest.param("/%2e%2e;x/internal", id="percent"),
    pytest.param("/%2E%2e%3bx/internal", id="percent-semicolon"),
    pytest.param("/%252e%252e;/internal", id="double-percent"),
    pytest.param("/%c0%ae%c0%ae/internal", id="overlong-2"),
    pytest.param("/%c0%ae%c0%ae;x/internal", id="overlong-semicolon"),
    pytest.param("/%e0%80%ae%e0%80%ae/internal", id="overlong-3"),
    pytest.param("/..%c0%afinternal", id="overlong-slash"),
    pytest.param("/%u002e%u002e/internal", id="iis-u"),
    pytest.param("/%ef%bc%8e%ef%bc%8e/internal", id="fullwidth"),
    pytest.param("/\uff0e\uff0e;/internal", id="fullwidth-unicode"),
    pytest.param("/%e2%80%a5/internal", id="two-dot-leader"),
    pytest.param("/a\\..;\\internal", id="backslash"),
]


@pytest.mark.parametrize("path", DOT_PATHS)
def test_dot_segments_with_parameters_are_refused(path: str) -> None:
    with RawServer(reply(OK + HELLO)) as upstream:
        proxy = ReverseProxy(upstream.url + "/public-api", timeout=5)
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": _as_wsgi(path)}
        statuses: list[str] = []
        body = b"".join(proxy(environ, lambda status, headers, *exc: statuses.append(status)))
    assert statuses == ["400 Bad Request"]
    assert b"Dot segments" in body
    assert upstream.requests == []


@pytest.mark.parametrize("path", [
    pytest.param("/a..;b/c", id="dots-inside"),
    pytest.param("/...;x", id="three-dots"),
    pytest.param("/v1.2;x/y", id="version"),
    pytest.param("/%2e%2ex", id="dots-then-letter"),
])
def test_paths_that_only_look_like_dot_segments_pass(path: str) -> None:
    with RawServer(reply(OK + HELLO)) as upstream:
        proxy = ReverseProxy(upstream.url + "/public-api", timeout=5)
        response = Client(proxy).get(path)
        assert response.status_code == 200
        assert upstream.requests[0].startswith(b"GET /public-api/")


def _as_wsgi(path: str) -> str:
    """PATH_INFO as a server gives it: percent-decoded once, one character a byte."""
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")

