"""TOML configuration files: the same schema as from_mapping, errors naming file, line, key."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTMiddleware
from jwt_wsgi.config import find_line, load_config
from tests.harness import SECRET, Recorder, bearer

GOOD = """
[jwt]
secret_key_env = "TEST_JWT_SECRET"
access_token_expires = "5m"
JWT_REFRESH_TOKEN_EXPIRES = 86400
token_location = ["headers"]
leeway = 2

[middleware]
default = "required"
remote_user = false

[routes]
"POST /login" = "public"
"/health" = "public"
"/api/*" = "required"
"/users/<int:user_id>" = { require = "required", scopes = ["users:read"] }
"/qs" = { require = "required", locations = ["headers"] }

[proxy]
upstream = "http://127.0.0.1:9/base"
claim_headers = { sub = "X-User", role = "X-Role" }
"""


def write(tmp_path: Path, text: str, name: str = "jwt.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JWT_SECRET", SECRET)


def test_a_full_file_builds_manager_routes_and_options(tmp_path: Path, recorder: Recorder) -> None:
    config = load_config(write(tmp_path, GOOD))
    settings = config.manager.settings
    assert settings.secret_key == SECRET
    assert settings.access_token_expires == datetime.timedelta(minutes=5)
    assert settings.refresh_token_expires == datetime.timedelta(days=1)
    assert settings.token_location == ("headers",) and settings.leeway == 2.0
    app = config.wrap(recorder)
    assert isinstance(app, JWTMiddleware)
    client = Client(app)
    assert client.get("/health").status_code == 200
    assert client.get("/elsewhere").status_code == 401  # default = "required"
    token = config.manager.create_access_token("alice", additional_claims={"scope": "users:read"})
    assert client.get("/users/7", headers=bearer(token)).status_code == 200
    assert "REMOTE_USER" not in recorder.environs[-1]
    assert app.routes.resolve("GET", "/qs").locations == ("headers",)
    proxy = config.reverse_proxy()
    assert proxy.claim_headers == {"sub": "X-User", "role": "X-Role"}
    assert config.reverse_proxy("http://127.0.0.1:10").upstream == "http://127.0.0.1:10"


def test_key_from_a_file_relative_to_the_config(tmp_path: Path, recorder: Recorder) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "secret.txt").write_text(SECRET + "\n")
    config = load_config(write(tmp_path, '[jwt]\nsecret_key_file = "keys/secret.txt"\n'))
    assert config.manager.settings.secret_key == SECRET
    assert config.routes == {} and config.default == "public"


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\nleeway = "soon"\n',
                 r"jwt\.toml, line 3: \[jwt\] leeway: leeway must be a number", id="bad-value"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\nsecret_kee = "x"\n',
                 r"line 3: \[jwt\] secret_kee: unknown key 'JWT_SECRET_KEE'; did you mean "
                 r"'JWT_SECRET_KEY'", id="typo"),
    pytest.param('[jwt]\nsecret_key_env = "NO_SUCH_VARIABLE_HERE"\n',
                 r"line 2: \[jwt\] secret_key_env: environment variable NO_SUCH_VARIABLE_HERE",
                 id="missing-env"),
    pytest.param('[jwt]\nsecret_key_file = "nope.txt"\n',
                 r"line 2: \[jwt\] secret_key_file: cannot read .*nope\.txt", id="missing-file"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\nsecret_key = "x"\n',
                 r"secret_key is given twice", id="twice"),
    pytest.param('[jwt]\nalgorithm = "RS256"\n',
                 r"jwt\.toml: \[jwt\]: RS256 needs a key", id="no-key"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[routes]\n"/a" = "required"\n'
                 '"/b/*" = "mandatory"\n',
                 r"line 5: \[routes\] /b/\*: .*unknown policy 'mandatory'", id="bad-policy"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[routes]\n"FETCH /a" = "required"\n',
                 r"line 4: \[routes\] FETCH /a: ", id="bad-method"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[middleware]\ndefualt = "required"\n',
                 r"line 4: \[middleware\] defualt: unknown option", id="middleware-typo"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[middleware]\nremote_user = "maybe"\n',
                 r"line 4: \[middleware\] remote_user: remote_user must be true or false",
                 id="middleware-bool"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[routes]\n'
                 '"/c" = { require = "required", locations = ["cookies"] }\n',
                 r"jwt\.toml: route '/c': locations", id="location-not-enabled"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[proxy]\nupstream = "ftp://x"\n',
                 r"line 4: \[proxy\] upstream: upstream must be an http", id="proxy-url"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[proxy]\nclaim_headers = '
                 '{ sub = "Host" }\nupstream = "http://127.0.0.1:9"\n',
                 r"'Host' is a header the proxy manages", id="proxy-header"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[proxy]\nupstream = "http://h/a b"\n',
                 r"line 4: \[proxy\] upstream: upstream 'http://h/a b' has a space",
                 id="proxy-url-space"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[proxy]\nupstream = "http://h"\n'
                 'timeout = 0\n', r"line 5: \[proxy\] timeout: timeout must be a number of "
                 "seconds above 0", id="proxy-timeout-zero"),
    pytest.param('[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[server]\nport = 1\n',
                 r"unknown table or key 'server'", id="unknown-table"),
    pytest.param('[jwt]\nsecret_key = "x\n',
                 r"jwt\.toml: not valid TOML: .*line 2", id="toml-syntax"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value) or "jwt.toml" in str(info.value)
    assert SECRET not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read"):
        load_config(tmp_path / "absent.toml")


def test_same_schema_as_from_mapping(tmp_path: Path) -> None:
    """Every key a Flask config would hold works in the [jwt] table, JWT_ prefix or not."""
    text = (f'[jwt]\nJWT_SECRET_KEY = "{SECRET}"\nJWT_DECODE_AUDIENCE = "api"\n'
            'header_type = "JWT"\nJWT_COOKIE_SECURE = "true"\n')
    settings = load_config(write(tmp_path, text)).manager.settings
    assert settings.audience == ("api",) and settings.header_type == "JWT"
    assert settings.cookie_secure is True


def test_find_line() -> None:
    text = '[a]\nx = 1\n[b]\n"x" = 2\n  \'/y/*\' = 3\n[c]  # note\nx: 4\n'
    assert find_line(text, "a", "x") == 2
    assert find_line(text, "b", "x") == 4
    assert find_line(text, "b", "/y/*") == 5
    assert find_line(text, "c", "x") == 7
    assert find_line(text, "d", "x") is None


def test_blocklist_table_shares_revocations_between_managers(tmp_path: Path,
                                                             recorder: Recorder) -> None:
    """Two managers built from one file (two worker processes) see each other's revocations."""
    from tests.harness.redis import RedisServer, wait_until

    server = RedisServer()
    try:
        path = write(tmp_path, f'[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n'
                               f'[routes]\n"/api/*" = "required"\n'
                               f'[blocklist]\nredis_url = "{server.url}"\nprefix = "cfg-test:"\n'
                               f'timeout = "2"\nmax_staleness = "0.5"\n')
        first, second = load_config(path), load_config(path)
        assert second.manager.blocklist.replica.max_staleness == 0.5  # type: ignore[attr-defined]
        token = first.manager.create_access_token("alice")
        client = Client(second.wrap(recorder))
        assert client.get("/api/x", headers=bearer(token)).status_code == 200
        first.manager.revoke(token)
        # Another worker's replica hears of it through Redis, within milliseconds.
        wait_until(lambda: client.get("/api/x", headers=bearer(token)).status_code == 401, 2,
                   "the revocation reached the other manager")
        response = client.get("/api/x", headers=bearer(token))
        assert response.json == {"msg": "Token has been revoked"}
    finally:
        server.close()


@pytest.mark.parametrize(("table", "message"), [
    pytest.param('redis_url = "http://x"', r"line 4: \[blocklist\] redis_url: must be a redis://",
                 id="bad-url"),
    pytest.param('prefix = "x"', r"\[blocklist\] redis_url: must be", id="no-url"),
    pytest.param('redis_url = "redis://127.0.0.1:1/0"\nprefx = "x"',
                 r"line 5: \[blocklist\] prefx: unknown option", id="typo"),
    pytest.param('redis_url = "redis://127.0.0.1:1/0"\ntimeout = "later"',
                 r"line 5: \[blocklist\] timeout: timeout must be a number", id="bad-timeout"),
    pytest.param('redis_url = "redis://127.0.0.1:1/0"\nmax_staleness = "0"',
                 r"max_staleness must be a number of seconds", id="bad-staleness"),
])
def test_blocklist_errors(tmp_path: Path, table: str, message: str) -> None:
    path = write(tmp_path, f'[jwt]\nsecret_key_env = "TEST_JWT_SECRET"\n[blocklist]\n{table}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_example_file(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "jwt.toml")
    client = Client(config.wrap(recorder))
    jwt = config.manager
    assert client.get("/health").status_code == 200
    assert client.get("/other").status_code == 401
    admin = jwt.create_access_token("a", fresh=True, additional_claims={"role": "admin"})
    assert client.delete("/admin/x", headers=bearer(admin)).status_code == 200
    assert client.delete("/admin/x", headers=bearer(jwt.create_access_token("a"))).status_code == 401
    reports = jwt.create_access_token("a", additional_claims={"scope": "reports:read"})
    assert client.get("/reports/2026", headers=bearer(reports)).status_code == 200
    proxy = config.reverse_proxy("http://127.0.0.1:9")
    assert proxy.claim_headers["scope"] == "X-Jwt-Scope" and proxy.forward_authorization is False
