"""The reverse proxy against a real upstream on 127.0.0.1, behind a real front server.

The upstream is a stdlib HTTP server that echoes what it received; the front is werkzeug's
server running JWTMiddleware(ReverseProxy(...)). werkzeug's server keeps headers spelled
with underscores (X_Jwt_Sub) and folds them into the same environ key as X-Jwt-Sub, which
is what a forging client would try.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.proxy import ReverseProxy, header_value

CLAIM_HEADERS = {"sub": "X-Jwt-Sub", "role": "X-Jwt-Role", "n": "X-Jwt-N"}
ROUTES = {"/api/*": "required", "/public/*": "public"}


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        record = {"method": self.command, "path": self.path, "body": body,
                  "headers": [[k, v] for k, v in self.headers.items()]}
        Echo.received.append(record)
        if self.path.endswith("/hop"):
            data = b"hop"
            self.send_response(200)
            self.send_header("Connection", "X-Private, keep-alive")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("X-Private", "only-for-the-proxy")
            self.send_header("Set-Cookie", "a=1")
            self.send_header("Set-Cookie", "b=2")
        elif self.path.endswith("/no-reason"):
            self.wfile.write(b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n")
            return
        elif self.path.endswith("/chunked"):
            self.send_response(201)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for part in (b"one,", b"two,", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        else:
            data = json.dumps(record).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/base"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def manager() -> JWTManager:
    return JWTManager(secret_key="proxy-test-secret-" + "x" * 40)


@pytest.fixture(scope="module")
def front(upstream: str, manager: JWTManager) -> Iterator[tuple[str, int]]:
    app = JWTMiddleware(ReverseProxy(upstream, CLAIM_HEADERS), manager, routes=ROUTES)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_port
    server.shutdown()
    server.server_close()


def request(front: tuple[str, int], method: str, path: str,
            headers: list[tuple[str, str]] = (), body: Any = None,  # type: ignore[assignment]
            chunked: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection(*front, timeout=10)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders(body, encode_chunked=True)
        else:
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def seen(raw: bytes) -> dict[str, Any]:
    record = json.loads(raw)
    record["names"] = [name.lower() for name, _ in record["headers"]]
    return record  # type: ignore[no-any-return]


def values(record: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


FORGED = [("X-Jwt-Sub", "mallory"), ("X_Jwt_Sub", "mallory2"), ("x-jwt-role", "admin"),
          ("X-JWT-N", "1"), ("X_JWT_ROLE", "root")]


def test_forged_claim_headers_are_removed_on_public_routes(front: tuple[str, int]) -> None:
    status, _, raw = request(front, "GET", "/public/page", [*FORGED, ("X-Other", "kept")])
    assert status == 200
    record = seen(raw)
    assert record["path"] == "/base/public/page"
    assert not {"x-jwt-sub", "x-jwt-role", "x-jwt-n", "x_jwt_sub", "x_jwt_role"} & set(record["names"])
    assert values(record, "X-Other") == ["kept"]


def test_forged_claim_headers_are_replaced_by_verified_claims(front: tuple[str, int],
                                                             manager: JWTManager) -> None:
    token = manager.create_access_token("alice", additional_claims={"role": "user", "n": 3})
    status, _, raw = request(front, "GET", "/api/me?x=1&y=%20",
                             [*FORGED, ("Authorization", f"Bearer {token}")])
    assert status == 200
    record = seen(raw)
    assert record["path"] == "/base/api/me?x=1&y=%20"
    assert values(record, "X-Jwt-Sub") == ["alice"]
    assert values(record, "X-Jwt-Role") == ["user"]
    assert values(record, "X-Jwt-N") == ["3"]
    assert "x_jwt_sub" not in record["names"]
    assert values(record, "Authorization") == [f"Bearer {token}"]


def test_host_and_forwarded_headers(front: tuple[str, int], upstream: str) -> None:
    _, _, raw = request(front, "GET", "/public/x", [("X-Forwarded-For", "10.0.0.1")])
    record = seen(raw)
    assert values(record, "Host") == [upstream.split("/")[2]]
    assert values(record, "X-Forwarded-For") == ["10.0.0.1, 127.0.0.1"]
    assert values(record, "X-Forwarded-Proto") == ["http"]
    assert values(record, "X-Forwarded-Host") == [f"{front[0]}:{front[1]}"]
    assert values(record, "X-Forwarded-Port") == [str(front[1])]


def test_forged_forwarding_headers_are_replaced(front: tuple[str, int]) -> None:
    forged = [("Forwarded", "for=6.6.6.6;proto=https"), ("X-Real-IP", "6.6.6.6"),
              ("X_Real_Ip", "6.6.6.7"), ("X-Forwarded-Proto", "https"),
              ("X_Forwarded_Proto", "https"), ("X-Forwarded-Host", "evil.example"),
              ("X-Forwarded-Port", "443"), ("X-Forwarded-Prefix", "/admin"),
              ("X_Forwarded_Server", "evil"), ("X-Forwarded-Ssl", "on"),
              ("X-Forwarded-For", "6.6.6.6")]
    status, _, raw = request(front, "GET", "/public/x", forged)
    assert status == 200
    record = seen(raw)
    names = set(record["names"])
    assert not {"forwarded", "x-real-ip", "x_real_ip", "x-forwarded-prefix", "x-forwarded-ssl",
                "x_forwarded_server", "x-forwarded-server", "x_forwarded_proto",
                "x_forwarded_for"} & names
    assert values(record, "X-Forwarded-Proto") == ["http"]
    assert values(record, "X-Forwarded-Host") == [f"{front[0]}:{front[1]}"]
    assert values(record, "X-Forwarded-Port") == [str(front[1])]
    # the client's part of X-Forwarded-For is kept left of the peer address, never alone
    assert values(record, "X-Forwarded-For") == ["6.6.6.6, 127.0.0.1"]


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-Ip"])
def test_forwarding_headers_cannot_carry_claims(header: str) -> None:
    with pytest.raises(ConfigError, match="manages"):
        ReverseProxy("http://h", {"sub": header})


def test_non_ascii_paths_reach_the_upstream_as_sent(front: tuple[str, int]) -> None:
    # the front server hands PATH_INFO over as latin-1 text ('/caf\xc3\xa9'); the upstream
    # must get the client's bytes, not the UTF-8 of each of those characters (%C3%83%C2%A9)
    # (werkzeug's server itself turns invalid UTF-8 such as %FF into U+FFFD, so no such case)
    for sent in ("/public/caf%C3%A9", "/public/%E2%82%AC%20x"):
        status, _, raw = request(front, "GET", sent)
        assert status == 200 and seen(raw)["path"] == "/base" + sent


def test_refused_requests_never_reach_the_upstream(front: tuple[str, int]) -> None:
    before = len(Echo.received)
    status, _headers, raw = request(front, "GET", "/api/me", FORGED)
    assert status == 401 and json.loads(raw) == {"msg": "Missing Authorization Header"}
    assert len(Echo.received) == before


def test_hop_by_hop_headers_both_ways(front: tuple[str, int]) -> None:
    status, headers, raw = request(front, "GET", "/public/hop", [
        ("Connection", "keep-alive, X-Drop-Me"), ("X-Drop-Me", "1"), ("TE", "trailers"),
        ("Proxy-Authorization", "Basic eDp5"), ("Keep-Alive", "300"), ("X-Keep", "1")])
    assert status == 200 and raw == b"hop"
    received = {name.lower() for name, _ in Echo.received[-1]["headers"]}
    assert "x-keep" in received
    assert not {"x-drop-me", "te", "proxy-authorization", "keep-alive"} & received
    names = [name.lower() for name, _ in headers]
    assert "x-private" not in names and "keep-alive" not in names
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]


def test_bodies_both_ways(front: tuple[str, int], manager: JWTManager) -> None:
    token = manager.create_access_token("bob")
    auth = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")]
    status, _, raw = request(front, "POST", "/api/items", auth, body=b'{"name": "x"}')
    record = seen(raw)
    assert (status, record["method"], record["body"]) == (200, "POST", '{"name": "x"}')
    assert values(record, "Content-Type") == ["application/json"]
    # a large body is streamed through whole; Expect stays between client and front server
    big = b"x" * 300_000
    _, _, raw = request(front, "POST", "/api/big", [*auth, ("Expect", "100-continue")], body=big)
    record = seen(raw)
    assert len(record["body"]) == len(big) and "expect" not in record["names"]
    assert values(record, "Content-Length") == [str(len(big))]
    # a chunked request body arrives whole, with a length
    _, _, raw = request(front, "PUT", "/api/items/1", auth, body=iter([b"ab", b"cd"]), chunked=True)
    assert seen(raw)["body"] == "abcd"
    # a chunked response is re-framed by the front server
    status, _headers, raw = request(front, "GET", "/public/chunked")
    assert (status, raw) == (201, b"one,two,three")


def test_status_without_a_reason_phrase_gets_one(upstream: str, manager: JWTManager) -> None:
    response = Client(JWTMiddleware(ReverseProxy(upstream), manager, routes={"/admin/*": "required"})).get(
        "/no-reason")
    assert response.status == "404 Not Found" and response.get_data() == b""


def test_unreachable_upstream_is_a_json_502(manager: JWTManager) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(JWTMiddleware(ReverseProxy(f"http://127.0.0.1:{port}"), manager,
                                  routes={"/admin/*": "required"}))
    response = client.get("/anything")
    assert response.status_code == 502 and response.json == {"msg": "Bad gateway"}


def test_options_forward_authorization_and_script_name(upstream: str, manager: JWTManager) -> None:
    token = manager.create_access_token("carol")
    proxy = ReverseProxy(upstream, {"sub": "X-User"}, forward_authorization=False)
    client = Client(JWTMiddleware(proxy, manager, routes={"/admin/*": "required", "/me": "required"}))
    # gunicorn takes SCRIPT_NAME from a client header: the middleware checks PATH_INFO
    # (/secret, public here), so only PATH_INFO is forwarded, never /admin/secret
    response = client.get("/secret", base_url="http://localhost/admin")
    assert seen(response.get_data())["path"] == "/base/secret"
    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    record = seen(response.get_data())
    assert "authorization" not in record["names"]
    assert values(record, "X-User") == ["carol"]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("alice", "alice", id="plain"),
    pytest.param("zoë", '"zo\\u00eb"', id="non-ascii"),
    pytest.param("a\r\nX-Evil: 1", '"a\\r\\nX-Evil: 1"', id="crlf"),
    pytest.param(["a", "b"], '["a","b"]', id="list"),
    pytest.param(True, "true", id="bool"),
    pytest.param(7, "7", id="number"),
])
def test_header_values(value: Any, expected: str) -> None:
    assert header_value(value) == expected


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("ftp://host",), "http:// or https://", id="scheme"),
    pytest.param(("http://",), "http:// or https://", id="no-host"),
    pytest.param(("http://h/?q=1",), "query", id="query"),
    pytest.param(("http://u:p@h/",), "credentials", id="credentials"),
    pytest.param(("http://h:99999/",), "invalid port", id="port"),
    pytest.param(("http://h", {"sub": "X Bad"}), "not a usable header name", id="header-space"),
    pytest.param(("http://h", {"sub": "Connection"}), "manages", id="hop-header"),
    pytest.param(("http://h", {"sub": "X-A", "b": "x-a"}), "given twice", id="same-key"),
])
def test_proxy_settings_that_cannot_work(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ReverseProxy(*args)


SECRET = "proxy-test-secret-" + "x" * 40


@pytest.mark.parametrize(("options", "cookies", "param", "header"), [
    pytest.param({}, ("access_token_cookie", "refresh_token_cookie", "csrf_access_token",
                      "csrf_refresh_token"), "jwt", "Authorization", id="default-names"),
    pytest.param({"access_cookie_name": "sid", "refresh_cookie_name": "rsid",
                  "access_csrf_cookie_name": "xa", "refresh_csrf_cookie_name": "xr",
                  "query_string_name": "t", "header_name": "X-Token", "header_type": ""},
                 ("sid", "rsid", "xa", "xr"), "t", "X-Token", id="custom-names"),
])
def test_forward_authorization_false_keeps_every_token_copy_away(
        upstream: str, options: dict[str, Any], cookies: tuple[str, ...], param: str,
        header: str) -> None:
    jwt = JWTManager(secret_key=SECRET, token_location=["headers", "cookies", "query_string"],
                     **options)
    token = jwt.create_access_token("carol")
    refresh = jwt.create_refresh_token("carol")
    proxy = ReverseProxy(upstream, {"sub": "X-User"}, forward_authorization=False, manager=jwt)
    # use_cookies=False: werkzeug's test client would replace a Cookie header with its jar
    client = Client(JWTMiddleware(proxy, jwt, routes={"/me": "required", "/pub": "public"}),
                    use_cookies=False)
    jar = "; ".join([f"{cookies[0]}={token}", "theme=dark", f"{cookies[1]}={refresh}",
                     f"{cookies[2]}=c1", f"{cookies[3]}=c2", "lang=en"])
    # a token in the cookies: the JWT and CSRF cookies go, the others stay as sent
    record = seen(client.get("/me", headers={"Cookie": jar}).get_data())
    assert values(record, "X-User") == ["carol"]
    assert values(record, "Cookie") == ["theme=dark; lang=en"]
    assert token not in json.dumps(record) and refresh not in json.dumps(record)
    # only token cookies: no Cookie header at all
    record = seen(client.get("/me", headers={"Cookie": f"{cookies[0]}={token}"}).get_data())
    assert "cookie" not in record["names"] and values(record, "X-User") == ["carol"]
    # a token in the query string, also under an encoded name: the rest kept byte for byte
    encoded = "".join(f"%{ord(c):02X}" for c in param)
    record = seen(client.get(f"/me?a=1&{param}={token}&b=%20+x&c").get_data())
    assert record["path"] == "/base/me?a=1&b=%20+x&c"
    assert values(record, "X-User") == ["carol"]
    # whether or not the middleware read it (this is a public path), an encoded name that
    # the upstream would decode to the parameter's name is removed too
    record = seen(client.get(f"/pub?{encoded}={token}&a=1").get_data())
    assert record["path"] == "/base/pub?a=1"
    # a token in the header (custom name too)
    value = f"Bearer {token}" if header == "Authorization" else token
    record = seen(client.get("/me", headers={header: value}).get_data())
    assert values(record, "X-User") == ["carol"] and token not in json.dumps(record)


def test_forward_authorization_true_passes_cookies_and_query_on(upstream: str) -> None:
    jwt = JWTManager(secret_key=SECRET, token_location=["cookies", "query_string"])
    token = jwt.create_access_token("dan")
    client = Client(JWTMiddleware(ReverseProxy(upstream, manager=jwt), jwt, routes={"/admin/*": "required"}),
                    use_cookies=False)
    cookie = {"Cookie": f"access_token_cookie={token}"}
    record = seen(client.get(f"/x?jwt={token}", headers=cookie).get_data())
    assert record["path"] == f"/base/x?jwt={token}"
    assert values(record, "Cookie") == [f"access_token_cookie={token}"]


def test_forward_authorization_false_with_json_tokens_is_refused(upstream: str,
                                                                tmp_path: Any) -> None:
    from jwt_wsgi.config import load_config

    jwt = JWTManager(secret_key=SECRET, token_location=["headers", "json"])
    fix = "remove 'json' from token_location, or set forward_authorization=True"
    with pytest.raises(ConfigError, match=re.escape(fix)):
        ReverseProxy(upstream, forward_authorization=False, manager=jwt)
    proxy = ReverseProxy(upstream, forward_authorization=False)  # e.g. the PasteDeploy app
    with pytest.raises(ConfigError, match=re.escape(fix)):
        proxy.use_manager(jwt)
    ReverseProxy(upstream, manager=jwt)  # forwarding the token anyway: nothing to hide
    path = tmp_path / "jwt.toml"
    path.write_text(f'[jwt]\nsecret_key = "{SECRET}"\ntoken_location = ["json"]\n'
                    f'[proxy]\nupstream = "{upstream}"\nforward_authorization = false\n')
    with pytest.raises(ConfigError, match=r"forward_authorization.*remove 'json'"):
        load_config(path)


def test_the_middleware_gives_a_bare_proxy_its_manager(upstream: str) -> None:
    from jwt_wsgi.config import build_config

    config = build_config({"secret_key": SECRET, "query_string_name": "tok",
                           "token_location": ["query_string"]}, {"/admin/*": "required"}, {})
    proxy = ReverseProxy(upstream, forward_authorization=False)
    token = config.manager.create_access_token("erin")
    record = seen(Client(config.wrap(proxy)).get(f"/x?tok={token}&k=v").get_data())
    assert proxy.manager is config.manager and record["path"] == "/base/x?k=v"
    # the repro of the review: JWTMiddleware(ReverseProxy(...)), names only in the manager
    jwt = JWTManager(secret_key=SECRET, token_location=["cookies"], access_cookie_name="sid")
    proxy = ReverseProxy(upstream, forward_authorization=False)
    client = Client(JWTMiddleware(proxy, jwt, routes={"/x": "required"}), use_cookies=False)
    token = jwt.create_access_token("erin")
    record = seen(client.get("/x", headers={"Cookie": f"sid={token}; a=b"}).get_data())
    assert proxy.manager is jwt and values(record, "Cookie") == ["a=b"]
    with pytest.raises(ConfigError, match="remove 'json'"):
        JWTMiddleware(ReverseProxy(upstream, forward_authorization=False),
                      JWTManager(secret_key=SECRET, token_location=["json"]), routes={"/admin/*": "required"})


@contextmanager
def running(server: Any) -> Iterator[tuple[str, int]]:
    """Serve ``server`` (any socketserver-style server) in a thread while the block runs."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()


def serving(app: Any) -> Any:
    return running(make_server("127.0.0.1", 0, app, threaded=True))


def test_request_bodies_are_held_to_max_body_size(upstream: str) -> None:
    jwt = JWTManager(secret_key=SECRET, max_body_size=1000, error_message_key="error")
    with serving(JWTMiddleware(ReverseProxy(upstream), jwt, routes={"/admin/*": "required"},
                               default="public")) as front:
        before = len(Echo.received)
        # a declared length over the limit: 413 before the proxy reads or connects
        status, _, raw = request(front, "POST", "/up", body=b"x" * 1001)
        assert (status, json.loads(raw)) == (413, {"error": "Request body too large"})
        # a chunked body: read up to the limit + 1, refused past it
        status, _, raw = request(front, "POST", "/up", body=iter([b"x" * 600] * 2),
                                 chunked=True)
        assert (status, json.loads(raw)) == (413, {"error": "Request body too large"})
        assert len(Echo.received) == before
        # at the limit, both ways, the body arrives whole
        status, _, raw = request(front, "POST", "/up", body=b"y" * 1000)
        assert status == 200 and seen(raw)["body"] == "y" * 1000
        status, _, raw = request(front, "PUT", "/up", body=iter([b"z" * 500] * 2), chunked=True)
        assert status == 200 and seen(raw)["body"] == "z" * 1000


@pytest.mark.parametrize("timeout", [
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="inf"),
    pytest.param(float("-inf"), id="minus-inf"),
    pytest.param(1e300, id="overflows-the-clock"),
    pytest.param(10**400, id="no-float-holds-it"),
])
def test_timeouts_that_cannot_work(timeout: float) -> None:
    # each of these raised ValueError or OverflowError out of every request (a 500)
    with pytest.raises(ConfigError, match=r"timeout must be a number of seconds above 0 "
                                          r"and at most 1e\+09, such as 30"):
        ReverseProxy("http://h", timeout=timeout)


@pytest.mark.parametrize(("upstream", "message"), [
    pytest.param("http://h/a b", r"space .* at position 10: .*percent-encode .*%20", id="space"),
    pytest.param("http://h/a\tb", r"control character \('\\t'\)", id="tab"),
    pytest.param("http://h/api\r\n", r"control character \('\\r'\) at position 12",
                 id="trailing-crlf"),
    pytest.param(" http://h/", r"space .* at position 0", id="leading-space"),
    pytest.param("http://h/a\x00", r"control character \('\\x00'\)", id="nul"),
    pytest.param("http://h/a\x7f", r"control character \('\\x7f'\)", id="del"),
    pytest.param("http://h/caf\u00e9", r"non-ASCII character 'é': percent-encode .*%C3%A9",
                 id="non-ascii-path"),
    pytest.param("http://[::1", r"not a valid URL", id="unclosed-bracket"),
])
def test_upstream_urls_that_cannot_work(upstream: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ReverseProxy(upstream)


@contextmanager
def wsgiref_front(app: Any) -> Iterator[tuple[str, int]]:
    """The stdlib's wsgiref server in front: it keeps obs-folds and absolute-form targets."""
    from wsgiref.simple_server import WSGIRequestHandler
    from wsgiref.simple_server import make_server as make_wsgiref_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with running(make_wsgiref_server("127.0.0.1", 0, app, handler_class=Quiet)) as address:
        yield address


def send_raw(front: tuple[str, int], head: bytes) -> bytes:
    """Send ``head`` as written (folds and all) and read the whole answer."""
    import socket

    with socket.create_connection(front, timeout=10) as connection:
        connection.sendall(head)
        answer = b""
        while block := connection.recv(65536):
            answer += block
    return answer


def header_lines(head: bytes) -> list[bytes]:
    return head.split(b"\r\n")[1:]


_FIELD_LINE = re.compile(rb"[A-Za-z0-9-]+: [^\r\n\x00]*")


@pytest.mark.parametrize(("line", "name", "value"), [
    pytest.param(b"X-Foo: a\r\n X-Jwt-Role: root", b"X-Foo", b"a X-Jwt-Role: root",
                 id="sp-fold"),
    pytest.param(b"X-Foo: a\r\n\tX-Jwt-Sub: mallory", b"X-Foo", b"a X-Jwt-Sub: mallory",
                 id="htab-fold"),
    pytest.param(b"X-Foo: a \r\n X-Jwt-Role: root\r\n  \tX_Jwt_Sub: m", b"X-Foo",
                 b"a X-Jwt-Role: root X_Jwt_Sub: m", id="two-folds"),
    pytest.param(b"Content-Type: text/plain\r\n X-Jwt-Role: root", b"Content-Type",
                 b"text/plain X-Jwt-Role: root", id="content-type"),
    pytest.param(b"X-Forwarded-For: 10.1.1.1\r\n X-Jwt-Role: root", b"X-Forwarded-For",
                 b"10.1.1.1 X-Jwt-Role: root, 127.0.0.1", id="x-forwarded-for"),
    pytest.param(b"Host: a\r\n X-Jwt-Role: root", b"X-Forwarded-Host", b"a X-Jwt-Role: root",
                 id="host"),
])
@pytest.mark.parametrize("route", ["public", "api"])
def test_obs_folds_are_forwarded_as_one_line(raw_upstream: tuple[str, list[bytes]],
                                             manager: JWTManager, line: bytes, name: bytes,
                                             value: bytes, route: str) -> None:
    # RFC 9112 5.2: each obs-fold becomes SP; the folded text stays in its own header, and
    # the only claim headers the upstream sees are the verified ones
    base, heads = raw_upstream
    app = JWTMiddleware(ReverseProxy(base, CLAIM_HEADERS), manager, routes=ROUTES)
    token = manager.create_access_token("alice", additional_claims={"role": "user"})
    host = b"" if line.startswith(b"Host:") else b"Host: a\r\n"
    auth = b"Authorization: Bearer %s\r\n" % token.encode() if route == "api" else b""
    with wsgiref_front(app) as front:
        answer = send_raw(front, b"GET /%s/x HTTP/1.1\r\n%s%s\r\n%sConnection: close\r\n\r\n"
                          % (route.encode(), host, line, auth))
    assert answer.startswith(b"HTTP/1.0 200 ") and len(heads) == 1
    lines = header_lines(heads[0])
    assert [field for field in lines if not _FIELD_LINE.fullmatch(field)] == []
    claims = [field for field in lines if field.lower().startswith((b"x-jwt", b"x_jwt"))]
    assert claims == ([b"X-Jwt-Sub: alice", b"X-Jwt-Role: user"] if route == "api" else [])
    assert [field for field in lines if field.lower().startswith(name.lower() + b":")] == [
        name + b": " + value]


@pytest.mark.parametrize(("raw", "value"), [
    pytest.param("a\r\nX-Jwt-Role: root", "a X-Jwt-Role: root", id="crlf-no-fold"),
    pytest.param("a\nX-Jwt-Role: root", "a X-Jwt-Role: root", id="bare-lf"),
    pytest.param("a\rX-Jwt-Role: root", "a X-Jwt-Role: root", id="bare-cr"),
    pytest.param("a\x00b", "a b", id="nul"),
    pytest.param("a \t\r\n \t b\r\n\r\n c", "a b c", id="blanks-around"),
])
def test_line_breaks_left_in_environ_values_become_one_space(
        raw_upstream: tuple[str, list[bytes]], manager: JWTManager, raw: str,
        value: str) -> None:
    # what other servers (or a layer in front) might leave in the environ: never a line of
    # its own upstream, never an exception out of http.client
    base, heads = raw_upstream
    client = Client(JWTMiddleware(ReverseProxy(base, CLAIM_HEADERS), manager, routes=ROUTES))
    response = client.get("/public/x", environ_overrides={"HTTP_X_FOO": raw})
    assert response.status_code == 200 and len(heads) == 1
    lines = header_lines(heads[0])
    assert [field for field in lines if not _FIELD_LINE.fullmatch(field)] == []
    assert [field for field in lines if field.startswith(b"X-Foo:")] == [
        b"X-Foo: " + value.encode()]
    assert not [field for field in lines if field.lower().startswith(b"x-jwt")]


@pytest.mark.parametrize(("target", "forwarded"), [
    pytest.param(b"http://internal.example/public/x", b"/public/x", id="path"),
    pytest.param(b"http://internal.example/public/x?a=1&b=%20", b"/public/x?a=1&b=%20",
                 id="query"),
    pytest.param(b"http://internal.example", b"/", id="no-path"),
    pytest.param(b"HTTPS://user@internal.example:8443/public/caf%C3%A9",
                 b"/public/caf%C3%A9", id="userinfo-port-non-ascii"),
    pytest.param(b"http://internal.example//public//x", b"//public//x", id="slashes-kept"),
])
@pytest.mark.parametrize("prefix", ["", "/base"])
def test_absolute_form_targets_go_upstream_in_origin_form(
        raw_upstream: tuple[str, list[bytes]], manager: JWTManager, target: bytes,
        forwarded: bytes, prefix: str) -> None:
    # RFC 9112 3.2.2: an origin takes the authority of an absolute-form target over Host;
    # the client's authority must not pick the upstream's virtual host
    base, heads = raw_upstream
    app = JWTMiddleware(ReverseProxy(base + prefix), manager, routes=ROUTES)
    with wsgiref_front(app) as front:
        answer = send_raw(front, b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                          % target)
    assert answer.startswith(b"HTTP/1.0 200 ") and len(heads) == 1
    assert heads[0].split(b"\r\n")[0] == b"GET %s%s HTTP/1.1" % (prefix.encode(), forwarded)
    assert b"internal.example" not in heads[0]
    assert b"Host: " + base.split("/")[2].encode() in header_lines(heads[0])


# -- second review round: what the proxy forwards must stay inside its prefix and be sendable

@pytest.mark.parametrize("target", [
    b"/../internal/secret", b"/public/../../internal/secret", b"/%2e%2e/internal/secret",
    b"/public/%2E%2E/%2e%2e/internal", b"/public/./x", b"/public/%252e%252e/x",
    b"/public/..%5cinternal", b"/public/..", b"/public/%252e%252e%252finternal",
    b"/public/..%252f", b"/public/%252e%252e%255cinternal"])
def test_dot_segments_are_never_forwarded(raw_upstream: tuple[str, list[bytes]],
                                          manager: JWTManager, target: bytes) -> None:
    """Under the prefix /public-api, /../internal would reach /internal at any upstream that
    resolves dot segments: the one subtree the operator exposed must hold."""
    base, heads = raw_upstream
    app = JWTMiddleware(ReverseProxy(base + "/public-api"), manager, routes=ROUTES)
    with wsgiref_front(app) as front:
        answer = send_raw(front, b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                          % target)
    assert answer.split(b"\r\n")[0] in (b"HTTP/1.0 400 Bad Request", b"HTTP/1.0 401 Unauthorized")
    assert heads == []


def test_dotted_names_are_still_forwarded(raw_upstream: tuple[str, list[bytes]],
                                          manager: JWTManager) -> None:
    base, heads = raw_upstream
    app = JWTMiddleware(ReverseProxy(base + "/public-api"), manager, routes=ROUTES)
    with wsgiref_front(app) as front:
        send_raw(front, b"GET /public/v1.2/..x/a.. HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert heads[0].split(b"\r\n")[0] == b"GET /public-api/public/v1.2/..x/a.. HTTP/1.1"


@pytest.mark.parametrize(("environ", "status"), [
    pytest.param({"QUERY_STRING": "q=caf\xc3\xa9&x=a b#f"}, 200, id="non-ascii-query"),
    pytest.param({"CONTENT_LENGTH": "\u00b2", "REQUEST_METHOD": "POST"}, 400,
                 id="superscript-content-length"),
    pytest.param({"CONTENT_LENGTH": "\u0663", "REQUEST_METHOD": "POST"}, 400,
                 id="arabic-digit-content-length"),
    pytest.param({"REQUEST_METHOD": "GE\x01T"}, 400, id="control-character-in-method"),
    pytest.param({"REQUEST_METHOD": "GET /x"}, 400, id="space-in-method"),
])
def test_client_input_http_client_cannot_send_is_a_clean_answer(
        raw_upstream: tuple[str, list[bytes]], manager: JWTManager,
        environ: dict[str, str], status: int) -> None:
    base, heads = raw_upstream
    app = JWTMiddleware(ReverseProxy(base), manager, routes=ROUTES)
    env = EnvironBuilder(path="/public/x").get_environ()
    env.update(environ)
    body, line, _headers = run_wsgi_app(app, env, buffered=True)
    assert int(line.split()[0]) == status, (line, b"".join(body))
    if status == 200:
        assert heads[0].split(b"\r\n")[0] == b"GET /public/x?q=caf%C3%A9&x=a%20b%23f HTTP/1.1"
    else:
        assert heads == []
