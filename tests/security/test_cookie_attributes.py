"""Cookie helpers: an argument never writes its own attributes or headers into Set-Cookie.

The names, paths, Domain and SameSite from the settings are checked when the manager is
built (tests/security/test_settings_switches.py); these are the per-call arguments.
werkzeug's ``dump_cookie`` writes ``domain`` as it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jwt_wsgi import (
    JWTManager,
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_jwt_cookies,
    unset_refresh_cookies,
)
from tests.harness import SECRET


@pytest.fixture
def jwt() -> JWTManager:
    return JWTManager(secret_key=SECRET, token_location=["cookies"])


Helper = Callable[[JWTManager, list[tuple[str, str]], dict[str, Any]], object]

HELPERS: list[Any] = [
    pytest.param(lambda jwt, r, kw: set_access_cookies(
        r, jwt.create_access_token("a"), manager=jwt, **kw), id="set_access_cookies"),
    pytest.param(lambda jwt, r, kw: set_refresh_cookies(
        r, jwt.create_refresh_token("a"), manager=jwt, **kw), id="set_refresh_cookies"),
    pytest.param(lambda jwt, r, kw: unset_jwt_cookies(r, manager=jwt, **kw),
                 id="unset_jwt_cookies"),
    pytest.param(lambda jwt, r, kw: unset_access_cookies(r, manager=jwt, **kw),
                 id="unset_access_cookies"),
    pytest.param(lambda jwt, r, kw: unset_refresh_cookies(r, manager=jwt, **kw),
                 id="unset_refresh_cookies"),
]

BAD_DOMAINS = [
    pytest.param("example.com; Secure", id="semicolon-adds-an-attribute"),
    pytest.param("example.com\r\nSet-Cookie: owned=1", id="crlf-adds-a-header"),
    pytest.param("example.com\nX: y", id="lf-adds-a-header"),
    pytest.param("example.com, evil.example", id="comma-names-two"),
    pytest.param("exa mple.com", id="space"),
    pytest.param(" example.com", id="leading-blank"),
    pytest.param("", id="empty-string"),
]


@pytest.mark.parametrize("domain", BAD_DOMAINS)
@pytest.mark.parametrize("helper", HELPERS)
def test_a_domain_argument_that_is_not_a_host_name_is_refused(
        jwt: JWTManager, helper: Helper, domain: str) -> None:
    response: list[tuple[str, str]] = []
    with pytest.raises(ValueError, match="host name"):
        helper(jwt, response, {"domain": domain})
    assert response == []  # nothing half-set


BAD_MAX_AGES = [
    pytest.param("1; Domain=evil.example", id="text-with-an-attribute"),
    pytest.param(True, id="a-bool"),
    pytest.param(-1, id="negative"),
    pytest.param(1.5, id="fraction"),
    pytest.param(float("nan"), id="nan"),
]


@pytest.mark.parametrize("max_age", BAD_MAX_AGES)
@pytest.mark.parametrize("helper", HELPERS[:2])
def test_a_max_age_argument_that_is_not_whole_seconds_is_refused(
        jwt: JWTManager, helper: Helper, max_age: object) -> None:
    response: list[tuple[str, str]] = []
    with pytest.raises(ValueError, match="max_age"):
        helper(jwt, response, {"max_age": max_age})
    assert response == []


@pytest.mark.parametrize("domain", ["example.com", ".example.com", "api.example.com"])
def test_a_host_name_domain_argument_is_written(jwt: JWTManager, domain: str) -> None:
    response: list[tuple[str, str]] = []
    set_access_cookies(response, jwt.create_access_token("a"), max_age=60, domain=domain,
                       manager=jwt)
    assert response and all(f"Domain={domain.lstrip('.')}" in value for _, value in response)
