"""ForwardAuth as a WSGI app: header forms (nginx, Caddy, Traefik, Envoy), trusted peers,
answers, and the same verdict as JWTMiddleware for every path attack of tests/security.

Traefik and Envoy are not packaged here: their requests are written out below as they
send them (Traefik: a GET with X-Forwarded-Method/-Uri/-Host/-Proto; Envoy ext_authz:
the original method, path_prefix + the original path, allowed headers only).
"""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest

from jwt_wsgi import ConfigError, ForwardAuth, JWTManager, SecurityWarning
from jwt_wsgi.cli import main
from jwt_wsgi.config import load_config
from tests.harness import NOW, SECRET, Answer, Recorder, call, manager, wrap
from tests.security import test_paths_methods as paths
from tests.security import test_router_readings as readings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "forward_auth"
PEER = {"REMOTE_ADDR": "127.0.0.1"}
ROUTES = {"/admin/*": "required", "/api/*": {"require": "required", "scopes": ["read"]},
          "/public/*": "public"}


def auth(**options: Any) -> ForwardAuth:
    jwt = JWTManager(secret_key=SECRET)
    jwt.codec.clock = lambda: float(NOW)
    return ForwardAuth(jwt, options.pop("routes", ROUTES), **options)


def ask(app: ForwardAuth, headers: dict[str, str], method: str = "GET", path: str = "/auth",
        **environ: Any) -> Answer:
    return call(app, path, method, headers, **{**PEER, **environ})


def forwarded(uri: str, method: str = "GET", **extra: str) -> dict[str, str]:
    return {"X-Forwarded-Method": method, "X-Forwarded-Uri": uri, **extra}


TOKEN = paths.TOKEN  # alice, HS256 with tests.conftest.SECRET


# -- the request forms proxies send ----------------------------------------------------------------

FORMS = [
    pytest.param({}, forwarded("/admin/x"), "GET", "/_auth", id="caddy"),
    pytest.param({}, {"X-Original-Method": "GET", "X-Original-URI": "/admin/x"}, "GET", "/_auth",
                 id="nginx"),
    pytest.param({}, {**forwarded("/admin/x"), "X-Forwarded-Proto": "https",
                      "X-Forwarded-Host": "app.example", "X-Forwarded-For": "203.0.113.9"},
                 "GET", "/_auth", id="traefik"),
    pytest.param({"path_prefix": "/_auth"}, {}, "GET", "/_auth/admin/x", id="envoy"),
    pytest.param({"form": "x-original"}, {"X-Original-Method": "GET",
                                          "X-Original-URI": "/admin/x"}, "GET", "/", id="pinned"),
]


@pytest.mark.parametrize(("options", "headers", "method", "path"), FORMS)
def test_each_proxy_form_is_judged(options: dict[str, Any], headers: dict[str, str],
                                   method: str, path: str) -> None:
    app = auth(**options)
    refused = ask(app, headers, method, path)
    assert refused.status == 401 and refused.header("WWW-Authenticate") == "Bearer"
    assert refused.json == {"msg": "Missing Authorization Header"}
    allowed = ask(app, {**headers, "Authorization": f"Bearer {TOKEN}"}, method, path)
    assert (allowed.status, allowed.header("X-Auth-User")) == (200, "alice")
    assert allowed.header("Cache-Control") == "no-store"
    public = {key: value.replace("/admin/", "/public/") for key, value in headers.items()}
    assert ask(app, public, method, path.replace("/admin/", "/public/")).status == 200


ENVOY = [
    pytest.param("POST", "/_auth/admin/x", {}, 401, id="method-is-the-request-s-own"),
    pytest.param("GET", "/_auth", {}, 200, id="prefix-alone-is-the-root"),
    pytest.param("GET", "/_authx/admin", {}, 400, id="prefix-must-end-at-a-segment"),
    pytest.param("GET", "/admin", {}, 400, id="outside-the-prefix"),
    pytest.param("GET", "/_auth/public/../admin", {}, 401, id="dot-dot-after-prefix"),
    pytest.param("GET", "/_auth/public", forwarded("/admin"), 200, id="headers-ignored"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status"), ENVOY)
def test_envoy_path_prefix_form(method: str, path: str, headers: dict[str, str],
                                status: int) -> None:
    assert ask(auth(path_prefix="/_auth"), headers, method, path).status == status


# -- who may ask, and what a description must hold -------------------------------------------------

PEERS = [
    pytest.param("127.0.0.1", 401, id="trusted"),
    pytest.param("::ffff:127.0.0.1", 401, id="ipv4-mapped"),
    pytest.param("10.1.2.3", 403, id="other-address"),
    pytest.param("127.0.0.2", 403, id="neighbour-outside-the-32"),
    pytest.param("", 403, id="empty"),
    pytest.param("unix-socket", 403, id="not-an-address"),
]


@pytest.mark.parametrize(("peer", "status"), PEERS)
def test_only_trusted_proxies_are_believed(peer: str, status: int) -> None:
    outcomes: list[str] = []
    app = auth(on_outcome=lambda outcome, environ: outcomes.append(outcome))
    # a valid token and a public-looking description: an untrusted peer still gets nothing
    answer = ask(app, forwarded("/admin/x"), REMOTE_ADDR=peer)
    assert answer.status == status
    if status == 403:
        assert answer.json == {"msg": "Not a trusted proxy"} and outcomes == []
        with_token = ask(app, {**forwarded("/public/x"), "Authorization": f"Bearer {TOKEN}"},
                         REMOTE_ADDR=peer)
        assert with_token.status == 403 and with_token.header("X-Auth-User") is None


DESCRIPTIONS = [
    pytest.param({}, "Missing", id="nothing"),
    pytest.param({"X-Forwarded-Uri": "/admin"}, "Incomplete", id="uri-without-method"),
    pytest.param({"X-Original-Method": "GET"}, "Incomplete", id="method-without-uri"),
    pytest.param({**forwarded("/admin"), "X-Original-Method": "GET", "X-Original-URI": "/public"},
                 "Conflicting", id="client-sent-the-other-form"),
    pytest.param(forwarded("/admin", "G(ET"), "Invalid original method", id="bad-method"),
    pytest.param(forwarded("/public#/../admin"), "Fragment", id="fragment"),
    pytest.param(forwarded("/admin%00"), "Invalid characters", id="encoded-nul"),
]


@pytest.mark.parametrize(("headers", "message"), DESCRIPTIONS)
def test_a_bad_description_is_a_400(headers: dict[str, str], message: str) -> None:
    answer = ask(auth(), {**headers, "Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 400
    assert answer.json["msg"].startswith(message)


def test_a_pinned_form_ignores_the_other_one() -> None:
    app = auth(form="x-original")
    forged = {**forwarded("/public"), "X-Original-Method": "GET", "X-Original-URI": "/admin"}
    assert ask(app, forged).status == 401
    assert ask(app, forwarded("/public")).status == 400  # the pinned form is missing


TARGETS = [
    pytest.param("http://app.example/admin/x?y=1", 401, id="absolute-form"),
    pytest.param("HTTPS://app.example", 200, id="absolute-form-no-path"),
    pytest.param("/public/x?next=/admin", 200, id="query-is-not-the-path"),
    pytest.param("/public/%2e%2e/admin", 401, id="encoded-dot-dot"),
    pytest.param("/public/x?a=1#frag", 400, id="fragment-after-query"),
]


@pytest.mark.parametrize(("uri", "status"), TARGETS)
def test_forwarded_uris(uri: str, status: int) -> None:
    assert ask(auth(), forwarded(uri)).status == status


def test_the_query_string_reaches_the_token_finder() -> None:
    jwt = JWTManager(secret_key=SECRET, token_location=["query_string"])
    jwt.codec.clock = lambda: float(NOW)
    app = ForwardAuth(jwt, ROUTES)
    assert ask(app, forwarded(f"/admin/x?jwt={TOKEN}")).status == 200
    assert ask(app, forwarded("/admin/x?other=1")).status == 401


# -- answers ----------------------------------------------------------------------------------------

CLAIM_VALUES = [
    pytest.param("alice", "alice", id="plain-string"),
    pytest.param(42, "42", id="number-as-json"),
    pytest.param(["a", "b"], '["a","b"]', id="list-as-json"),
    pytest.param({"k": 1}, '{"k":1}', id="object-as-json"),
    pytest.param("evil\r\nX-Auth-User: root", '"evil\\r\\nX-Auth-User: root"', id="crlf-escaped"),
    pytest.param("zo\u00eb", '"zo\\u00eb"', id="non-ascii-escaped"),
    pytest.param(" padded ", '" padded "', id="spaces-kept-as-json"),
    pytest.param("42", '"42"', id="string-that-parses-as-json"),
]


@pytest.mark.parametrize(("value", "header"), CLAIM_VALUES)
def test_claim_headers_are_sanitised(value: Any, header: str) -> None:
    jwt = JWTManager(secret_key=SECRET)
    jwt.codec.clock = lambda: float(NOW)
    app = ForwardAuth(jwt, ROUTES, claim_headers={"sub": "X-Auth-User", "role": "X-Auth-Role"})
    token = jwt.create_access_token("alice", additional_claims={"role": value})
    answer = ask(app, {**forwarded("/admin/x"), "Authorization": f"Bearer {token}"})
    assert answer.status == 200
    assert answer.header("X-Auth-Role") == header
    assert header == value or json.loads(header) == value


def test_client_sent_claim_headers_are_never_echoed() -> None:
    answer = ask(auth(), {**forwarded("/public/x"), "X-Auth-User": "mallory"})
    assert answer.status == 200 and answer.header("X-Auth-User") is None


def test_a_missing_scope_is_the_responders_403() -> None:
    answer = ask(auth(), {**forwarded("/api/x"), "Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 403
    assert 'error="insufficient_scope"' in (answer.header("WWW-Authenticate") or "")


def test_the_original_method_decides_csrf_cors_and_head() -> None:
    jwt = JWTManager(secret_key=SECRET, token_location=["cookies"])
    jwt.codec.clock = lambda: float(NOW)
    app = ForwardAuth(jwt, ROUTES)
    token = jwt.create_access_token("alice")
    cookie = {"Cookie": f"access_token_cookie={token}"}
    csrf = jwt.decode_token(token)["csrf"]
    assert ask(app, {**forwarded("/admin/x"), **cookie}).status == 200
    assert ask(app, {**forwarded("/admin/x", "POST"), **cookie}).status == 401
    assert ask(app, {**forwarded("/admin/x", "post"), **cookie, "X-CSRF-TOKEN": csrf}).status == 200
    # the subrequest's own method (POST from Envoy-like callers) does not matter
    assert ask(app, {**forwarded("/admin/x"), **cookie}, method="POST").status == 200
    preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "DELETE"}
    assert ask(app, {**forwarded("/admin/x", "OPTIONS"), **preflight}).status == 200
    assert ask(app, forwarded("/admin/x", "OPTIONS")).status == 401
    assert ask(app, forwarded("/admin/x", "HEAD")).status == 401


# -- construction ------------------------------------------------------------------------------------

BAD_OPTIONS = [
    pytest.param({"trusted_proxies": []}, "trusted_proxies", id="no-proxies"),
    pytest.param({"trusted_proxies": "127.0.0.1/32"}, "trusted_proxies", id="a-string"),
    pytest.param({"trusted_proxies": ["127.0.0.1/8"]}, "not a CIDR", id="host-bits-set"),
    pytest.param({"trusted_proxies": ["localhost"]}, "not a CIDR", id="a-name"),
    pytest.param({"claim_headers": {"sub": "X Auth"}}, "usable header", id="bad-header-name"),
    pytest.param({"claim_headers": {"sub": "WWW-Authenticate"}}, "frames", id="reserved-header"),
    pytest.param({"claim_headers": {"sub": "X-A", "role": "x-a"}}, "twice", id="twice"),
    pytest.param({"form": "traefik"}, "form must be", id="unknown-form"),
    pytest.param({"form": "envoy"}, "path_prefix", id="envoy-without-prefix"),
    pytest.param({"form": "x-original", "path_prefix": "/a"}, "path_prefix", id="prefix-no-envoy"),
    pytest.param({"path_prefix": "/a/"}, "plain path", id="prefix-trailing-slash"),
    pytest.param({"path_prefix": "/a/../b"}, "plain path", id="prefix-dot-dot"),
    pytest.param({"routes": {"/x": {"require": "required", "locations": ["nowhere"]}}},
                 "locations", id="bad-route"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_unworkable_options_are_refused_at_construction(options: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        auth(**options)


def test_json_token_locations_cannot_work_in_a_subrequest() -> None:
    with pytest.raises(ConfigError, match="JSON body"):
        ForwardAuth(JWTManager(secret_key=SECRET, token_location=["headers", "json"]), ROUTES)


def test_trusting_everyone_warns() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auth(trusted_proxies=["0.0.0.0/0"])
    assert any(issubclass(w.category, SecurityWarning) for w in caught)


# -- one implementation: every path attack of tests/security, through X-Forwarded-Uri ---------------

def as_uri(path_info: str) -> tuple[str, str]:
    """The request target a client sends for this PATH_INFO, and the PATH_INFO a server
    makes of it again (the same, unless no bytes could have given this PATH_INFO)."""
    try:
        raw = path_info.encode("latin-1")
    except UnicodeEncodeError:
        raw = path_info.encode("utf-8", "surrogatepass")
    uri = quote(raw, safe="/:@!$&'()*+,;=-._~\\")
    return uri, unquote_to_bytes(uri).decode("latin-1")


def verdicts(app: Any, path: str, method: str, environ: dict[str, Any],
             forward: bool) -> tuple[int, int]:
    results = []
    for token in (None, TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update({k[5:].replace("_", "-"): v for k, v in environ.items()
                        if k.startswith("HTTP_")})
        extra = {k: v for k, v in environ.items() if not k.startswith("HTTP_")}
        if forward:
            uri, _ = as_uri(path)
            answer = ask(app, {**headers, **forwarded(uri or "/", method)}, **extra)
        else:
            answer = call(app, path, method, headers, **extra)
        results.append(answer.status)
    return results[0], results[1]


def middleware_and_forward_auth(routes: dict[str, Any], path: str, method: str = "GET",
                                environ: dict[str, Any] | None = None,
                                **options: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    _, delivered = as_uri(path)
    middleware = wrap(Recorder(), manager(), routes, **options)
    forward = ForwardAuth(manager(), routes, **options)
    return (verdicts(middleware, delivered, method, environ or {}, False),
            verdicts(forward, path, method, environ or {}, True))


@pytest.mark.parametrize(("expected", "path"),
                         [pytest.param(e, p, id=i) for e, p, i in paths.PATH_CASES])
def test_path_cases_same_verdict_through_x_forwarded_uri(expected: str, path: str) -> None:
    direct, forwarded_ = middleware_and_forward_auth(paths.ROUTES, path)
    assert forwarded_ == direct


# An empty method is no method a proxy sends ($request_method, Go's r.Method): forward auth
# refuses the description (400) where the middleware judges it like GET. Stricter, not looser.
STRICTER = {"empty-method"}


@pytest.mark.parametrize(("expected", "method", "path", "environ", "options"),
                         paths.METHOD_CASES)
def test_method_cases_same_verdict_through_x_forwarded_method(
        request: pytest.FixtureRequest, expected: str, method: str, path: str,
        environ: dict[str, Any] | None, options: dict[str, Any]) -> None:
    direct, forwarded_ = middleware_and_forward_auth(paths.ROUTES, path, method, environ,
                                                     **options)
    if request.node.callspec.id in STRICTER:
        assert forwarded_ == (400, 400) and direct[0] == 401
    else:
        assert forwarded_ == direct


@pytest.mark.parametrize("uri", readings.TRICKS)
def test_router_tricks_same_verdict_through_x_forwarded_uri(uri: str) -> None:
    path_info = unquote_to_bytes(uri).decode("latin-1")
    direct, forwarded_ = middleware_and_forward_auth(readings.ROUTES, path_info)
    assert forwarded_ == direct and forwarded_[0] == 401


# -- deployment: the TOML table, the command line, PasteDeploy, the example files -------------------

def test_the_example_configuration_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    app = load_config(EXAMPLES / "jwt.toml").forward_auth_app()
    assert app.claim_headers == {"sub": "X-Auth-User", "role": "X-Auth-Role"}
    assert app.form == "auto"


FILE_ERRORS = [
    pytest.param('[forward_auth]\nnope = 1\n', "unknown option", id="unknown-option"),
    pytest.param('[forward_auth]\ntrusted_proxies = "x"\n', "not a CIDR", id="bad-cidr"),
    pytest.param('[forward_auth]\nclaim_headers = "sub"\n', "map claim names", id="bad-headers"),
    pytest.param('[jwt]\ntoken_location = ["json"]\n[forward_auth]\nform = "auto"\n',
                 "JSON body", id="json-location"),
]


@pytest.mark.parametrize(("text", "message"), FILE_ERRORS)
def test_forward_auth_table_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "jwt.toml"
    file.write_text(f'[jwt]\nsecret_key = "{SECRET}"\n' + text.replace("[jwt]\n", "")
                    + '[routes]\n"/api/*" = "required"\n')
    with pytest.raises(ConfigError, match=message) as info:
        load_config(file)
    assert str(file) in str(info.value)


def test_serve_forward_auth_refuses_an_app_or_upstream(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "jwt.toml"
    file.write_text(f'[jwt]\nsecret_key = "{SECRET}"\n')
    assert main(["serve", "--forward-auth", "--config", str(file), "--upstream",
                 "http://127.0.0.1:1"]) == 2
    assert "--forward-auth serves the auth service alone" in capsys.readouterr().err


def test_paste_app_factory(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "auth.ini"
    ini.write_text(f"""[app:main]
use = call:jwt_wsgi.paste:forward_auth_app_factory
jwt_secret_key = {SECRET}
default = required
trusted_proxies = 127.0.0.1/32, ::1/128
claim_headers =
    sub = X-Auth-User
routes =
    /public/* = public
""")
    app = loadapp(f"config:{ini}")
    assert isinstance(app, ForwardAuth)
    assert len(app.trusted_proxies) == 2
    assert ask(app, forwarded("/public/x")).status == 200
    assert ask(app, forwarded("/other")).status == 401
    entry_points = (Path(__file__).resolve().parent.parent / "setup.cfg").read_text()
    assert "forward_auth = jwt_wsgi.paste:forward_auth_app_factory" in entry_points


def test_traefik_example_matches_the_auth_service() -> None:
    traefik = tomllib.loads((EXAMPLES / "traefik.toml").read_text())
    jwt = tomllib.loads((EXAMPLES / "jwt.toml").read_text())
    middleware = traefik["http"]["middlewares"]
    forward = middleware["jwt-auth"]["forwardAuth"]
    headers = list(jwt["forward_auth"]["claim_headers"].values())
    assert forward["trustForwardHeader"] is False
    assert forward["authResponseHeaders"] == headers
    stripped = middleware["strip-claim-headers"]["headers"]["customRequestHeaders"]
    assert stripped == {header.replace("-", "_"): "" for header in headers}
    assert traefik["http"]["routers"]["app"]["middlewares"] == ["strip-claim-headers",
                                                                "jwt-auth"]


def test_envoy_example_matches_the_auth_service() -> None:
    envoy = (EXAMPLES / "envoy.yaml").read_text()
    prefix = envoy.split("path_prefix:", 1)[1].split()[0]
    app = auth(path_prefix=prefix)
    assert ask(app, {"Authorization": f"Bearer {TOKEN}"}, "GET", prefix + "/admin/x").status == 200
    for header in ("x-auth-user", "x-auth-role"):
        assert f"- remove: {header}\n" in envoy
        assert f"- remove: {header.replace('-', '_')}\n" in envoy
    filters = [line.split("envoy.filters.http.")[1] for line in envoy.splitlines()
               if "name: envoy.filters.http." in line]
    assert filters == ["header_mutation", "ext_authz", "router"]


def test_jwt_wsgi_serve_forward_auth_answers_over_http(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    from tests.harness import raw_request

    file = tmp_path / "jwt.toml"
    file.write_text(f'[jwt]\nsecret_key = "{SECRET}"\n[routes]\n"/admin/*" = "required"\n'
                    '[forward_auth]\nclaim_headers = { sub = "X-User" }\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "jwt_wsgi", "serve", "--forward-auth", "--config", str(file),
         "--port", "0", "--server", "werkzeug"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"forward auth \(claims as sub -> X-User\) on http://127.0.0.1:(\d+)",
                          line)
        assert found, line
        port = int(found.group(1))
        assert raw_request(port, "/auth", headers=list(forwarded("/admin/x").items())).status == 401
        jwt = JWTManager(secret_key=SECRET)
        reply = raw_request(port, "/auth", headers=[*forwarded("/admin/x").items(), (
            "Authorization", f"Bearer {jwt.create_access_token('carol')}")])
        assert (reply.status, reply.header("X-User")) == (200, "carol")
    finally:
        process.terminate()
        process.wait(timeout=10)
