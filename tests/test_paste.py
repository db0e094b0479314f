"""PasteDeploy: the jwt filter and proxy app, loaded from examples/pipeline.ini by loadapp."""

from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, RedisBlocklist
from jwt_wsgi.paste import filter_factory, parse_routes, proxy_app_factory
from tests.harness import SECRET, Recorder, bearer, need

loadwsgi = need("paste.deploy.loadwsgi")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PIPELINE = EXAMPLES / "pipeline.ini"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    monkeypatch.syspath_prepend(str(EXAMPLES))  # for call:paste_app:app_factory


def pipeline_copy(tmp_path: Path, upstream: str = "http://127.0.0.1:9000",
                  egg: bool = False) -> Path:
    """examples/pipeline.ini, with call: instead of egg: unless egg is asked for."""
    text = PIPELINE.read_text()
    if not egg:
        text = text.replace("egg:jwt_wsgi#jwt", "call:jwt_wsgi.paste:filter_factory")
        text = text.replace("egg:jwt_wsgi#proxy", "call:jwt_wsgi.paste:proxy_app_factory")
    text = text.replace("http://127.0.0.1:9000", upstream)
    path = tmp_path / "pipeline.ini"
    path.write_text(text)
    return path


def mint(**claims: Any) -> str:
    return JWTManager(secret_key=SECRET).create_access_token("alice", fresh=claims.pop("fresh", False),
                                                            additional_claims=claims)


def test_pipeline_main_protects_the_app(tmp_path: Path) -> None:
    app = loadwsgi.loadapp(f"config:{pipeline_copy(tmp_path)}")
    assert isinstance(app, JWTMiddleware)
    client = Client(app)
    assert client.get("/health").json["greeting"] == "hello from the pipeline"
    assert client.get("/api/x").status_code == 401
    assert client.get("/somewhere").status_code == 401  # default = required
    response = client.get("/api/x", headers=bearer(mint(role="admin")))
    assert response.json == {"greeting": "hello from the pipeline", "path": "/api/x",
                             "user": "alice", "role": "admin"}
    assert client.post("/admin/x", headers=bearer(mint())).status_code == 401
    assert client.post("/admin/x", headers=bearer(mint(fresh=True))).status_code == 200
    assert client.get("/users/3", headers=bearer(mint())).status_code == 403
    assert client.get("/users/3", headers=bearer(mint(scope="users:read"))).status_code == 200
    # <int(min=1):...> rejects 0: no rule matches, so the default (required) applies
    assert client.get("/users/0").status_code == 401




def test_pipeline_gateway_forwards_claims(tmp_path: Path, echo_upstream: str) -> None:
    app = loadwsgi.loadapp(f"config:{pipeline_copy(tmp_path, echo_upstream)}", name="gateway")
    client = Client(app)
    response = client.get("/api/x", headers={**bearer(mint(role="ops")), "X-Jwt-Role": "admin"})
    seen = json.loads(response.get_data())["headers"]  # what the upstream received
    assert seen["x-jwt-sub"] == "alice" and seen["x-jwt-role"] == "ops"
    response = client.get("/health", headers={"X-Jwt-Sub": "mallory", "X_Jwt_Role": "admin"})
    seen = json.loads(response.get_data())["headers"]
    assert "x-jwt-sub" not in seen and "x-jwt-role" not in seen


def _entry_point_installed() -> bool:
    try:
        dist = importlib.metadata.distribution("jwt_wsgi")
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(ep.group == "paste.filter_factory" and ep.name == "jwt" for ep in dist.entry_points)


def test_egg_entry_point_loads_the_example_as_written(tmp_path: Path) -> None:
    """``egg:jwt_wsgi#jwt`` needs the installed distribution (CI installs it: never skips there)."""
    if not _entry_point_installed() and not os.environ.get("CI"):
        pytest.skip("jwt_wsgi is not installed with its entry points here (pip install . does "
                    "that; CI always runs this test)")
    app = loadwsgi.loadapp(f"config:{pipeline_copy(tmp_path, egg=True)}")
    assert isinstance(app, JWTMiddleware)
    assert Client(app).get("/api/x").status_code == 401


def test_setup_cfg_declares_the_entry_points() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    points = parser["options.entry_points"]
    assert "jwt = jwt_wsgi.paste:filter_factory" in points["paste.filter_factory"]
    assert "proxy = jwt_wsgi.paste:proxy_app_factory" in points["paste.app_factory"]


def test_routes_format() -> None:
    text = """
        # comments and blank lines are skipped
        /a = required

        GET,POST /b/* = fresh
        ; also a comment
        /c/<int(min=1):n> = {"require": "required", "claims": {"role": "x=y"}}
    """
    assert parse_routes(text) == {
        "/a": "required", "GET,POST /b/*": "fresh",
        "/c/<int(min=1):n>": {"require": "required", "claims": {"role": "x=y"}}}


def conf(**local: str) -> dict[str, Any]:
    return {"jwt_secret_key_env": "JWT_SECRET_KEY", **local}


GLOBAL = {"__file__": "/srv/app.ini", "here": "/srv"}


@pytest.mark.parametrize(("local", "message"), [
    pytest.param(conf(routes="/a required"), r"app\.ini: routes line '/a required': write PATTERN",
                 id="no-equals"),
    pytest.param(conf(routes="/a = {bad json"), r"routes line '/a = \{bad json': the policy is not "
                 r"valid JSON", id="bad-json"),
    pytest.param(conf(routes="/a = required\n/a = public"), "given twice", id="twice"),
    pytest.param(conf(routes="/a = requird"), r"routes line '/a': .*unknown policy 'requird'",
                 id="bad-policy"),
    pytest.param(conf(jwt_leeway="soon"), r"/srv/app\.ini: jwt_leeway: leeway must be a number",
                 id="bad-setting"),
    pytest.param(conf(JWT_SECRET_KEE="x"), r"JWT_SECRET_KEE: unknown key", id="unknown-setting"),
    pytest.param(conf(default="mandatory"), r"default: .*unknown policy", id="bad-default"),
    pytest.param(conf(remote_user="perhaps"), r"remote_user: remote_user must be true or false",
                 id="bad-bool"),
    pytest.param(conf(secret="x"), r"unknown key 'secret' in the jwt filter", id="unknown-key"),
    pytest.param({}, r"needs JWT_SECRET_KEY", id="no-secret"),
    pytest.param(conf(blocklist_redis_url="redis://127.0.0.1:1/0", blocklist_prefx="x"),
                 r"app\.ini: blocklist_prefx: unknown option", id="blocklist-typo"),
])
def test_filter_errors_name_the_file_and_key(local: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        filter_factory(GLOBAL, **local)


def test_filter_reads_a_key_file_relative_to_here(tmp_path: Path, recorder: Recorder) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    wrap = filter_factory({"here": str(tmp_path)}, jwt_secret_key_file="secret.txt",
                          routes="/x = required", default='{"require": "optional"}')
    client = Client(wrap(recorder))
    assert client.get("/x").status_code == 401
    assert client.get("/y").status_code == 200
    assert client.get("/y", headers=bearer("a.b.c")).status_code == 401  # optional: bad token


def test_filter_blocklist_keys_build_a_redis_blocklist() -> None:
    wrap = filter_factory(GLOBAL, **conf(blocklist_redis_url="redis://127.0.0.1:1/0",
                                         blocklist_prefix="app:", blocklist_timeout="0.5",
                                         routes="/api/* = required"))
    blocklist = wrap(Recorder()).manager.blocklist
    assert isinstance(blocklist, RedisBlocklist) and blocklist._prefix == "app:"


@pytest.mark.parametrize(("local", "message"), [
    pytest.param({}, "needs upstream", id="no-upstream"),
    pytest.param({"upstream": "http://h", "colour": "red"}, "unknown key 'colour'", id="unknown"),
    pytest.param({"upstream": "http://h", "claim_headers": "sub"}, "write claim = Header-Name",
                 id="bad-pairs"),
    pytest.param({"upstream": "http://h", "timeout": "never"}, "timeout must be a number",
                 id="bad-timeout"),
])
def test_proxy_app_errors(local: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        proxy_app_factory(GLOBAL, **local)


def test_proxy_app_converts_strings() -> None:
    proxy = proxy_app_factory(GLOBAL, upstream="http://127.0.0.1:1", timeout="2.5",
                              forward_authorization="false", claim_headers="sub = X-A, role=X-B")
    assert (proxy.timeout, proxy.forward_authorization) == (2.5, False)
    assert proxy.claim_headers == {"sub": "X-A", "role": "X-B"}



@pytest.mark.parametrize(("section", "message"), [
    pytest.param("jwt_secret_key_env = JWT_SECRET_KEY\njwt_leeway = soon\n",
                 r"pipeline\.ini, line 4: jwt_leeway: leeway must be a number", id="setting"),
    pytest.param("jwt_secret_key_env = JWT_SECRET_KEY\nroutes =\n    /a = required\n"
                 "    POST /b/* = sometimes\n",
                 r"pipeline\.ini, line 6: routes line 'POST /b/\*': .*unknown policy 'sometimes'",
                 id="route"),
])
def test_ini_errors_give_the_line(tmp_path: Path, section: str, message: str) -> None:
    ini = tmp_path / "pipeline.ini"
    ini.write_text("[filter:jwt]\nuse = call:jwt_wsgi.paste:filter_factory\n" + section +
                   "\n[pipeline:main]\npipeline = jwt api\n\n[app:api]\n"
                   "use = call:paste_app:app_factory\n")
    with pytest.raises(ConfigError, match=message):
        loadwsgi.loadapp(f"config:{ini}")
