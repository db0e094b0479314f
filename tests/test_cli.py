"""The jwt-wsgi command line, called as main([...]); serve also as a real process."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jwt_wsgi import JWTManager
from jwt_wsgi.cli import main
from tests.harness import SECRET, fetch, forge, need

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CLI_SECRET", SECRET)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def verify(token: str) -> dict[str, Any]:
    return JWTManager(secret_key=SECRET).decode_token(token)


# -- token ------------------------------------------------------------------------------

def test_token_from_an_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "token", "alice", "--key-env", "TEST_CLI_SECRET", "--fresh",
                         "--claim", "role=admin", "--claim", "level=3", "--claim", 'tags=["a","b"]',
                         "--claim", "note=not json", "--claims", '{"team": "x"}')
    assert code == 0 and err == ""
    claims = verify(out.strip())
    assert claims["sub"] == "alice" and claims["fresh"] is True and claims["type"] == "access"
    assert (claims["role"], claims["level"], claims["tags"], claims["note"], claims["team"]) == (
        "admin", 3, ["a", "b"], "not json", "x")
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_refresh_token_from_a_key_file_with_expiry(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "secret"
    key.write_text(SECRET + "\n")
    code, out, _ = run(capsys, "token", "bob", "--key-file", str(key), "--refresh",
                       "--expires", "2h")
    claims = verify(out.strip())
    assert code == 0 and claims["type"] == "refresh" and claims["exp"] - claims["iat"] == 7200
    code, out, _ = run(capsys, "token", "bob", "--key-file", str(key), "--expires", "never")
    assert "exp" not in verify(out.strip())


def test_secret_on_the_command_line_works_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "token", "carol", "--secret", SECRET)
    assert code == 0 and verify(out.strip())["sub"] == "carol"
    assert "shell history" in err and SECRET not in err


def test_token_with_rs256_private_key(tmp_path: Path, rsa_private_pem: bytes, rsa_public_pem: bytes,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "private.pem").write_bytes(rsa_private_pem)
    (tmp_path / "public.pem").write_bytes(rsa_public_pem)
    code, out, _ = run(capsys, "token", "dave", "--algorithm", "RS256",
                       "--key-file", str(tmp_path / "private.pem"))
    token = out.strip()
    assert code == 0
    code, out, err = run(capsys, "decode", token, "--algorithm", "RS256",
                         "--key-file", str(tmp_path / "public.pem"))
    assert code == 0 and "verified" in err and json.loads(out)["header"]["alg"] == "RS256"


def test_token_from_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "jwt.toml"
    config.write_text('[jwt]\nsecret_key_env = "TEST_CLI_SECRET"\nissuer = "me"\n')
    code, out, _ = run(capsys, "token", "erin", "--config", str(config))
    assert code == 0 and verify_with_issuer(out.strip())["iss"] == "me"


def verify_with_issuer(token: str) -> dict[str, Any]:
    return JWTManager(secret_key=SECRET, issuer="me").decode_token(token)


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["token", "a"], "give the key", id="no-key"),
    pytest.param(["token", "a", "--key-env", "NO_SUCH_VAR_X"], "NO_SUCH_VAR_X is empty", id="empty-env"),
    pytest.param(["token", "a", "--key-file", "/nonexistent/k"], "cannot read", id="no-file"),
    pytest.param(["token", "a", "--key-env", "TEST_CLI_SECRET", "--claim", "novalue"],
                 "write NAME=VALUE", id="bad-claim"),
    pytest.param(["token", "a", "--key-env", "TEST_CLI_SECRET", "--claims", "[1]"],
                 "JSON object", id="claims-not-object"),
    pytest.param(["token", "a", "--key-env", "TEST_CLI_SECRET", "--expires", "soon"],
                 "--expires must be a number", id="bad-expiry"),
    pytest.param(["token", "a", "--key-env", "TEST_CLI_SECRET", "--refresh", "--fresh"],
                 "never fresh", id="fresh-refresh"),
])
def test_token_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err
    assert "Traceback" not in err


def test_key_options_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["token", "a", "--key-env", "X", "--secret", "y"])
    assert info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


# -- decode -----------------------------------------------------------------------------

def test_decode_without_a_key_says_not_verified(capsys: pytest.CaptureFixture[str]) -> None:
    token = forge({"alg": "HS256", "typ": "JWT"}, {"sub": "mallory", "admin": True})
    code, out, err = run(capsys, "decode", token)
    assert code == 0
    assert json.loads(out) == {"header": {"alg": "HS256", "typ": "JWT"},
                               "claims": {"sub": "mallory", "admin": True}}
    assert err.startswith("NOT VERIFIED: no key given")


def test_decode_with_a_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    good = JWTManager(secret_key=SECRET).create_access_token("alice")
    code, out, err = run(capsys, "decode", good, "--key-env", "TEST_CLI_SECRET")
    assert code == 0 and json.loads(out)["claims"]["sub"] == "alice"
    assert err.strip() == "verified: signature and claims are valid"
    forged = forge({"alg": "HS256", "typ": "JWT"}, {"sub": "mallory"})
    code, out, err = run(capsys, "decode", forged, "--key-env", "TEST_CLI_SECRET")
    assert code == 1 and json.loads(out)["claims"]["sub"] == "mallory"
    assert err.startswith("NOT VERIFIED:") and "signature_invalid" in err
    expired = JWTManager(secret_key=SECRET).create_access_token(
        "alice", expires_delta=datetime.timedelta(seconds=-10))
    monkeypatch.setattr(sys, "stdin", io.StringIO(expired + "\n"))
    code, _, err = run(capsys, "decode", "-", "--key-env", "TEST_CLI_SECRET")
    assert code == 1 and "NOT VERIFIED: Token has expired (token_expired)" in err


@pytest.mark.parametrize("token", [
    pytest.param("abc", id="one-part"),
    pytest.param("a.b.c", id="not-json"),
    pytest.param(forge([1], {"sub": "x"}), id="header-not-object"),
])
def test_decode_garbage(capsys: pytest.CaptureFixture[str], token: str) -> None:
    code, out, err = run(capsys, "decode", token)
    assert code == 1 and out == "" and "not a JWS compact token" in err


# -- serve: usage errors through main -----------------------------------------------------

@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "jwt.toml"
    path.write_text('[jwt]\nsecret_key_env = "TEST_CLI_SECRET"\n'
                    '[routes]\n"/api/*" = "required"\n"/health" = "public"\n'
                    '[proxy]\nclaim_headers = { sub = "X-User" }\n')
    return path


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param([], "give MODULE:APP", id="nothing-to-serve"),
    pytest.param(["nomodule"], "write MODULE:APP", id="no-colon"),
    pytest.param(["no_such_module_xyz:app"], "cannot import 'no_such_module_xyz'", id="no-module"),
    pytest.param(["json:nothing"], "has no attribute 'nothing'", id="no-attribute"),
    pytest.param(["json:__name__"], "not a WSGI callable", id="not-callable"),
    pytest.param(["json:dumps", "--upstream", "http://127.0.0.1:1"], "not both", id="both"),
    pytest.param(["--upstream", "ftp://x"], "http:// or https://", id="bad-upstream"),
    pytest.param(["--upstream", "http://127.0.0.1:1", "--claim-header", "sub"],
                 "write CLAIM=Header-Name", id="bad-claim-header"),
])
def test_serve_usage_errors(capsys: pytest.CaptureFixture[str], config: Path, argv: list[str],
                            message: str) -> None:
    code, _, err = run(capsys, "serve", *argv, "--config", str(config))
    assert code == 2 and message in err, err


def test_serve_config_errors_name_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[jwt]\nsecret_key_env = "TEST_CLI_SECRET"\n[routes]\n"/a" = "sometimes"\n')
    code, _, err = run(capsys, "serve", "json:dumps", "--config", str(bad))
    assert code == 2 and f"{bad}, line 4: [routes] /a" in err


# -- serve: real processes ---------------------------------------------------------------



def start(argv: list[str], cwd: Path, path: str = str(ROOT)) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", *argv], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+) with", line)
        if match:
            return process, match.group(1)
        if not line:
            break
    process.kill()
    out, err = process.communicate()
    raise AssertionError(f"server did not start: {out}{err}")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    return err


@pytest.mark.parametrize("server", ["waitress", "werkzeug", "auto-without-waitress"])
def test_serve_a_module_app(tmp_path: Path, config: Path, server: str) -> None:
    need("waitress")
    path = str(ROOT)
    if server == "auto-without-waitress":  # a waitress that cannot be imported comes first
        (tmp_path / "hide" / "waitress").mkdir(parents=True)
        (tmp_path / "hide" / "waitress" / "__init__.py").write_text("raise ImportError('hidden')\n")
        path = f"{tmp_path / 'hide'}{os.pathsep}{ROOT}"
    (tmp_path / "served_app.py").write_text(
        "import json\n"
        "def app(environ, start_response):\n"
        "    body = json.dumps({'user': environ.get('REMOTE_USER')}).encode()\n"
        "    start_response('200 OK', [('Content-Type', 'application/json')])\n"
        "    return [body]\n")
    process, base = start(["serve", "served_app:app", "--config", str(config), "--port", "0",
                           "--server", server.split("-")[0]], tmp_path, path)
    try:
        token = JWTManager(secret_key=SECRET).create_access_token("alice")
        assert fetch(base + "/api/x") == (401, {"msg": "Missing Authorization Header"})
        assert fetch(base + "/api/x", {"Authorization": f"Bearer {token}"}) == (200, {"user": "alice"})
        assert fetch(base + "/health") == (200, {"user": None})
    finally:
        err = stop(process)
    # werkzeug asked for explicitly: no warning; chosen because waitress is missing: a warning
    assert ("not meant for production" in err) == (server == "auto-without-waitress")


def test_serve_upstream_strips_forged_headers(tmp_path: Path, config: Path, echo_upstream: str) -> None:
    process, base = start(["serve", "--upstream", echo_upstream, "--config", str(config), "--port", "0",
                           "--claim-header", "sub=X-Jwt-Sub", "--claim-header", "role=X-Jwt-Role"],
                          tmp_path)
    try:
        token = JWTManager(secret_key=SECRET).create_access_token(
            "alice", additional_claims={"role": "ops"})
        forged = {"X-Jwt-Sub": "mallory", "X-Jwt-Role": "admin", "X-User": "kept"}
        status, seen = fetch(base + "/health?q=1", forged)
        assert status == 200 and seen["path"] == "/health?q=1"
        assert "x-jwt-sub" not in seen["headers"] and "x-jwt-role" not in seen["headers"]
        assert seen["headers"]["x-user"] == "kept"  # --claim-header replaced the [proxy] table
        status, seen = fetch(base + "/api/me", {**forged, "Authorization": f"Bearer {token}"})
        assert status == 200
        assert (seen["headers"]["x-jwt-sub"], seen["headers"]["x-jwt-role"]) == ("alice", "ops")
        assert fetch(base + "/api/me", forged)[0] == 401
    finally:
        stop(process)
