"""`jwt-wsgi demo` as a user runs it: a real process, a real port, a real HTTP client, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi.demo import ENDPOINTS, make_demo

ROOT = Path(__file__).resolve().parent.parent


def fetch(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_demo_serves_prints_a_working_token_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", "demo", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "curl -i -H" in line:
                break
        text = "".join(lines)
        base = re.search(r"serving a protected app on (http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"TOKEN=(\S+)", text)
        assert base and token, text
        assert fetch(base.group(1) + "/protected")[0] == 401
        assert fetch(base.group(1) + "/protected", token.group(1)) == (200, {"logged_in_as": "alice"})
        assert fetch(base.group(1) + "/admin/stats", token.group(1))[0] == 200
        assert fetch(base.group(1) + "/protected", token.group(1) + "x")[0] == 401
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_ctrl_c_in_the_middle_of_requests_always_stops_the_demo() -> None:
    """Ctrl-C can arrive while request threads end; it must stop the server every time
    (a KeyboardInterrupt raised inside a weakref callback used to be swallowed, and the
    demo kept running)."""
    import threading

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for _ in range(4):
        process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", "demo", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=env)
        try:
            assert process.stdout is not None
            base = None
            while base is None:
                line = process.stdout.readline()
                assert line, "the demo ended before it served"
                found = re.search(r"serving a protected app on (http://127\.0\.0\.1:\d+)", line)
                base = found.group(1) if found else None

            def hammer(url: str = base + "/protected") -> None:
                for _ in range(20):
                    try:
                        fetch(url)
                    except (OSError, ValueError):
                        return  # the server went away mid-burst: expected

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=15)
            for thread in threads:
                thread.join(10)
            assert process.returncode == 0
            assert "jwt-wsgi demo: stopped" in out
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


# -- the demo's table and its app agree: every path and method, with and without a token --

#: What the demo serves, written out by hand (not derived from ENDPOINTS): a new endpoint
#: must be added here, with its expected answers below, or the first test fails.
SERVED = {("GET", "/"), ("HEAD", "/"), ("POST", "/login"), ("GET", "/protected"),
          ("HEAD", "/protected"), ("GET", "/admin/stats"), ("HEAD", "/admin/stats"),
          ("POST", "/refresh")}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATHS = ("/", "/login", "/protected", "/admin/stats", "/refresh",
         # near misses: a prefix match, a trailing slash, a parent, a child, a suffix
         "/adminpanel", "/admin", "/admin/", "/admin/stats/", "/admin/stats/x", "/admin/x",
         "/protected/", "/protectedx", "/protected/x", "/refresh/", "/login/", "/nowhere",
         "/index.html")


@pytest.fixture(scope="module")
def demo() -> tuple[Client, dict[str, str]]:
    app, jwt = make_demo("demo-test-secret-" + "x" * 40)
    tokens = {
        "admin": jwt.create_access_token("alice", fresh=True, additional_claims={"role": "admin"}),
        "stale_admin": jwt.create_access_token("alice", additional_claims={"role": "admin"}),
        "user": jwt.create_access_token("bob", fresh=True, additional_claims={"role": "user"}),
        "refresh": jwt.create_refresh_token("alice"),
    }
    return Client(app), tokens


def call(demo: tuple[Client, dict[str, str]], method: str, path: str,
         token: str | None) -> tuple[int, Any]:
    client, tokens = demo
    headers = {"Authorization": f"Bearer {tokens[token]}"} if token else {}
    response = client.open(path, method=method, headers=headers)
    data = response.get_data()
    return response.status_code, json.loads(data) if data and method != "HEAD" else None


def test_the_served_set_is_what_the_endpoints_declare() -> None:
    declared = {(m, e.pattern) for e in ENDPOINTS for m in e.methods}
    declared |= {("HEAD", p) for m, p in declared if m == "GET"}
    assert declared == SERVED


@pytest.mark.parametrize(("method", "path", "token", "status", "body"), [
    pytest.param("GET", "/", None, 200, {"hello": "public page; try /protected"}, id="home"),
    pytest.param("POST", "/login", None, 401, {"msg": "Bad username or password"},
                 id="login_reaches_its_view_without_a_token"),
    pytest.param("GET", "/protected", None, 401, {"msg": "Missing Authorization Header"},
                 id="protected_without_token"),
    pytest.param("GET", "/protected", "user", 200, {"logged_in_as": "bob"},
                 id="protected_with_token"),
    pytest.param("HEAD", "/protected", None, 401, None, id="protected_head_without_token"),
    pytest.param("GET", "/protected", "refresh", 401, {"msg": "Only non-refresh tokens are allowed"},
                 id="protected_with_refresh_token"),
    pytest.param("GET", "/admin/stats", None, 401, {"msg": "Missing Authorization Header"},
                 id="admin_without_token"),
    pytest.param("GET", "/admin/stats", "admin", 200, {"admin": "alice"}, id="admin_fresh_admin"),
    pytest.param("GET", "/admin/stats", "stale_admin", 401, {"msg": "Fresh token required"},
                 id="admin_stale_token"),
    pytest.param("GET", "/admin/stats", "user", 403, None, id="admin_not_an_admin"),
    pytest.param("POST", "/refresh", None, 401, {"msg": "Missing Authorization Header"},
                 id="refresh_without_token"),
    pytest.param("POST", "/refresh", "admin", 401, {"msg": "Only refresh tokens are allowed"},
                 id="refresh_with_access_token"),
])
def test_each_served_route_answers_as_its_policy_says(
        demo: tuple[Client, dict[str, str]], method: str, path: str, token: str | None,
        status: int, body: Any) -> None:
    got_status, got_body = call(demo, method, path, token)
    assert got_status == status
    if body is not None:
        assert got_body == body


def test_refresh_mints_a_non_fresh_access_token(demo: tuple[Client, dict[str, str]]) -> None:
    status, body = call(demo, "POST", "/refresh", "refresh")
    assert status == 200 and set(body) == {"access_token"}


@pytest.mark.parametrize(("method", "path"), [
    pytest.param(method, path, id=f"{method}_{path}")
    for path in PATHS for method in METHODS if (method, path) not in SERVED
])
def test_nothing_unserved_is_reachable_without_a_token_nor_a_500_with_one(
        demo: tuple[Client, dict[str, str]], method: str, path: str) -> None:
    """The old demo answered ``GET /refresh`` with a 500 and showed ``/adminpanel`` the
    admin view without a token: the app matched more than the table protected."""
    status, _ = call(demo, method, path, None)
    assert status == 401
    status, body = call(demo, method, path, "admin")
    assert status in (400, 404, 405), (status, body)  # 400: a path read two ways
