"""Paths and methods: encoding and normalisation tricks against protected rules.

PATH_INFO is set exactly as a server would deliver it (already percent-decoded once,
latin-1 text of the UTF-8 bytes per PEP 3333), so each case is what reaches the
middleware, not what the client typed. Expectations:

- ``protected``: refused without a token (401, app not called), let through with one;
- ``public``: let through without a token;
- ``bad``: 400 ``invalid_request`` with or without a token (control characters).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import NOW, SECRET, Recorder, call, manager, sign, wrap

ROUTES = {
    "/admin/*": "required",
    "/secret": "required",
    "/api/users/<int:user_id>": "required",
    "GET /reports": "required",
    "POST,DELETE /items/*": "required",
    "/caf\u00e9/*": "required",
    "/snow\u2603/*": "required",
    "/public/*": "public",
    "/static/<path:rest>": "public",
}
TOKEN = sign({"alg": "HS256", "typ": "JWT"},
             {"sub": "alice", "iat": NOW, "jti": "j", "type": "access", "exp": NOW + 600},
             SECRET.encode())
PREFLIGHT = {"HTTP_ORIGIN": "https://a.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}


def latin1(text: str) -> str:
    """What a PEP 3333 server puts in PATH_INFO for this (UTF-8) text."""
    return text.encode("utf-8").decode("latin-1")


def attempt(path: str, method: str = "GET", with_token: bool = False,
            environ: dict[str, Any] | None = None, **options: Any) -> tuple[int, int]:
    app = Recorder()
    middleware = wrap(app, manager(), ROUTES, **options)
    headers = {"Authorization": f"Bearer {TOKEN}"} if with_token else {}
    answer = call(middleware, path, method, headers, **(environ or {}))
    return answer.status, app.calls


def check(expected: str, path: str, method: str = "GET", environ: dict[str, Any] | None = None,
          **options: Any) -> None:
    without = attempt(path, method, False, environ, **options)
    with_token = attempt(path, method, True, environ, **options)
    if expected == "protected":
        assert without == (401, 0)
        assert with_token == (200, 1)
    elif expected == "public":
        assert without == (200, 1)
    else:
        assert without == (400, 0) and with_token == (400, 0)


PATH_CASES = [
    # dot segments and slashes
    ("protected", "/admin", "prefix-itself"),
    ("protected", "/admin/", "prefix-trailing-slash"),
    ("protected", "/admin/x/y", "below-prefix"),
    ("protected", "//admin", "leading-double-slash"),
    ("protected", "///admin/x", "leading-triple-slash"),
    ("protected", "/admin//x", "inner-double-slash"),
    ("protected", "/./admin", "dot-segment"),
    ("protected", "/admin/.", "trailing-dot-segment"),
    ("protected", "/public/../admin", "dot-dot-out-of-public"),
    ("protected", "/public/./../admin", "dot-then-dot-dot"),
    ("protected", "/../admin", "dot-dot-above-root"),
    ("protected", "/..//admin", "dot-dot-double-slash"),
    ("protected", "/static/../admin", "dot-dot-out-of-path-converter"),
    ("protected", "/public/x/../../admin/y", "two-levels-up"),
    ("protected", "/secret/", "exact-rule-trailing-slash"),
    ("protected", "//secret//", "exact-rule-slashes"),
    ("protected", "/secret/.", "exact-rule-dot"),
    ("protected", "/api/users/1", "converter-rule"),
    ("protected", "/api/users/1/", "converter-trailing-slash"),
    ("protected", "//api//users//1", "converter-repeated-slashes"),
    ("protected", "/public/../api/users/7", "converter-dot-dot"),
    # backslashes (Windows-style separators some stacks accept)
    ("protected", "/public/..\\admin", "backslash-separator"),
    ("protected", "/public\\..\\admin", "backslash-everywhere"),
    # encoded characters left in PATH_INFO (a client double-encoded, a proxy decodes again)
    ("protected", "/public/..%2fadmin", "encoded-slash"),
    ("protected", "/public/..%2Fadmin", "encoded-slash-upper"),
    ("protected", "/public/%2e%2e/admin", "encoded-dots"),
    ("protected", "/public/%2E%2E/admin", "encoded-dots-upper"),
    ("protected", "/public/.%2e/admin", "half-encoded-dots"),
    ("protected", "/public/%2e%2e%2fadmin", "encoded-dots-and-slash"),
    ("protected", "/public/%5c..%5cadmin", "encoded-backslash"),
    ("protected", "/%61dmin", "encoded-letter"),
    ("protected", "/adm%69n/x", "encoded-letter-middle"),
    ("protected", "/%2561dmin", "double-encoded-letter"),
    ("protected", "/%252561dmin", "triple-encoded-letter"),
    ("protected", "/public/%252e%252e/admin", "double-encoded-dots"),
    ("protected", "/public/..%252fadmin", "double-encoded-slash"),
    ("protected", "/%2fadmin", "encoded-leading-slash"),
    ("protected", "/%73ecret", "encoded-exact-rule"),
    ("protected", "/api/users/%31", "encoded-converter-value"),
    ("protected", "/%61dmin/%2e%2e", "decoded-without-normalising-admin-dot-dot"),
    ("protected", "/%61dmin/..", "encoded-prefix-literal-dot-dot"),
    # PEP 3333: PATH_INFO is latin-1 text of the UTF-8 bytes
    ("protected", latin1("/caf\u00e9"), "utf8-bytes-as-latin1"),
    ("protected", latin1("/caf\u00e9/menu"), "utf8-bytes-as-latin1-below"),
    ("protected", "/caf%C3%A9", "utf8-percent-encoded"),
    ("protected", "/caf%c3%a9/x", "utf8-percent-encoded-lower"),
    ("protected", "/public/../caf%C3%A9", "utf8-encoded-dot-dot"),
    ("protected", latin1("/snow\u2603"), "three-byte-utf8-as-latin1"),
    ("protected", "/snow\u2603", "non-pep3333-str-from-a-broken-server"),
    ("protected", "/snow%E2%98%83/x", "three-byte-utf8-percent-encoded"),
    ("protected", "/admin/\udcff", "surrogateescaped-byte-below-prefix"),
    ("protected", "http://127.0.0.1/admin", "absolute-form-left-in-path-info"),
    ("protected", "HTTPS://example.com:443/public/../admin/x", "absolute-form-with-dot-dot"),
    ("protected", "http://x/%61dmin", "absolute-form-encoded"),
    # public paths stay public
    ("public", "/", "root"),
    ("public", "", "empty-path-info"),
    ("public", "/public/admin", "public-subpath-named-admin"),
    ("public", "/static/admin/x", "path-converter-public"),
    ("public", "/adminx", "prefix-is-a-segment-not-a-string"),
    ("public", "/administrator", "longer-segment"),
    ("public", "/api/users/abc", "converter-rejects-value"),
    ("public", "/secretx", "exact-rule-longer"),
    ("public", "/public/%2e%2e", "encoded-dots-to-root"),
    # control characters are a 400 wherever they appear, also once decoded
    ("bad", "/admin\x00", "nul"),
    ("bad", "/public/\x00/../admin", "nul-in-public"),
    ("bad", "/admin%00", "encoded-nul"),
    ("bad", "/public/%2500", "double-encoded-nul"),
    ("bad", "/x\t", "tab"),
    ("bad", "/x\ny", "line-feed"),
    ("bad", "/admin\r", "carriage-return"),
    ("bad", "/x\x7f", "delete-char"),
    ("bad", "/admin%0d%0aX: y", "encoded-crlf"),
    ("bad", "/public/%1b", "encoded-escape"),
    ("bad", "/admin/\udfff", "lone-low-surrogate"),
    ("bad", "/public/\ud800x", "lone-high-surrogate"),
]


@pytest.mark.parametrize(("expected", "path"), [pytest.param(e, p, id=i) for e, p, i in PATH_CASES])
def test_path_readings(expected: str, path: str) -> None:
    check(expected, path)


METHOD_CASES = [
    pytest.param("protected", "GET", "/reports", None, {}, id="get-rule"),
    pytest.param("protected", "HEAD", "/reports", None, {}, id="head-checked-like-get"),
    pytest.param("protected", "get", "/reports", None, {}, id="lowercase-get"),
    pytest.param("protected", "hEaD", "/reports", None, {}, id="mixed-case-head"),
    pytest.param("public", "POST", "/reports", None, {}, id="other-method-not-in-rule"),
    pytest.param("protected", "POST", "/items/1", None, {}, id="post-rule"),
    pytest.param("protected", "post", "/items/1", None, {}, id="lowercase-post"),
    pytest.param("protected", "DELETE", "//items/../items/1", None, {}, id="delete-with-dot-segments"),
    pytest.param("public", "GET", "/items/1", None, {}, id="get-not-in-post-rule"),
    pytest.param("public", "HEAD", "/items/1", None, {}, id="head-not-in-post-rule"),
    pytest.param("protected", "PROPFIND", "/admin", None, {}, id="unknown-method-any-method-rule"),
    pytest.param("protected", "", "/admin", None, {}, id="empty-method"),
    pytest.param("public", "OPTIONS", "/admin", PREFLIGHT, {}, id="options-cors-preflight"),
    pytest.param("public", "options", "/admin", PREFLIGHT, {}, id="lowercase-options-preflight"),
    pytest.param("protected", "OPTIONS", "/admin", None, {}, id="options-without-preflight-headers"),
    pytest.param("protected", "OPTIONS", "/admin", {"HTTP_ORIGIN": "https://a"}, {},
                 id="options-origin-only"),
    pytest.param("protected", "OPTIONS", "/admin", {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"},
                 {}, id="options-request-method-only"),
    pytest.param("protected", "OPTIONS", "/admin", PREFLIGHT, {"cors_preflight": False},
                 id="preflight-pass-through-turned-off"),
    pytest.param("protected", "GET", "/admin", PREFLIGHT, {}, id="preflight-headers-on-get"),
    pytest.param("public", "GET", "/x", {"SCRIPT_NAME": "/admin"}, {},
                 id="script-name-is-the-mount-point-not-routed"),
    pytest.param("protected", "POST", "/reports", {"HTTP_X_HTTP_METHOD_OVERRIDE": "GET"}, {},
                 id="post-overridden-to-get-rule"),
    pytest.param("protected", "GET", "/items/1", {"HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE"}, {},
                 id="get-overridden-to-delete-rule"),
    pytest.param("protected", "GET", "/items/1", {"HTTP_X_HTTP_METHOD": "post"}, {},
                 id="x-http-method-lowercase"),
    pytest.param("protected", "PUT", "/items/1", {"HTTP_X_METHOD_OVERRIDE": " POST "}, {},
                 id="x-method-override-with-spaces"),
    pytest.param("public", "GET", "/items/1", {"HTTP_X_HTTP_METHOD_OVERRIDE": "PUT"}, {},
                 id="override-to-an-unprotected-method"),
    pytest.param("protected", "POST", "/admin", {"HTTP_X_HTTP_METHOD_OVERRIDE": "GET"}, {},
                 id="override-never-loosens"),
    pytest.param("protected", "OPTIONS", "/admin",
                 {**PREFLIGHT, "HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE"}, {},
                 id="preflight-with-method-override-is-no-preflight"),
    pytest.param("protected", "OPTIONS", "/items/1",
                 {**PREFLIGHT, "HTTP_X_METHOD_OVERRIDE": "POST"}, {},
                 id="preflight-overridden-to-a-protected-method"),
]


@pytest.mark.parametrize(("expected", "method", "path", "environ", "options"), METHOD_CASES)
def test_methods(expected: str, method: str, path: str, environ: dict[str, Any] | None,
                 options: dict[str, Any]) -> None:
    check(expected, path, method, environ, **options)


def test_deny_by_default_covers_empty_and_odd_paths() -> None:
    for path in ("", "/", "//", "/.", "/%2e", "/anything"):
        app = Recorder()
        answer = call(wrap(app, manager(), {"/health": "public"}, default="required"), path)
        assert (answer.status, app.calls) == (401, 0), path


# -- property: any reading that reaches a protected rule protects the request ---------------------

SEGMENTS = ["admin", "secret", "public", "static", "x", "", ".", "..", "%2e", "%2E", "%2e%2e",
            ".%2e", "%2f", "%2F", "%5c", "\\", "%25", "%252e%252e", "%252f", "%61dmin", "%2561dmin",
            "adm%69n", "%73ecret", "admin;x", "%20", "%", "%zz", latin1("\u00e9"), "ADMIN", "?"]


def _decode(path: str) -> str:
    return unquote_to_bytes(path.encode("latin-1")).decode("latin-1")


def _normalise(path: str) -> list[str]:
    out: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    return out


def oracle_protected(path: str) -> bool:
    """An independent model: the path raw or decoded up to three times, normalised or not."""
    forms = [path]
    for _ in range(3):
        forms.append(_decode(forms[-1]))
    for form in forms:
        raw = form.split("/")
        for segments in (_normalise(form), raw[1:] if raw[0] == "" else raw):
            if segments[:1] == ["admin"] or segments in (["secret"], ["secret", ""]):
                return True
    return False


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(SEGMENTS),
                          st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6)),
                min_size=1, max_size=7),
       st.sampled_from(["/", "//", "/./", "\\"]))
def test_property_no_protected_reading_reaches_the_app_without_a_token(
        segments: list[str], lead: str) -> None:
    path = lead + "/".join(segments)
    app = Recorder()
    answer = call(wrap(app, manager(), ROUTES), path)
    assert answer.status != 500
    if oracle_protected(path):
        assert app.calls == 0 and answer.status in (400, 401), path


# -- the same tricks through real servers: what wsgiref and werkzeug really deliver ---------------

RAW_TARGETS = [
    pytest.param("/admin", id="plain"),
    pytest.param("//admin", id="double-slash"),
    pytest.param("/public/../admin", id="dot-dot"),
    pytest.param("/public/%2e%2e/admin", id="encoded-dots"),
    pytest.param("/public/..%2fadmin", id="encoded-slash"),
    pytest.param("/public/%252e%252e/admin", id="double-encoded-dots"),
    pytest.param("/%61dmin/x", id="encoded-letter"),
    pytest.param("/%2561dmin", id="double-encoded-letter"),
    pytest.param("/caf%C3%A9/x", id="utf8-encoded"),
    pytest.param("/public/..\\admin", id="backslash"),
    pytest.param("/admin%00", id="encoded-nul"),
    pytest.param("/admin?x=/public", id="query-looks-public"),
    pytest.param("/%2fadmin", id="encoded-leading-slash"),
    pytest.param("http://127.0.0.1/admin", id="absolute-form"),
    pytest.param("http://127.0.0.1//admin/x", id="absolute-form-double-slash"),
]


def _serve(kind: str, app: Any) -> Any:
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from werkzeug.serving import make_server as werkzeug_server

    if kind == "wsgiref":
        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    else:
        server = werkzeug_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


def _raw_get(port: int, target: str, token: str | None) -> int:
    import socket

    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("server_kind", ["wsgiref", "werkzeug"])
def test_real_servers_never_let_a_protected_path_through(server_kind: str) -> None:
    app = Recorder()
    server = _serve(server_kind, wrap(app, manager(), ROUTES))
    port = server.server_address[1] if server_kind == "wsgiref" else server.port
    try:
        for param in RAW_TARGETS:
            target = param.values[0]
            before = app.calls
            status = _raw_get(port, target, None)
            assert status in (400, 401), (target, status)
            assert app.calls == before, target
            with_token = _raw_get(port, target, TOKEN)
            assert with_token == (400 if "%00" in target else 200), (target, with_token)
    finally:
        server.shutdown()
        server.server_close()


# -- methods and CSRF: a cookie token on a state-changing method needs the double submit ---------

CSRF_CASES = [
    pytest.param("GET", None, 200, id="get-needs-no-proof"),
    pytest.param("HEAD", None, 200, id="head-needs-no-proof"),
    pytest.param("POST", None, 401, id="post-without-proof"),
    pytest.param("POST", "wrong", 401, id="post-wrong-proof"),
    pytest.param("POST", "", 401, id="post-empty-proof"),
    pytest.param("POST", "{csrf}", 200, id="post-right-proof"),
    pytest.param("post", None, 401, id="lowercase-post-without-proof"),
    pytest.param("pOsT", "{csrf}", 200, id="mixed-case-post-right-proof"),
    pytest.param("PUT", None, 401, id="put-without-proof"),
    pytest.param("PATCH", None, 401, id="patch-without-proof"),
    pytest.param("delete", None, 401, id="lowercase-delete-without-proof"),
]


@pytest.mark.parametrize(("method", "proof", "status"), CSRF_CASES)
def test_cookie_tokens_need_csrf_proof_on_state_changing_methods(method: str, proof: str | None,
                                                                 status: int) -> None:
    jwt = manager(token_location=["cookies"])
    token = jwt.create_access_token("alice")
    csrf = jwt.decode_token(token)["csrf"]
    headers = {"Cookie": f"access_token_cookie={token}"}
    if proof is not None:
        headers["X-CSRF-TOKEN"] = proof.format(csrf=csrf)
    app = Recorder()
    answer = call(wrap(app, jwt, {"/p": "required"}), "/p", method, headers)
    assert (answer.status, app.calls) == (status, 1 if status == 200 else 0)
    assert csrf not in answer.body.decode() and token not in answer.body.decode()


def test_csrf_proof_is_not_needed_for_header_tokens() -> None:
    jwt = manager(token_location=["headers", "cookies"])
    app = Recorder()
    answer = call(wrap(app, jwt, {"/p": "required"}), "/p", "POST",
                  {"Authorization": f"Bearer {jwt.create_access_token('alice')}"})
    assert (answer.status, app.calls) == (200, 1)


# -- property: the merged policy of ambiguous readings is at least as strict as each ---------------

_RANK = {"public": 0, "optional": 1, "required": 2, "fresh": 3}
policies = st.fixed_dictionaries({"require": st.sampled_from(list(_RANK)),
                                  "scopes": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2,
                                                     unique=True)}).map(
    lambda p: {"require": p["require"]} if p["require"] == "public" else p)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(policies, policies, policies, st.sampled_from(["/public/../admin/x", "/%61dmin/%2e%2e",
                                                      "/admin/%2e%2e/public", "//admin//x",
                                                      "/public/%2e%2e/secret", "/%73ecret/"]))
def test_property_merged_policy_is_as_strict_as_every_reading(
        admin: dict[str, Any], public: dict[str, Any], secret: dict[str, Any], path: str) -> None:
    from jwt_wsgi import ConfigError
    from jwt_wsgi.routes import RouteTable, readings

    routes = {"/admin/*": admin, "/public/*": public, "/secret": secret}
    if all(policy["require"] == "public" for policy in routes.values()):
        with pytest.raises(ConfigError, match="protects nothing"):
            RouteTable(routes)
        return
    table = RouteTable(routes)
    merged = table.resolve("GET", path)
    for reading in readings(path):
        one = table.lookup("GET", reading)
        if one.protected:
            assert merged.protected, (path, reading)
            assert _RANK[merged.require] >= _RANK[one.require], (path, reading)
            assert set(merged.scopes) >= set(one.scopes), (path, reading)


def test_a_preflight_with_an_override_never_runs_the_overriding_method() -> None:
    """The usual Flask method-override snippet inside: OPTIONS + override must not become
    an unauthenticated DELETE."""
    from werkzeug.test import Client

    from jwt_wsgi import JWTManager, JWTMiddleware

    ran: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        ran.append(environ["REQUEST_METHOD"])
        start_response("204 No Content", [])
        return [b""]

    def method_override(inner: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            method = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
            if method in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}:
                environ["REQUEST_METHOD"] = method
            return inner(environ, start_response)
        return wrapped

    client = Client(JWTMiddleware(method_override(app), JWTManager(secret_key=SECRET),
                                  routes={"DELETE /items/*": "required"}))
    response = client.open("/items/1", method="OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE",
        "X-HTTP-Method-Override": "DELETE"})
    assert response.status_code == 401
    assert ran == []


@pytest.mark.parametrize("override", ["POST", "delete", " PUT "])
def test_csrf_applies_to_an_overridden_state_changing_method(override: str) -> None:
    from werkzeug.test import Client

    from jwt_wsgi import JWTManager, JWTMiddleware

    app = Recorder()
    jwt = JWTManager(secret_key=SECRET, token_location=["cookies"])
    client = Client(JWTMiddleware(app, jwt, routes={"/transfer": "required"}))
    client.set_cookie("access_token_cookie", jwt.create_access_token("alice"))
    response = client.get("/transfer", headers={"X-HTTP-Method-Override": override})
    assert response.status_code == 401 and "CSRF" in response.get_data(as_text=True)
    assert app.calls == 0
    assert client.get("/transfer").status_code == 200  # a plain GET needs no proof
