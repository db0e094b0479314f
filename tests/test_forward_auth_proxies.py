"""Forward auth behind real proxies: nginx (auth_request) and Caddy (forward_auth).

Each proxy runs its example configuration from ``examples/forward_auth`` on 127.0.0.1 in
front of an upstream that records what it receives; jwt_wsgi's ForwardAuth, built from
``examples/forward_auth/jwt.toml`` by the same loader as ``jwt-wsgi serve --forward-auth``,
answers the proxy's subrequests from a real WSGI server. Requests are written byte for byte
(a raw socket), so no client normalises the path before the proxy does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from jwt_wsgi import JWTManager
from jwt_wsgi.config import Config, load_config
from tests.harness import Upstream, raw_request, upstream, wsgi_server
from tests.harness.proxies import EXAMPLES, caddy, nginx

SECRET = "forward-auth-proxies-" + "k" * 32
PROXIES = {"nginx": nginx, "caddy": caddy}


@pytest.fixture(scope="module")
def config() -> Iterator[Config]:
    previous = os.environ.get("JWT_SECRET_KEY")
    os.environ["JWT_SECRET_KEY"] = SECRET
    try:
        yield load_config(EXAMPLES / "jwt.toml")
    finally:
        if previous is None:
            del os.environ["JWT_SECRET_KEY"]
        else:
            os.environ["JWT_SECRET_KEY"] = previous


@pytest.fixture(scope="module")
def stack(config: Config) -> Iterator[dict[str, Any]]:
    """One upstream, one auth service, and both proxies in front of them."""
    with upstream() as up, wsgi_server(config.forward_auth_app()) as auth_port, \
            nginx(auth_port, up.port) as nginx_port, caddy(auth_port, up.port) as caddy_port:
        yield {"upstream": up, "nginx": nginx_port, "caddy": caddy_port}


@pytest.fixture(params=sorted(PROXIES))
def proxy(request: pytest.FixtureRequest, stack: dict[str, Any]) -> tuple[int, Upstream]:
    up: Upstream = stack["upstream"]
    up.seen.clear()
    return stack[request.param], up


def token(manager: JWTManager, identity: str = "alice", **claims: Any) -> str:
    return manager.create_access_token(identity, additional_claims=claims or None)


def bearer(value: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {value}")]


def test_no_token_is_a_401_with_the_json_answer_and_the_upstream_is_not_asked(
        proxy: tuple[int, Upstream]) -> None:
    port, up = proxy
    reply = raw_request(port, "/api/orders")
    assert reply.status == 401
    assert (reply.header("WWW-Authenticate") or "").startswith("Bearer")
    assert json.loads(reply.body)["msg"].startswith("Missing JWT in headers or cookies")
    assert up.seen == []


def test_a_valid_token_passes_and_the_upstream_sees_the_claim_headers(
        proxy: tuple[int, Upstream], config: Config) -> None:
    port, up = proxy
    reply = raw_request(port, "/admin/users?page=2",
                        headers=bearer(token(config.manager, "alice", role="admin")))
    assert reply.status == 200
    [seen] = up.seen
    assert seen.target == "/admin/users?page=2"
    assert seen.values("X-Auth-User") == ["alice"]
    assert seen.values("X-Auth-Role") == ["admin"]


def test_a_missing_claim_is_a_403_with_its_challenge(proxy: tuple[int, Upstream],
                                                      config: Config) -> None:
    port, up = proxy
    reply = raw_request(port, "/admin/users", headers=bearer(token(config.manager, "bob")))
    assert reply.status == 403
    assert "insufficient_scope" in (reply.header("WWW-Authenticate") or "")
    assert up.seen == []


FORGED = [("X-Auth-User", "mallory"), ("x-auth-role", "admin"), ("X_Auth_User", "mallory"),
          ("X-AUTH-USER", "mallory"), ("X_auth_role", "admin")]


@pytest.mark.parametrize(("target", "identity", "expected_user", "expected_role"), [
    pytest.param("/public/page", None, [], [], id="public-route-no-token"),
    pytest.param("/api/orders", "bob", ["bob"], [], id="token-without-the-role-claim"),
    pytest.param("/api/orders", "alice", ["alice"], ["admin"], id="token-with-both-claims"),
])
def test_client_forged_claim_headers_never_reach_the_upstream(
        proxy: tuple[int, Upstream], config: Config, target: str, identity: str | None,
        expected_user: list[str], expected_role: list[str]) -> None:
    port, up = proxy
    headers = list(FORGED)
    if identity is not None:
        claims = {"role": "admin"} if expected_role else {}
        headers += bearer(token(config.manager, identity, **claims))
    assert raw_request(port, target, headers=headers).status == 200
    [seen] = up.seen
    assert seen.values("X-Auth-User") == expected_user
    assert seen.values("X-Auth-Role") == expected_role


def test_the_original_method_decides_the_csrf_check(proxy: tuple[int, Upstream],
                                                    config: Config) -> None:
    port, up = proxy
    value = token(config.manager, "alice")
    csrf = config.manager.decode_token(value)["csrf"]
    cookie = [("Cookie", f"access_token_cookie={value}")]
    assert raw_request(port, "/api/orders", headers=cookie).status == 200  # GET: no proof
    assert raw_request(port, "/api/orders", "POST", headers=cookie).status == 401
    assert raw_request(port, "/api/orders", "POST",
                       headers=[*cookie, ("X-CSRF-TOKEN", csrf)]).status == 200
    assert [seen.method for seen in up.seen] == ["GET", "POST"]


def test_head_is_judged_like_get(proxy: tuple[int, Upstream]) -> None:
    port, up = proxy
    assert raw_request(port, "/api/orders", "HEAD").status == 401
    assert up.seen == []


def middleware_status(config: Config, path_info: str, headers: list[tuple[str, str]]) -> int:
    """What JWTMiddleware answers for PATH_INFO as a server behind the proxy delivers it."""
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    environ["PATH_INFO"] = path_info
    _body, status, _headers = run_wsgi_app(config.wrap(_ok), environ, buffered=True)
    return int(status.split()[0])


def _ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "0")])
    return []


# Targets that proxies read in different ways: what matters is what the upstream receives.
ATTACKS = [
    pytest.param("/public/%2e%2e/admin/x", True, id="encoded-dot-dot"),
    pytest.param("/public/%2E%2E/api/x", True, id="encoded-dot-dot-upper"),
    pytest.param("/public/..%2fadmin/x", True, id="encoded-slash"),
    pytest.param("//admin/x", True, id="leading-double-slash"),
    pytest.param("/public//..//admin/x", True, id="double-slash-and-dot-dot"),
    pytest.param("/%61dmin/x", True, id="encoded-letter"),
    pytest.param("/public/%252e%252e/admin", True, id="double-encoded-dot-dot"),
    pytest.param("/admin;x=1/y", True, id="semicolon-parameter"),
    pytest.param("/api;jsessionid=1", True, id="semicolon-on-the-prefix"),
    pytest.param("/public/..;/admin", None, id="tomcat-dot-dot-semicolon"),
    pytest.param("/public/page;/../../admin", True, id="semicolon-then-dot-dot"),
    pytest.param("/static/..%5cadmin", True, id="encoded-backslash"),
    pytest.param("/public/page", False, id="public-stays-public"),
]


@pytest.mark.parametrize(("target", "protected"), ATTACKS)
def test_path_attacks_are_judged_on_what_the_upstream_sees(
        proxy: tuple[int, Upstream], config: Config, target: str,
        protected: bool | None) -> None:
    port, up = proxy
    admin = bearer(token(config.manager, "alice", role="admin"))
    with_token = raw_request(port, target, headers=admin)
    without = raw_request(port, target)
    reached = [seen.target for seen in up.seen]
    if with_token.status != 200:  # the proxy itself refused the target: nothing reached
        assert reached == [] and without.status == with_token.status
        return
    assert len(reached) == (2 if without.status == 200 else 1)
    # The upstream's own server would deliver this PATH_INFO: the middleware in its place
    # answers as the auth service did.
    path_info = unquote_to_bytes(reached[0].split("?")[0]).decode("latin-1")
    assert without.status == middleware_status(config, path_info, [])
    if protected is not None:
        assert (without.status != 200) is protected, (target, reached)


def test_the_proxy_configurations_match_the_claim_headers_of_jwt_toml(config: Config) -> None:
    headers = config.forward_auth["claim_headers"].values()
    nginx_conf = (EXAMPLES / "nginx.conf").read_text()
    caddyfile = (EXAMPLES / "Caddyfile").read_text()
    for header in headers:
        variable = "$upstream_http_" + header.lower().replace("-", "_")
        assert variable in nginx_conf and f"proxy_set_header {header} $" in nginx_conf
        assert f"request_header -{header}\n" in caddyfile
        assert f"request_header -{header.replace('-', '_')}\n" in caddyfile
        assert f"request_header @jwt_{header.split('-')[-1].lower()} {header} " \
               f"{{http.reverse_proxy.header.{header}}}\n" in caddyfile
