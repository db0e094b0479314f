"""The command line for someone trying things: keys from $JWT_SECRET_KEY, short-lived demo
tokens, ``serve --route`` without a file, and messages in command-line terms."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from jwt_wsgi import JWTManager
from jwt_wsgi.cli import main
from jwt_wsgi.cliargs import lifetime_text, parse_route
from tests.harness import SECRET, fetch
from tests.test_cli import run, start, stop

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


# -- the key does not fit the algorithm: say which --algorithm --------------------------

@pytest.mark.parametrize(("algorithm", "key", "expected"), [
    pytest.param("HS256", "rsa", "add --algorithm RS256", id="rsa_pem_with_default_hs256"),
    pytest.param("HS256", "ec256", "add --algorithm ES256", id="ec_p256_pem_with_hs256"),
    pytest.param("HS512", "ec384", "add --algorithm ES384", id="ec_p384_pem_with_hs512"),
    pytest.param("HS256", "ed25519", "add --algorithm EdDSA", id="ed25519_pem_with_hs256"),
    pytest.param("HS256", "rsa_public", "add --algorithm RS256", id="public_pem_with_hs256"),
    pytest.param("RS256", "secret", "use --algorithm HS256", id="hmac_secret_with_rs256"),
])
def test_key_type_error_names_the_algorithm_option_not_python_settings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rsa_private_pem: bytes,
        rsa_public_pem: bytes, algorithm: str, key: str, expected: str) -> None:
    material = {
        "rsa": rsa_private_pem.decode(), "rsa_public": rsa_public_pem.decode(),
        "ec256": _pem(ec.generate_private_key(ec.SECP256R1())),
        "ec384": _pem(ec.generate_private_key(ec.SECP384R1())),
        "ed25519": _pem(ed25519.Ed25519PrivateKey.generate()), "secret": SECRET,
    }[key]
    (tmp_path / "key").write_text(material)
    code, out, err = run(capsys, "token", "alice", "--algorithm", algorithm,
                         "--key-file", str(tmp_path / "key"))
    assert (code, out) == (2, "")
    assert expected in err and f"--key-file {tmp_path / 'key'}" in err
    assert "public_key" not in err and "private_key" not in err and "secret_key" not in err


# -- claims the command sets itself ------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(["--claim", "sub=bob"], "jwt-wsgi token IDENTITY", id="claim_sub_overrode_identity"),
    pytest.param(["--claims", '{"sub": "bob"}'], "jwt-wsgi token IDENTITY", id="claims_json_sub"),
    pytest.param(["--claim", "type=refresh"], "--refresh", id="claim_type_overrode_token_type"),
    pytest.param(["--claim", "exp=9999999999"], "--expires", id="claim_exp"),
    pytest.param(["--claim", "fresh=true"], "--fresh", id="claim_fresh"),
    pytest.param(["--claim", "jti=fixed"], "unique jti", id="claim_jti"),
    pytest.param(["--claim", "iat=0"], "minting time", id="claim_iat"),
    pytest.param(["--claim", "nbf=0"], "minting time", id="claim_nbf"),
    pytest.param(["--claim", "csrf=x"], "CSRF", id="claim_csrf"),
])
def test_reserved_claims_are_refused_with_the_right_option(
        capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    code, out, err = run(capsys, "token", "alice", "--key-env", "TEST_CLI_SECRET", *argv)
    assert (code, out) == (2, "")
    assert expected in err


def test_ordinary_claims_still_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "token", "alice", "--key-env", "TEST_CLI_SECRET",
                       "--claim", "role=admin", "--claim", "subject=x")
    claims = JWTManager(secret_key=SECRET).decode_token(out.strip())
    assert code == 0 and (claims["sub"], claims["role"], claims["subject"]) == ("alice", "admin", "x")


@pytest.fixture(autouse=True)
def cli_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CLI_SECRET", SECRET)


# -- $JWT_SECRET_KEY when no key option is given -----------------------------------------

def test_token_and_decode_take_the_secret_from_jwt_secret_key(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    code, out, _ = run(capsys, "token", "alice", "--expires", "90s")
    claims = JWTManager(secret_key=SECRET).decode_token(out.strip())
    assert code == 0 and claims["exp"] - claims["iat"] == 90
    code, _, err = run(capsys, "decode", out.strip())
    assert code == 0 and "verified" in err and "NOT VERIFIED" not in err


def test_an_explicit_key_option_wins_over_jwt_secret_key(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", "another-secret-" + "y" * 40)
    code, out, _ = run(capsys, "token", "alice", "--key-env", "TEST_CLI_SECRET")
    assert code == 0 and JWTManager(secret_key=SECRET).decode_token(out.strip())["sub"] == "alice"


def test_without_any_key_the_message_mentions_jwt_secret_key(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "token", "alice")
    assert code == 2 and "$JWT_SECRET_KEY" in err


# -- warnings as plain lines --------------------------------------------------------------

def test_security_warning_is_a_plain_line_not_a_python_source_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHORT": "short"}
    result = subprocess.run([sys.executable, "-m", "jwt_wsgi", "token", "alice",
                             "--key-env", "SHORT"], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "jwt-wsgi: warning: secret_key is 5 bytes; use at least 32 random bytes\n"


# -- serve --route -------------------------------------------------------------------------

@pytest.mark.parametrize(("item", "expected"), [
    pytest.param("/api/*=required", ("/api/*", "required"), id="prefix"),
    pytest.param("POST /login=public", ("POST /login", "public"), id="method_and_path"),
    pytest.param("/u/<int(min=1):id>=fresh", ("/u/<int(min=1):id>", "fresh"),
                 id="converter_argument_with_equals"),
    pytest.param('/r={"require": "required", "scopes": ["r"]}',
                 ("/r", {"require": "required", "scopes": ["r"]}), id="json_policy"),
])
def test_route_items_parse(item: str, expected: tuple[str, object]) -> None:
    assert parse_route(item) == expected


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(["--route", "/api/*"], "write [METHODS ]PATTERN=POLICY", id="no_policy"),
    pytest.param(["--route", "=required"], "pattern before '=' is empty", id="no_pattern"),
    pytest.param(["--route", "/api/*=requird"], "--route/--default", id="unknown_policy"),
    pytest.param(["--route", "/a={not json"], "not JSON", id="broken_json_policy"),
    pytest.param(["--default", "nope"], "--route/--default", id="unknown_default"),
])
def test_bad_route_items_are_usage_errors(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          argv: list[str], expected: str) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    code, _, err = run(capsys, "serve", "tests.server_app:app", *argv)
    assert code == 2 and expected in err


def test_serve_without_config_or_secret_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve", "tests.server_app:app", "--route", "/api/*=required")
    assert code == 2 and "--config FILE, or set $JWT_SECRET_KEY" in err


def _served_app(tmp_path: Path) -> None:
    (tmp_path / "tried_app.py").write_text(
        "import json\n"
        "def app(environ, start_response):\n"
        "    body = json.dumps({'user': environ.get('REMOTE_USER')}).encode()\n"
        "    start_response('200 OK', [('Content-Type', 'application/json')])\n"
        "    return [body]\n")


def test_serve_one_route_from_the_command_line_without_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` required a TOML file even for one route."""
    _served_app(tmp_path)
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)  # the server process inherits it
    process, base = start(["serve", "tried_app:app", "--route", "/api/*=required",
                           "--route", "POST /login=public", "--default", "required",
                           "--port", "0", "--server", "werkzeug"], tmp_path)
    try:
        token = JWTManager(secret_key=SECRET).create_access_token("alice")
        assert fetch(base + "/api/x") == (401, {"msg": "Missing Authorization Header"})
        assert fetch(base + "/api/x", {"Authorization": f"Bearer {token}"}) == (200, {"user": "alice"})
        assert fetch(base + "/other")[0] == 401  # --default required
    finally:
        stop(process)


def test_serve_route_adds_to_and_replaces_the_config_files_routes(tmp_path: Path) -> None:
    _served_app(tmp_path)
    config = tmp_path / "jwt.toml"
    config.write_text('[jwt]\nsecret_key_env = "TEST_CLI_SECRET"\n'
                      '[routes]\n"/api/*" = "required"\n"/health" = "public"\n')
    process, base = start(["serve", "tried_app:app", "--config", str(config),
                           "--route", "/health=required", "--route", "/extra=required",
                           "--port", "0", "--server", "werkzeug"], tmp_path)
    try:
        assert fetch(base + "/health")[0] == 401  # was public in the file
        assert fetch(base + "/extra")[0] == 401
        assert fetch(base + "/api/x")[0] == 401  # still from the file
    finally:
        stop(process)


# -- the demo: $JWT_SECRET_KEY and --expires ---------------------------------------------

def test_demo_uses_jwt_secret_key_and_prints_a_short_lived_token() -> None:
    """``jwt-wsgi demo`` ignored $JWT_SECRET_KEY and could not mint an expired token, so
    seeing the expired answer took 15 minutes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
           "JWT_SECRET_KEY": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", "demo", "--port", "0",
                                "--expires", "2s"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("jwt-wsgi token" in x for x in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        base = re.search(r"serving a protected app on (http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"TOKEN=(\S+)", text)
        assert base and token, text
        assert "valid 2 seconds" in text and "Signed with the secret in $JWT_SECRET_KEY" in text
        assert SECRET not in text
        claims = JWTManager(secret_key=SECRET).decode_token(token.group(1), allow_expired=True)
        assert claims["exp"] - claims["iat"] == 2
        minted = JWTManager(secret_key=SECRET).create_access_token("bob")
        assert fetch(base.group(1) + "/protected", {"Authorization": f"Bearer {minted}"}) == (
            200, {"logged_in_as": "bob"})
        time.sleep(max(0.0, claims["exp"] + 1 - time.time()))
        assert fetch(base.group(1) + "/protected", {"Authorization": f"Bearer {token.group(1)}"}) \
            == (401, {"msg": "Token has expired"})
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_demo_expires_is_checked_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--port", "0", "--expires", "soon"])
    assert code == 2 and "--expires" in capsys.readouterr().err


def test_demo_refuses_a_pem_key_in_jwt_secret_key(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  rsa_private_pem: bytes) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", rsa_private_pem.decode())
    code = main(["demo", "--port", "0"])
    assert code == 2 and "$JWT_SECRET_KEY holds a PEM key" in capsys.readouterr().err


@pytest.mark.parametrize(("claims", "text"), [
    pytest.param({"iat": 0, "exp": 900}, "valid 15 minutes", id="default"),
    pytest.param({"iat": 0, "exp": 1}, "valid 1 second", id="one_second"),
    pytest.param({"iat": 0, "exp": 90}, "valid 90 seconds", id="not_whole_minutes"),
    pytest.param({"iat": 0, "exp": 7200}, "valid 2 hours", id="hours"),
    pytest.param({"iat": 0}, "never expires", id="never"),
])
def test_demo_says_the_printed_tokens_real_lifetime(claims: dict[str, int], text: str) -> None:
    """The demo always said "valid 15 minutes"."""
    assert lifetime_text(claims) == text
