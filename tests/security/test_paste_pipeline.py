"""forward_authorization = false in a PasteDeploy pipeline with a filter between jwt and the
proxy: loaded by loadapp from an INI file, served the request of a real client library
(werkzeug's test client), forwarded to a real upstream on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import JWTManager
from tests.harness import SECRET, need

loadwsgi = need("paste.deploy.loadwsgi")
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
NAMES = ("jwt_header_name = X-Token\njwt_token_location = headers cookies query_string\n"
         "jwt_access_cookie_name = sid\njwt_query_string_name = tok\n"
         "jwt_cookie_csrf_protect = false\n")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    monkeypatch.syspath_prepend(str(EXAMPLES))


def ini(tmp_path: Path, upstream: str, default: str = "", jwt: str = "", proxy: str = "") -> Path:
    path = tmp_path / "gateway.ini"
    path.write_text(
        f"[DEFAULT]\n{default}\n"
        "[pipeline:main]\npipeline = jwt between upstream\n\n"
        "[filter:jwt]\nuse = call:jwt_wsgi.paste:filter_factory\n"
        f"jwt_secret_key_env = JWT_SECRET_KEY\n{jwt}default = required\n\n"
        "[filter:between]\nuse = call:paste_between:filter_factory\n\n"
        f"[app:upstream]\nuse = call:jwt_wsgi.paste:proxy_app_factory\nupstream = {upstream}\n"
        f"forward_authorization = false\n{proxy}")
    return path


def token() -> str:
    return JWTManager(secret_key=SECRET).create_access_token("alice")


def sent(client: Client, how: str, value: str) -> dict[str, Any]:
    if how == "header":
        response = client.get("/api", headers={"X-Token": f"Bearer {value}"})
    elif how == "cookie":
        response = client.get("/api", headers={"Cookie": f"sid={value}; keep=1"})
    else:
        response = client.get(f"/api?tok={value}&keep=1")
    assert response.status_code == 200, response.get_data()
    seen: dict[str, Any] = json.loads(response.get_data())
    return seen


@pytest.mark.parametrize("layout", [
    pytest.param({"jwt": NAMES}, id="names-in-the-filter-only"),
    pytest.param({"default": NAMES}, id="names-in-default"),
    pytest.param({"jwt": NAMES, "proxy": NAMES}, id="names-in-both-sections"),
])
@pytest.mark.parametrize("how", ["header", "cookie", "query"])
def test_the_token_never_reaches_the_upstream_through_a_filter_between(
        tmp_path: Path, echo_upstream: str, layout: dict[str, str], how: str) -> None:
    app = loadwsgi.loadapp(f"config:{ini(tmp_path, echo_upstream, **layout)}")
    value = token()
    seen = sent(Client(app, use_cookies=False), how, value)
    everything = json.dumps(seen)
    for part in value.split("."):
        assert part not in everything
    assert "x-token" not in seen["headers"]
    if how == "cookie":
        assert seen["headers"]["cookie"] == "keep=1"
    if how == "query":
        assert seen["path"].endswith("/api?keep=1")


def test_a_proxy_that_cannot_know_the_names_refuses(tmp_path: Path, echo_upstream: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """No jwt filter in front at all: the proxy cannot tell where a token would be."""
    path = tmp_path / "bare.ini"
    path.write_text(f"[app:main]\nuse = call:jwt_wsgi.paste:proxy_app_factory\n"
                    f"upstream = {echo_upstream}\nforward_authorization = false\n")
    app = loadwsgi.loadapp(f"config:{path}")
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        response = Client(app).get("/api", headers={"Authorization": f"Bearer {token()}"})
        Client(app).get("/api")
    assert response.status_code == 500
    assert response.json == {"msg": "Internal server error"}
    assert len([r for r in caplog.records if "does not know" in r.getMessage()]) == 1


def test_the_proxy_apps_jwt_settings_are_checked(tmp_path: Path, echo_upstream: str) -> None:
    from jwt_wsgi import ConfigError

    with pytest.raises(ConfigError, match="proxy app's jwt_\\* settings"):
        loadwsgi.loadapp(f"config:{ini(tmp_path, echo_upstream, proxy='jwt_max_body_size = -1')}")
