"""The routes table: specificity, methods, converters, path readings, bad patterns."""

from __future__ import annotations

import pytest

from jwt_wsgi import ConfigError, InvalidRequestError
from jwt_wsgi.routes import RouteTable, canonical, readings

TABLE = RouteTable({
    "/*": "optional",
    "/admin/*": "fresh",
    "/admin/public": "public",
    "POST,DELETE /items/*": "required",
    "/items/*": "public",
    "/users/<int:user_id>": {"require": "required", "scopes": ["users:read"]},
    "/users/<path:rest>": "optional",
    "/users/me": "refresh",
    "/files/<path:rest>": "required",
    "/health": "public",
    "/": "public",
}, default="required")


@pytest.mark.parametrize(
    ("method", "path", "require"),
    [
        pytest.param("GET", "/admin", "fresh", id="prefix-itself"),
        pytest.param("GET", "/admin/", "fresh", id="prefix-slash"),
        pytest.param("GET", "/admin/x/y", "fresh", id="below-prefix"),
        pytest.param("GET", "/admin/public", "public", id="static-beats-wildcard"),
        pytest.param("GET", "/administrator", "optional", id="prefix-is-by-segment"),
        pytest.param("POST", "/items/1", "required", id="method-specific-wins"),
        pytest.param("GET", "/items/1", "public", id="any-method-fallback"),
        pytest.param("HEAD", "/admin/x", "fresh", id="head-like-get"),
        pytest.param("GET", "/users/7", "required", id="converter"),
        pytest.param("GET", "/users/me", "refresh", id="static-beats-converter"),
        pytest.param("GET", "/users/abc", "optional", id="converter-rejects-falls-to-path"),
        pytest.param("GET", "/users/7/avatar", "optional", id="path-converter"),
        pytest.param("GET", "/elsewhere", "optional", id="catch-all"),
        pytest.param("GET", "/", "public", id="root"),
        # "/health" does not cover "/health/" (Flask routes it to another view), so the
        # catch-all applies too: both readings, the stricter wins.
        pytest.param("GET", "/health/", "optional", id="trailing-slash-is-not-the-rule"),
    ],
)
def test_most_specific_rule_wins(method: str, path: str, require: str) -> None:
    assert TABLE.resolve(method, path).require == require


def test_order_of_the_mapping_does_not_matter() -> None:
    items = [("/a/*", "required"), ("/a/b", "public"), ("/a/<x>", "optional")]
    forward = RouteTable(dict(items))
    backward = RouteTable(dict(reversed(items)))
    for path in ("/a/b", "/a/c", "/a/c/d", "/a"):
        assert forward.resolve("GET", path) == backward.resolve("GET", path)


def test_converter_rejection_goes_to_more_general_rule_not_default() -> None:
    table = RouteTable({"/u/<int(max=10):n>": "public", "/u/*": "required"}, default="public")
    assert table.resolve("GET", "/u/5").require == "public"
    assert table.resolve("GET", "/u/11").require == "required"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/public/../admin/x", id="dot-dot"),
        pytest.param("//admin/x", id="double-leading-slash"),
        pytest.param("/admin//x", id="inner-double-slash"),
        pytest.param("/./admin", id="dot"),
        pytest.param("/public/%2e%2e/admin", id="encoded-dots"),
        pytest.param("/public%2f..%2fadmin", id="encoded-slashes"),
        pytest.param("/public/%252e%252e/admin", id="double-encoded-dots"),
        pytest.param("/public\\..\\admin", id="backslashes"),
        pytest.param("admin/x", id="no-leading-slash"),
    ],
)
def test_no_variant_of_a_protected_path_is_public(path: str) -> None:
    table = RouteTable({"/admin/*": "required", "/public/*": "public"}, default="public")
    assert table.resolve("GET", path).protected


def test_protected_if_any_reading_is_protected() -> None:
    table = RouteTable({"/a/<path:p>": "public", "/b": "fresh"}, default="public")
    assert table.resolve("GET", "/a/%2e%2e/b").require == "fresh"


@pytest.mark.parametrize("path", ["/admin\x00", "/a\nb", "/x%00", "/x%0d%0a", "/\x7f"])
def test_control_characters_are_a_bad_request(path: str) -> None:
    with pytest.raises(InvalidRequestError):
        TABLE.resolve("GET", path)


def test_ambiguous_readings_refresh_and_access() -> None:
    table = RouteTable({"/r": "refresh", "/a/<path:p>": "required"})
    policy = table.resolve("GET", "/a/..%2fr")
    assert policy.ambiguous and policy.protected


@pytest.mark.parametrize(("headers", "status", "message"), [
    ({}, 401, "Missing Authorization Header"),
    ({"Authorization": "Bearer x.y.z"}, 400, "Ambiguous request path"),
])
def test_ambiguous_readings_answer_401_without_a_token_and_400_with_one(
        headers: dict[str, str], status: int, message: str) -> None:
    """No token could satisfy a refresh rule and an access rule at once: a client without
    one is told what it lacks (401), a client with one that the path is ambiguous (400)."""
    from werkzeug.test import Client

    from jwt_wsgi import JWTManager, JWTMiddleware
    from tests.harness import SECRET, Recorder

    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, JWTManager(secret_key=SECRET),
                                  routes={"/r": "refresh", "/a/<path:p>": "required"}))
    response = client.get("/a/..%2fr", headers=headers)
    assert (response.status_code, response.json) == (status, {"msg": message})
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert recorder.calls == 0


def test_utf8_patterns_match_pep3333_paths() -> None:
    table = RouteTable({"/café/*": "required"})
    wsgi_path = "/café/x".encode().decode("latin-1")
    assert table.resolve("GET", wsgi_path).protected


def test_canonical_and_readings() -> None:
    assert canonical("//a/./b/../c/") == "/a/c"
    assert canonical("/../../") == "/"
    assert readings("/plain/path") == ("/plain/path",)
    assert readings("/a%2F..%2Fb")[-1] == "/b"


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        pytest.param({"/x": "private"}, "unknown policy", id="unknown-policy"),
        pytest.param({"FETCH /x": "required"}, "unknown HTTP method", id="unknown-method"),
        pytest.param({"x": "required"}, "must start with '/'", id="no-slash"),
        pytest.param({"/x/<foo:y>": "required"}, "unknown converter", id="unknown-converter"),
        pytest.param({"/x/*/y": "required"}, "trailing", id="inner-star"),
        pytest.param({"/x/<a>/<a>": "required"}, "twice", id="duplicate-variable"),
        pytest.param({"/x/<a": "required"}, "malformed", id="unclosed-variable"),
        pytest.param({"/x": {"require": "required", "scope": ["a"]}}, "unknown policy keys",
                     id="misspelt-key"),
        pytest.param({"/x": {"require": "public", "scopes": ["a"]}}, "public route",
                     id="public-with-scopes"),
        pytest.param({"/x": {"require": "required", "locations": ["body"]}}, "locations",
                     id="bad-location"),
        pytest.param({"/x": 3}, "a policy is", id="number-policy"),
    ],
)
def test_bad_tables_are_refused(routes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RouteTable(routes)


def test_lookup_cost_does_not_scan_unrelated_rules() -> None:
    table = RouteTable({f"/r{i}/*": "required" for i in range(1000)})
    assert len(table._root.children["r5"].candidates) == 1
    assert table.resolve("GET", "/nothing").require == "public"


def test_percent_encoded_pattern_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="decoded"):
        RouteTable({"/caf%C3%A9/*": "required"})


def test_lone_surrogate_in_path_is_a_400_not_a_500() -> None:
    with pytest.raises(InvalidRequestError):
        RouteTable({"/a": "required"}).resolve("GET", "/\ud800")
