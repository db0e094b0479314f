"""The revocation trap under several workers: the in-memory blocklist revokes in one worker
only. It must say so, once per process, where an operator looks (the server's log)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from jwt_wsgi import JWTManager, MemoryBlocklist
from jwt_wsgi.workers import reset_after_fork, several_workers
from tests.harness import SECRET, ask, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent

APP = '''
import json, os
from jwt_wsgi import JWTManager, JWTMiddleware, get_jwt
jwt = JWTManager(secret_key=os.environ["JWT_SECRET_KEY"])
def api(environ, start_response):
    if environ["PATH_INFO"] == "/logout":
        jwt.revoke(get_jwt(environ))
    body = json.dumps({"pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
app = JWTMiddleware(api, jwt, default="required")
'''
WARNING = "MemoryBlocklist (the default revocation store) under several workers"


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    reset_after_fork()
    yield
    reset_after_fork()


def call(port: int, path: str, token: str) -> tuple[int, int | None]:
    status, body = ask(port, "GET", path, token)
    return status, body["pid"] if status == 200 else None


@pytest.mark.parametrize(("argv", "warned"), [
    pytest.param(["-w", "2"], True, id="gunicorn_two_workers_revoke_in_one_only"),
    pytest.param(["-w", "2", "--preload"], True, id="gunicorn_two_workers_preloaded"),
    pytest.param(["-w", "1"], False, id="gunicorn_one_worker_is_one_process"),
])
def test_revoke_under_gunicorn_warns_when_other_workers_cannot_see_it(
        tmp_path: Path, argv: list[str], warned: bool) -> None:
    (tmp_path / "revoke_app.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "JWT_SECRET_KEY": SECRET,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *argv, "-b", f"127.0.0.1:{port}",
             "--keep-alive", "0", "--log-level", "warning", "revoke_app:app"],
            cwd=tmp_path, env=env, stderr=stderr)
        try:
            wait_for_port(port, process)
            jwt = JWTManager(secret_key=SECRET)
            tokens = [jwt.create_access_token(f"user{i}") for i in range(3)]
            for token in tokens:  # three revocations: still one warning per worker
                assert call(port, "/logout", token)[0] == 200
            deadline = time.monotonic() + 10
            while warned and WARNING not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(15)
    text = log.read_text()
    assert (WARNING in text) == warned, text
    if warned:
        assert "gunicorn runs 2 workers" in text and "RedisBlocklist" in text
        assert 1 <= text.count(WARNING) <= 2, text  # once per worker that revoked, at most


@pytest.mark.parametrize(("modules", "environ", "pid_offset", "expected"), [
    pytest.param({"uwsgi": {"numproc": 4}}, {}, 0, "uWSGI runs 4 processes",
                 id="uwsgi_four_processes"),
    pytest.param({"uwsgi": {"numproc": 1}}, {}, 0, None, id="uwsgi_one_process"),
    pytest.param({"mod_wsgi": {"maximum_processes": 3, "process_group": "app"}}, {}, 0,
                 "mod_wsgi runs up to 3 processes (app)", id="mod_wsgi_daemon_processes"),
    pytest.param({"mod_wsgi": {"maximum_processes": 1, "process_group": ""}}, {}, 0, None,
                 id="mod_wsgi_one_process"),
    pytest.param({}, {}, 1, "is a fork of the one that built the store",
                 id="any_prefork_server_seen_by_the_fork"),
    pytest.param({}, {}, 0, None, id="the_process_that_built_the_store"),
    pytest.param({}, {"SERVER_SOFTWARE": "gunicorn/27.0.1"}, 1,
                 "is a fork of the one that built the store",
                 id="gunicorn_env_without_its_worker_object_falls_back_to_the_fork"),
])
def test_servers_recognised_from_inside_a_worker(
        monkeypatch: pytest.MonkeyPatch, modules: dict[str, dict[str, object]],
        environ: dict[str, str], pid_offset: int, expected: str | None) -> None:
    """uWSGI and mod_wsgi cannot run here: their modules are stood in for by what they
    expose inside a worker (``uwsgi.numproc``, ``mod_wsgi.maximum_processes``)."""
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    for name, attributes in modules.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attributes))
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    description = several_workers(os.getpid() + pid_offset)
    if expected is None:
        assert description is None
    else:
        assert description is not None and expected in description


def test_memory_blocklist_logs_once_per_process_and_still_revokes(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "uwsgi", types.SimpleNamespace(numproc=2))
    store = MemoryBlocklist()
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        store.add("a", time.time() + 60)
        store.add("b", time.time() + 60)
    assert store.contains("a") and store.contains("b")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "uWSGI runs 2 processes" in caplog.records[0].getMessage()


def test_one_process_revokes_without_a_word(caplog: pytest.LogCaptureFixture) -> None:
    jwt = JWTManager(secret_key=SECRET)
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        jwt.revoke(jwt.create_access_token("alice"))
    assert caplog.records == []
