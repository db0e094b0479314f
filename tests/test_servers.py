"""End to end on real servers over 127.0.0.1: gunicorn with 2 workers and waitress.

Each server runs tests/server_app.py in a process of its own, started here on a free port
and stopped here; the client is urllib (the requests are real HTTP). The path checks use
http.client so that the path goes out exactly as written (urllib would not send ``//``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from jwt_wsgi import JWTManager
from tests.harness import free_port, need, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "server-test-secret-" + "z" * 40
APP = "tests.server_app:application"






@contextlib.contextmanager
def running(command: list[str], port: int, **env: str) -> Iterator[str]:
    """Run a server process until the block ends; yield its base URL; no traceback allowed."""
    environment = {**os.environ, "JWT_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT), **env}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")


def gunicorn_command(port: int, app: str = APP, chdir: Path = ROOT) -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS

    # gunicorn >= 25 opens a control socket in $HOME unless told not to
    extra = ["--no-control-socket"] if any(
        "--no-control-socket" in (s.cli or []) for s in KNOWN_SETTINGS) else []
    return [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
            "--chdir", str(chdir), "--graceful-timeout", "5", *extra, app]


def waitress_command(port: int) -> list[str]:
    return [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", "4",
            APP]


@pytest.fixture(scope="module", params=["gunicorn", "waitress"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    need(request.param)
    port = free_port()
    command = gunicorn_command(port) if request.param == "gunicorn" else waitress_command(port)
    with running(command, port) as base:
        yield base


def token(**kwargs: Any) -> str:
    return JWTManager(secret_key=SECRET).create_access_token("alice", **kwargs)


def get(url: str, bearer: str | None = None) -> tuple[int, Message, Any]:
    request = urllib.request.Request(url)
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def raw_status(base: str, path: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_public_protected_and_refused(server: str) -> None:
    status, _, body = get(server + "/public/x")
    assert status == 200 and body["user"] is None
    status, headers, body = get(server + "/api/me")
    assert (status, body) == (401, {"msg": "Missing Authorization Header"})
    assert headers["WWW-Authenticate"] == "Bearer"
    status, _, body = get(server + "/api/me", token(additional_claims={"role": "user"}))
    assert (status, body["user"], body["role"]) == (200, "alice", "user")
    status, headers, body = get(server + "/api/me", token() + "x")
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]


def test_fresh_admin_route(server: str) -> None:
    admin = {"additional_claims": {"role": "admin"}}
    assert get(server + "/admin/x", token(fresh=True, **admin))[0] == 200
    assert get(server + "/admin/x", token(**admin))[0] == 401
    assert get(server + "/admin/x", token(fresh=True))[0] == 403


@pytest.mark.parametrize("path", [
    pytest.param("//api/me", id="double-slash"),
    pytest.param("/public/../api/me", id="dot-dot"),
    pytest.param("/public/%2e%2e/api/me", id="encoded-dot-dot"),
    pytest.param("/api/./me", id="dot"),
    pytest.param("/API/me/..%2f..%2fapi/me", id="encoded-slash"),
    pytest.param("/public/..%252fapi/me", id="double-encoded"),
])
def test_path_tricks_do_not_unprotect(server: str, path: str) -> None:
    """Whatever PATH_INFO the server makes of these, the middleware must not let them pass."""
    assert raw_status(server, path) == 401


@pytest.mark.parametrize("server", ["gunicorn"], indirect=True)
def test_requests_are_served_by_both_gunicorn_workers(server: str) -> None:
    assert "gunicorn" in str(get(server + "/public/x")[2]["server"])
    bearer = token()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: get(server + "/api/slow", bearer), range(4)))
    assert all(status == 200 for status, _, _ in results)
    pids = {body["pid"] for _, _, body in results}
    assert len(pids) == 2  # the same secret in both workers: each verified the token



def test_django_example_under_gunicorn_login_then_use_token() -> None:
    """The Django example on two gunicorn workers: a token minted by one verifies in the other."""
    need("django")
    port = free_port()
    command = gunicorn_command(port, "django_site.wsgi:application", ROOT / "examples")
    with running(command, port) as base:
        login = urllib.request.Request(base + "/login", method="POST",
                                       data=json.dumps({"username": "alice",
                                                        "password": "wonderland"}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=15) as response:
            access = json.loads(response.read())["access_token"]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: get(base + "/api/me", access), range(8)))
        assert {(status, body["user"], body["role"]) for status, _, body in results} == {
            (200, "alice", "admin")}
        assert get(base + "/api/me")[0] == 401


def test_paste_pipeline_under_gunicorn(tmp_path: Path) -> None:
    """examples/pipeline.ini served by ``gunicorn --paste`` with two workers."""
    need("paste.deploy")
    text = (ROOT / "examples" / "pipeline.ini").read_text()
    ini = tmp_path / "pipeline.ini"  # call: instead of egg: (egg: needs the installed dist)
    ini.write_text(text.replace("egg:jwt_wsgi#jwt", "call:jwt_wsgi.paste:filter_factory"))
    port = free_port()
    command = [*gunicorn_command(port)[:-1], "--paste", str(ini)]
    with running(command, port, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "examples")])) \
            as base:
        assert get(base + "/health")[2]["greeting"] == "hello from the pipeline"
        assert get(base + "/api/x")[0] == 401
        status, _, body = get(base + "/api/x", token(additional_claims={"role": "ops"}))
        assert (status, body["user"], body["role"]) == (200, "alice", "ops")
        assert get(base + "/users/5", token())[0] == 403  # scope users:read missing
