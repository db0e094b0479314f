"""Reading a JSON body for its token: the app still gets the body, limits hold, bad input is 4xx."""

from __future__ import annotations

import functools
import http.client
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import webob
from werkzeug.serving import make_server
from werkzeug.test import Client, EnvironBuilder

from jwt_wsgi import JWTManager, JWTMiddleware
from tests import harness
from tests.harness import free_port

manager = functools.partial(harness.manager, token_location=["headers", "json"])


class Echo:
    """An app that reads its body twice (the raw stream, then, rewound, through webob) and
    echoes what it got."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        length = int(environ.get("CONTENT_LENGTH") or 0)
        first = environ["wsgi.input"].read(length)
        environ["wsgi.input"].seek(0)
        second = webob.Request(environ).body
        body = json.dumps({"first": first.decode("latin-1"), "second": second.decode("latin-1"),
                           "length": environ.get("CONTENT_LENGTH"),
                           "chunked": "HTTP_TRANSFER_ENCODING" in environ}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


class Stream:
    """A ``wsgi.input`` that records how much was asked of it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.asked = 0

    def read(self, size: int = -1) -> bytes:
        self.asked += size if size >= 0 else 1 << 30
        return self._data.read(size)

    def seek(self, offset: int) -> int:
        return self._data.seek(offset)


def call(app: Any, environ: dict[str, Any]) -> tuple[int, Any]:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0][:3]), json.loads(body)


def environ_for(data: bytes, **extra: Any) -> dict[str, Any]:
    environ = EnvironBuilder("/api", method="POST", content_type="application/json").get_environ()
    environ["wsgi.input"] = Stream(data)
    environ.pop("CONTENT_LENGTH", None)
    environ.update(extra)
    return environ


@pytest.fixture
def jwt() -> JWTManager:
    return manager(max_body_size=1024)


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def app(jwt: JWTManager, echo: Echo) -> JWTMiddleware:
    return JWTMiddleware(echo, jwt, routes={"/api": "required", "/open": "public"})


def test_the_app_reads_the_body_the_client_sent_twice(app: JWTMiddleware,
                                                      jwt: JWTManager) -> None:
    payload = json.dumps({"access_token": jwt.create_access_token("alice"), "note": "hi"})
    response = Client(app).post("/api", data=payload, content_type="application/json")
    assert response.status_code == 200
    seen = json.loads(response.get_data())
    assert seen["first"] == seen["second"] == payload
    assert seen["length"] == str(len(payload))


def test_header_token_with_a_json_body_reads_it_once(app: JWTMiddleware, jwt: JWTManager) -> None:
    # The body is read (json is an allowed location) and handed back intact.
    payload = json.dumps({"other": "x" * 500})
    response = Client(app).post("/api", data=payload, content_type="application/json",
                                headers={"Authorization": f"Bearer {jwt.create_access_token('a')}"})
    assert response.status_code == 200
    assert json.loads(response.get_data())["first"] == payload


def test_public_routes_never_touch_the_body(app: JWTMiddleware) -> None:
    stream = Stream(b"{broken")
    status, seen = call(app, environ_for(b"{broken", CONTENT_LENGTH="7", PATH_INFO="/open",
                                         **{"wsgi.input": stream}))
    assert status == 200 and seen["first"] == "{broken"
    assert stream.asked == 14  # the app's own two reads of 7 bytes, nothing before them


def test_declared_oversize_is_413_before_reading(app: JWTMiddleware, echo: Echo) -> None:
    data = b'{"access_token": "' + b"a" * 2000 + b'"}'
    environ = environ_for(data, CONTENT_LENGTH=str(len(data)))
    status, body = call(app, environ)
    assert status == 413 and body == {"msg": "Request body too large"}
    assert environ["wsgi.input"].asked == 0
    assert echo.calls == 0


def test_limit_is_inclusive(app: JWTMiddleware, jwt: JWTManager) -> None:
    token = jwt.create_access_token("alice")
    start = json.dumps({"access_token": token}).encode()[:-1]
    data = start + b" " * (1023 - len(start)) + b"}"
    assert len(data) == 1024
    status, _ = call(app, environ_for(data, CONTENT_LENGTH="1024"))
    assert status == 200


def test_chunked_body_with_end_of_input_is_read_up_to_the_limit(app: JWTMiddleware,
                                                                jwt: JWTManager) -> None:
    payload = json.dumps({"access_token": jwt.create_access_token("alice")}).encode()
    environ = environ_for(payload, HTTP_TRANSFER_ENCODING="chunked",
                          **{"wsgi.input_terminated": True})
    status, seen = call(app, environ)
    assert status == 200
    assert seen["first"] == seen["second"] == payload.decode()
    assert seen["length"] == str(len(payload)) and seen["chunked"] is False

    big = Stream(b"x" * 10_000)
    status, body = call(app, environ_for(b"", HTTP_TRANSFER_ENCODING="chunked",
                                         **{"wsgi.input": big, "wsgi.input_terminated": True}))
    assert status == 413 and body == {"msg": "Request body too large"}
    assert big.asked <= 1025


def test_body_without_length_or_end_of_input_is_left_alone(app: JWTMiddleware,
                                                           jwt: JWTManager) -> None:
    # PEP 3333: no CONTENT_LENGTH and no wsgi.input_terminated means reading could block.
    stream = Stream(json.dumps({"access_token": jwt.create_access_token("alice")}).encode())
    status, body = call(app, environ_for(b"", HTTP_TRANSFER_ENCODING="chunked",
                                         **{"wsgi.input": stream}))
    assert status == 401 and body["msg"].startswith("Missing JWT")
    assert stream.asked == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"{not json", "Malformed JSON body", id="malformed"),
        pytest.param(b'{"access_token": "\xff"}', "Malformed JSON body", id="not-utf8"),
        pytest.param(b'{"access_token": NaN}', "Malformed JSON body", id="nan"),
        pytest.param(b'{"access_token": "a.b.c"} trailing', "Malformed JSON body", id="trailing"),
    ],
)
def test_malformed_json_is_400(app: JWTMiddleware, echo: Echo, data: bytes,
                               message: str) -> None:
    status, body = call(app, environ_for(data, CONTENT_LENGTH=str(len(data))))
    assert status == 400 and body == {"msg": message}
    assert echo.calls == 0


def test_deeply_nested_json_is_400_not_a_crash(jwt: JWTManager, echo: Echo) -> None:
    big = manager(max_body_size=1 << 20)
    app = JWTMiddleware(echo, big, routes={"/api": "required"})
    # deeper than Python's recursion limit, within the values a token's body is searched in
    data = b"[" * 4000 + b"]" * 4000
    status, body = call(app, environ_for(data, CONTENT_LENGTH=str(len(data))))
    assert status == 400 and body["msg"] in ("Malformed JSON body", "JSON body nested too deeply")
    # past MAX_JSON_VALUES (200,000 levels) the body is not searched for a token at all
    data = b"[" * 200_000 + b"]" * 200_000
    status, body = call(app, environ_for(data, CONTENT_LENGTH=str(len(data))))
    assert status == 401 and body["msg"].startswith("Missing JWT") and echo.calls == 0


@pytest.mark.parametrize(
    ("length", "data", "status", "message"),
    [
        pytest.param("-1", b"{}", 400, "Invalid Content-Length", id="negative"),
        pytest.param("12abc", b"{}", 400, "Invalid Content-Length", id="not-a-number"),
        pytest.param("\u0661\u0662", b"{}", 400, "Invalid Content-Length", id="arabic-digits"),
        pytest.param("50", b'{"a": 1}', 400, "Request body shorter than its Content-Length",
                     id="short-body"),
    ],
)
def test_bad_lengths(app: JWTMiddleware, echo: Echo, length: str, data: bytes, status: int,
                     message: str) -> None:
    got, body = call(app, environ_for(data, CONTENT_LENGTH=length))
    assert (got, body) == (status, {"msg": message})
    assert echo.calls == 0


def test_empty_json_body_is_no_token(app: JWTMiddleware) -> None:
    status, body = call(app, environ_for(b"", CONTENT_LENGTH="0"))
    assert status == 401 and body["msg"].startswith("Missing JWT")
    status, body = call(app, environ_for(b"  \n", CONTENT_LENGTH="3"))
    assert status == 401


def test_environ_body_key_cannot_be_planted(jwt: JWTManager, echo: Echo) -> None:
    """An upstream value for our cache key is dropped: the token comes from the real body."""
    app = JWTMiddleware(echo, jwt, routes={"/api": "required"})
    planted = json.dumps({"access_token": jwt.create_access_token("mallory")}).encode()
    status, _ = call(app, environ_for(b"{}", CONTENT_LENGTH="2", **{"jwt_wsgi.body": planted}))
    assert status == 401


@pytest.fixture
def server(app: JWTMiddleware) -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_port
    finally:
        srv.shutdown()
        thread.join(5)


def post(port: int, body: Iterable[bytes] | bytes, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/api", body=body, headers=headers,
                           encode_chunked=not isinstance(body, bytes))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_real_server_chunked_and_sized(server: int, jwt: JWTManager) -> None:
    payload = json.dumps({"access_token": jwt.create_access_token("alice")}).encode()
    status, seen = post(server, iter([payload[:10], payload[10:]]),
                        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert status == 200 and seen["first"] == seen["second"] == payload.decode()
    status, seen = post(server, payload, {"Content-Type": "application/json"})
    assert status == 200 and seen["first"] == payload.decode()
    status, body = post(server, iter([b"{" * 700, b"}" * 700]),
                        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert status == 413 and body == {"msg": "Request body too large"}
    status, body = post(server, b"x" * 5000, {"Content-Type": "application/json"})
    assert status == 413


def served_app() -> JWTMiddleware:
    """The app gunicorn serves below (``tests.test_body:served_app()``)."""
    return JWTMiddleware(Echo(), manager(max_body_size=1024), routes={"/api": "required"})


def test_gunicorn_chunked_body(tmp_path: Any) -> None:
    """gunicorn dechunks and marks the input terminated: the token is read, the app gets
    the body, and a chunked body over the limit is a 413."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "tests.test_body:served_app()"], cwd=root)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.05)
        payload = json.dumps({"access_token": manager().create_access_token("alice")}).encode()
        status, seen = post(port, iter([payload[:7], payload[7:]]),
                            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        assert status == 200 and seen["first"] == seen["second"] == payload.decode()
        status, body = post(port, iter([b"[" * 700, b"]" * 700]),
                            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        assert status == 413 and body == {"msg": "Request body too large"}
    finally:
        proc.terminate()
        proc.wait(15)
