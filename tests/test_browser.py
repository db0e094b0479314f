"""examples/browser_app driven end to end by headless Chromium over a real server.

Chromium is Debian's (``/usr/bin/chromium``), driven by Python playwright; ``.ci/run``
installs both. Outside CI, a machine without them skips these tests (say why below);
with ``CI`` set they fail instead, so the browser flow can never silently go untested.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

APP_PATH = Path(__file__).resolve().parent.parent / "examples" / "browser_app" / "app.py"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
    # Without this Chromium still resolves Google hosts on its own.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def load_example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JWT_SECRET_KEY", "browser-example-secret-" + "x" * 40)
    spec = importlib.util.spec_from_file_location("example_browser_app", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def need_browser() -> Any:
    """playwright's sync API, or a skip (outside CI) / failure (in CI) saying what is missing."""
    missing = []
    try:
        from playwright import sync_api
    except ImportError:
        missing.append("the playwright Python package (test extras)")
        sync_api = None
    if not os.path.exists(CHROMIUM):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run it (.ci/run installs both)")
        pytest.skip(reason + "; not installed on this machine")
    return sync_api


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_example(monkeypatch)


@pytest.fixture
def base_url(example: ModuleType) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, example.make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test gets a fresh context (its own cookie jar)."""
    sync_api = need_browser()
    sync_api.expect.set_options(timeout=15_000)  # two busy cores are slow
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def cookies_by_name(page: Any) -> dict[str, dict[str, Any]]:
    return {cookie["name"]: cookie for cookie in page.context.cookies()}


def test_login_call_csrf_refresh_logout_in_chromium(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto("/")
    expect(page.locator("#status")).to_have_text("Not logged in")

    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wonderland")
    page.click("#login button[type=submit]")
    expect(page.locator("#status")).to_have_text("Logged in as alice")

    cookies = cookies_by_name(page)
    assert cookies["access_token_cookie"]["httpOnly"] is True
    assert cookies["csrf_access_token"]["httpOnly"] is False
    assert cookies["refresh_token_cookie"]["path"] == "/token/refresh"
    assert cookies["access_token_cookie"]["sameSite"] == "Lax"
    # The page's script sees the CSRF values, never a token.
    visible = page.evaluate("document.cookie")
    assert "csrf_access_token=" in visible and "access_token_cookie" not in visible

    result = page.locator("#result")
    page.click("#call")
    expect(result).to_contain_text('200 {"user": "alice"')

    page.click("#call-without-csrf")
    expect(result).to_have_text('401 {"msg":"Missing CSRF token"}')

    old_access = cookies_by_name(page)["access_token_cookie"]
    page.click("#refresh")
    expect(result).to_have_text('200 {"refreshed": true}')
    assert cookies_by_name(page)["access_token_cookie"]["value"] != old_access["value"]
    page.click("#call")
    expect(result).to_contain_text('200 {"user": "alice"')

    revoked = cookies_by_name(page)["access_token_cookie"]
    page.click("#logout")
    expect(page.locator("#status")).to_have_text("Not logged in")
    assert not {"access_token_cookie", "csrf_access_token"} & set(cookies_by_name(page))
    page.click("#call")
    expect(result).to_have_text(
        '401 {"msg":"Missing JWT in cookies or headers (Missing cookie \\"access_token_cookie\\"; '
        'Missing Authorization Header)"}')

    # The logged-out token, replayed, is refused: logout revoked it, not only its cookie.
    page.context.add_cookies([{key: revoked[key] for key in
                               ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    page.click("#call-without-csrf")
    expect(result).to_have_text('401 {"msg":"Token has been revoked"}')


def test_wrong_password_in_chromium(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto("/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "<b>guess</b>")
    page.click("#login button[type=submit]")
    expect(page.locator("#error")).to_have_text("Wrong user name or password")
    expect(page.locator("#status")).to_have_text("Not logged in")
    assert "access_token_cookie" not in cookies_by_name(page)


def test_example_without_a_browser(example: ModuleType) -> None:
    """The same app through werkzeug's client: headers, refusals, the header location."""
    client = Client(example.make_app())
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert client.post("/login", data={"username": "alice", "password": "no"}).status_code == 401
    assert client.get("/api/me").status_code == 401
    assert client.get("/elsewhere").status_code == 401  # default="required"
    login = client.post("/login", data={"username": "alice", "password": "wonderland"})
    assert login.status_code == 303 and login.headers["Location"].endswith("/")
    # A script or curl can use the header instead: no cookie, so no CSRF header needed.
    jwt = example.make_manager("browser-example-secret-" + "x" * 40)
    token = jwt.create_access_token("bob")
    api = Client(example.make_app(jwt), use_cookies=False)
    response = api.post("/api/data", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json is not None
    assert response.json["user"] == "bob"


@pytest.fixture
def other_origin(base_url: str) -> Iterator[str]:
    """A page on another origin (another port: same site, so SameSite=Lax does not help)
    whose form posts to the example's API, as a cross-site request forgery would."""
    page = (f'<!doctype html><form method="post" action="{base_url}/api/data">'
            '<input type="hidden" name="amount" value="1000">'
            '<button id="forge" type="submit">Win a prize</button></form>').encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(page)))])
        return [page]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(5)


def test_forged_cross_origin_post_is_refused_in_chromium(browser_page: Any,
                                                         other_origin: str) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto("/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wonderland")
    page.click("#login button[type=submit]")
    expect(page.locator("#status")).to_have_text("Logged in as alice")

    page.goto(other_origin)
    page.click("#forge")
    page.wait_for_url("**/api/data")
    # The browser did send the access cookie (the token was found and verified: otherwise the
    # answer would be "Missing JWT ..."), but the forged request could not send the CSRF value.
    expect(page.locator("body")).to_contain_text('{"msg":"Missing CSRF token"}')
