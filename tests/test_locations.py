"""Token locations: header, cookie, query string, JSON body, and what happens with several."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, EnvironBuilder

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, Settings, get_jwt_request_location
from tests import harness
from tests.harness import Recorder

ALL = ["headers", "cookies", "query_string", "json"]
ROUTES: dict[str, Any] = {
    "/api/*": "required",
    "/token/refresh": "refresh",
    "/header-only": {"require": "required", "locations": ["headers"]},
    "/feed": "optional",
}


manager = functools.partial(harness.manager, token_location=ALL)


def client_for(jwt: JWTManager, recorder: Recorder) -> Client:
    """A client that sends the ``Cookie`` header it is given (no cookie jar)."""
    routes = {key: policy for key, policy in ROUTES.items()
              if key != "/header-only" or "headers" in jwt.settings.token_location}
    return Client(JWTMiddleware(recorder, jwt, routes=routes), use_cookies=False)


def offer(client: Client, location: str, token: str, path: str = "/api/x",
          refresh: bool = False, method: str = "GET") -> Any:
    """A request carrying ``token`` in one location (GET, so CSRF does not apply)."""
    if location == "headers":
        return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
    if location == "cookies":
        name = "refresh_token_cookie" if refresh else "access_token_cookie"
        return client.open(path, method=method, headers={"Cookie": f"{name}={token}"})
    if location == "query_string":
        return client.open(path, method=method, query_string={"jwt": token})
    key = "refresh_token" if refresh else "access_token"
    return client.open(path, method=method, json={key: token})


@pytest.mark.parametrize("location", ALL)
def test_each_location_alone(location: str, recorder: Recorder) -> None:
    jwt = manager()
    response = offer(client_for(jwt, recorder), location, jwt.create_access_token("alice"))
    assert response.status_code == 200, response.get_data()
    environ = recorder.environs[-1]
    assert environ["jwt_wsgi.identity"] == "alice"
    assert get_jwt_request_location(environ) == location


@pytest.mark.parametrize("location", ALL)
def test_refresh_route_reads_refresh_names(location: str, recorder: Recorder) -> None:
    jwt = manager()
    client = client_for(jwt, recorder)
    refresh = jwt.create_refresh_token("alice")
    ok = offer(client, location, refresh, "/token/refresh", refresh=True)
    assert ok.status_code == 200
    if location in ("cookies", "json"):
        # Under the access names, a refresh route sees no token at all.
        missing = offer(client, location, refresh, "/token/refresh", refresh=False)
        assert missing.status_code == 401
        assert json.loads(missing.get_data())["msg"].startswith("Missing JWT in ")


@pytest.mark.parametrize(
    ("only", "message"),
    [
        pytest.param(["headers"], "Missing Authorization Header", id="headers"),
        pytest.param(["cookies"], 'Missing cookie "access_token_cookie"', id="cookies"),
        pytest.param(["query_string"], "Missing 'jwt' query paramater", id="query"),
        pytest.param(["json"], 'Missing "access_token" key in json data.', id="json"),
        pytest.param(ALL, "Missing JWT in headers, cookies, query_string or json (Missing "
                     "Authorization Header; Missing cookie \"access_token_cookie\"; Missing "
                     "'jwt' query paramater; Missing \"access_token\" key in json data.)",
                     id="all"),
    ],
)
def test_missing_message_names_the_location(only: list[str], message: str,
                                            recorder: Recorder) -> None:
    response = client_for(manager(token_location=only), recorder).get("/api/x")
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": message}
    assert response.headers["WWW-Authenticate"] == "Bearer"


PAIRS = [(a, b) for i, a in enumerate(ALL) for b in ALL[i + 1:]]


def offer_two(client: Client, first: str, second: str, token: str) -> Any:
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    for location in (first, second):
        if location == "headers":
            headers["Authorization"] = f"Bearer {token}"
        elif location == "cookies":
            headers["Cookie"] = f"access_token_cookie={token}"
        elif location == "query_string":
            kwargs["query_string"] = {"jwt": token}
        else:
            kwargs["json"] = {"access_token": token}
    return client.get("/api/x", headers=headers, **kwargs)


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_two_locations_are_rejected(first: str, second: str, recorder: Recorder) -> None:
    jwt = manager()
    # The same valid token twice is still ambiguous (RFC 6750 3.1: one method only).
    response = offer_two(client_for(jwt, recorder), first, second,
                         jwt.create_access_token("alice"))
    assert response.status_code == 400
    assert json.loads(response.get_data()) == {"msg": "Token provided in more than one location"}
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert recorder.calls == 0


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_first_location_wins_when_configured(first: str, second: str,
                                             recorder: Recorder) -> None:
    jwt = manager(location_conflict="first_location", token_location=[second, first])
    response = offer_two(client_for(jwt, recorder), first, second,
                         jwt.create_access_token("alice"))
    assert response.status_code == 200
    assert get_jwt_request_location(recorder.environs[-1]) == second


def test_first_location_ignores_a_bad_later_token(recorder: Recorder) -> None:
    jwt = manager(location_conflict="first_location")
    token = jwt.create_access_token("alice")
    client = client_for(jwt, recorder)
    response = client.get("/api/x", headers={"Authorization": f"Bearer {token}",
                                             "Cookie": "access_token_cookie=garbage"})
    assert response.status_code == 200
    assert get_jwt_request_location(recorder.environs[-1]) == "headers"
    # ... and a later JSON body is not even read: the app gets it untouched, malformed or not.
    response = client.post("/api/x", headers={"Authorization": f"Bearer {token}"},
                           data=b"{not json", content_type="application/json")
    assert response.status_code == 200
    assert "jwt_wsgi.body" not in recorder.environs[-1]


def test_first_location_rejects_a_bad_first_token(recorder: Recorder) -> None:
    jwt = manager(location_conflict="first_location")
    response = client_for(jwt, recorder).get(
        "/api/x", headers={"Authorization": "Bearer garbage"},
        query_string={"jwt": jwt.create_access_token("alice")})
    assert response.status_code == 401  # the header wins, and its token is bad
    assert recorder.calls == 0


def test_route_locations_narrow_the_search(recorder: Recorder) -> None:
    jwt = manager()
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    response = client.get("/header-only", headers={"Cookie": f"access_token_cookie={token}"})
    assert response.status_code == 401
    assert json.loads(response.get_data()) == {"msg": "Missing Authorization Header"}
    # A token in a location the route does not look at is no conflict either.
    response = client.get("/header-only", headers={"Authorization": f"Bearer {token}",
                                                   "Cookie": f"access_token_cookie={token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"headers": {"Cookie": "access_token_cookie=a.b.c; access_token_cookie=d.e.f"}},
                     'Cookie "access_token_cookie" sent more than once', id="cookie-twice"),
        pytest.param({"query_string": "jwt=a.b.c&jwt=d.e.f"},
                     'Query parameter "jwt" given more than once', id="query-twice"),
        pytest.param({"data": b'{"access_token": "a.b.c", "access_token": "d.e.f"}',
                      "content_type": "application/json"}, "Malformed JSON body",
                     id="json-key-twice"),
        pytest.param({"json": {"access_token": 12}},
                     '"access_token" in the JSON body must be a string', id="json-not-string"),
        pytest.param({"json": {"access_token": ["a.b.c"]}},
                     '"access_token" in the JSON body must be a string', id="json-list"),
    ],
)
def test_two_tokens_in_one_location_are_rejected(kwargs: dict[str, Any], message: str,
                                                 recorder: Recorder) -> None:
    response = client_for(manager(), recorder).post("/api/x", **kwargs)
    assert response.status_code == 400
    assert json.loads(response.get_data()) == {"msg": message}
    assert recorder.calls == 0


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param('access_token_cookie="{token}"', id="quoted"),
        pytest.param("theme=dark; access_token_cookie={token}; lang=en", id="among-others"),
        pytest.param("access_token_cookie=; access_token_cookie={token}", id="empty-and-real"),
        pytest.param("junk; access_token_cookie={token}", id="malformed-pair-skipped"),
        pytest.param("xaccess_token_cookie=1; access_token_cookie={token}", id="longer-name"),
    ],
)
def test_cookie_header_shapes(cookie: str, recorder: Recorder) -> None:
    jwt = manager(token_location=["cookies"])
    response = client_for(jwt, recorder).get(
        "/api/x", headers={"Cookie": cookie.format(token=jwt.create_access_token("alice"))})
    assert response.status_code == 200


def test_empty_values_are_no_token(recorder: Recorder) -> None:
    client = client_for(manager(), recorder)
    for kwargs in ({"headers": {"Cookie": "access_token_cookie="}}, {"query_string": "jwt="},
                   {"json": {"access_token": ""}}, {"json": ["access_token"]},
                   {"json": "access_token"}):
        response = client.post("/api/x", **kwargs)
        assert response.status_code == 401, kwargs
        assert json.loads(response.get_data())["msg"].startswith("Missing JWT")
    # Optional routes let such requests through without claims.
    assert client.get("/feed", headers={"Cookie": "access_token_cookie="}).status_code == 200


def test_json_location_needs_a_json_content_type(recorder: Recorder) -> None:
    jwt = manager(token_location=["json"])
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    body = json.dumps({"access_token": token})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = client.post("/api/x", data=body, content_type=content_type)
        assert response.status_code == 401, content_type
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert client.post("/api/x", data=body, content_type=content_type).status_code == 200


def test_query_string_value_prefix(recorder: Recorder) -> None:
    jwt = manager(token_location=["query_string"], query_string_value_prefix="Bearer ")
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    assert client.get("/api/x", query_string={"jwt": f"Bearer {token}"}).status_code == 200
    response = client.get("/api/x", query_string={"jwt": token})
    assert response.status_code == 400
    assert "Expected 'Bearer <JWT>'" in json.loads(response.get_data())["msg"]


def test_custom_names(recorder: Recorder) -> None:
    jwt = manager(access_cookie_name="at", query_string_name="token", json_key="tok")
    client = client_for(jwt, recorder)
    token = jwt.create_access_token("alice")
    assert client.get("/api/x", headers={"Cookie": f"at={token}"}).status_code == 200
    assert client.get("/api/x", query_string={"token": token}).status_code == 200
    assert client.post("/api/x", json={"tok": token}).status_code == 200
    assert client.get("/api/x", query_string={"jwt": token}).status_code == 401


def test_a_bad_token_in_any_location_is_401_not_a_traceback(recorder: Recorder) -> None:
    client = client_for(manager(), recorder)
    for location in ALL:
        response = offer(client, location, "not.a.token")
        assert response.status_code == 401, location
        assert "not.a.token" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"location_conflict": "last"}, "location_conflict", id="conflict"),
        pytest.param({"token_location": ["headers", "body"]}, "token location", id="location"),
        pytest.param({"access_cookie_name": "a b"}, "access_cookie_name", id="cookie-name"),
        pytest.param({"access_csrf_header_name": "X:CSRF"}, "access_csrf_header_name",
                     id="csrf-header"),
        pytest.param({"refresh_cookie_path": "api"}, "refresh_cookie_path", id="path"),
        pytest.param({"access_cookie_path": "/a;b"}, "access_cookie_path", id="path-semicolon"),
        pytest.param({"cookie_domain": "exa mple.com"}, "cookie_domain", id="domain"),
        pytest.param({"cookie_samesite": "None"}, "cookie_secure", id="samesite-none-insecure"),
    ],
)
def test_location_settings_are_checked_at_construction(options: dict[str, Any],
                                                       fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Settings.build(**options)


def test_location_settings_from_mapping() -> None:
    settings = Settings.from_mapping({
        "JWT_TOKEN_LOCATION": "cookies, headers", "JWT_LOCATION_CONFLICT": "first_location",
        "JWT_COOKIE_SECURE": "true", "JWT_COOKIE_SAMESITE": "strict",
        "JWT_CSRF_METHODS": "post, delete", "JWT_SESSION_COOKIE": "false",
        "JWT_COOKIE_DOMAIN": ".example.com",
    })
    assert settings.token_location == ("cookies", "headers")
    assert settings.location_conflict == "first_location"
    assert settings.cookie_secure is True and settings.cookie_samesite == "Strict"
    assert settings.csrf_methods == ("POST", "DELETE")
    assert settings.session_cookie is False and settings.cookie_domain == ".example.com"


def test_flask_jwt_extended_defaults() -> None:
    s = Settings.build()
    assert (s.access_cookie_name, s.refresh_cookie_name) == ("access_token_cookie",
                                                             "refresh_token_cookie")
    assert (s.access_csrf_cookie_name, s.refresh_csrf_cookie_name) == ("csrf_access_token",
                                                                       "csrf_refresh_token")
    assert s.access_csrf_header_name == s.refresh_csrf_header_name == "X-CSRF-TOKEN"
    assert (s.query_string_name, s.json_key, s.refresh_json_key) == ("jwt", "access_token",
                                                                     "refresh_token")
    assert s.csrf_methods == ("POST", "PUT", "PATCH", "DELETE")
    assert s.cookie_csrf_protect and s.csrf_in_cookies and s.session_cookie
    assert not s.cookie_secure and s.cookie_samesite is None and s.cookie_domain is None
    assert s.location_conflict == "reject"


# -- whatever a client sends, the answer is a JSON 2xx/4xx, never a traceback --------------

_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
_pieces = st.sampled_from(["access_token_cookie", "jwt", "access_token", "=", ";", "&", '"',
                           "%", ",", " ", "Bearer ", "a.b.c", "{", "}", "[", "]", ":"])
_fuzz = st.lists(st.one_of(_pieces, _text), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(cookie=_fuzz, query=_fuzz, authorization=_fuzz, body=_fuzz,
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain"]),
       conflict=st.sampled_from(["reject", "first_location"]),
       method=st.sampled_from(["GET", "POST", "DELETE"]))
def test_any_input_is_a_clean_refusal(cookie: str, query: str, authorization: str, body: str,
                                      content_type: str, conflict: str, method: str) -> None:
    jwt = manager(location_conflict=conflict, csrf_check_form=True)
    app = JWTMiddleware(Recorder(), jwt, routes=ROUTES)
    environ = EnvironBuilder("/api/x", method=method, data=body.encode("latin-1"),
                             content_type=content_type).get_environ()
    environ.update(HTTP_COOKIE=cookie, QUERY_STRING=query, HTTP_AUTHORIZATION=authorization)
    status: list[str] = []
    data = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert status[0][:3] in ("400", "401"), (status, data)
    assert set(json.loads(data)) == {"msg"}


EXPECTED_BEARER = ("Missing 'Bearer' type in 'Authorization' header. "
                   "Expected 'Authorization: Bearer <JWT>'")


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        pytest.param("abc.def.ghi", {}, EXPECTED_BEARER, id="token_without_scheme"),
        pytest.param("Token abc.def.ghi", {}, EXPECTED_BEARER, id="django_rest_token_scheme"),
        pytest.param("JWT abc.def.ghi", {}, EXPECTED_BEARER, id="jwt_scheme"),
        pytest.param("Basic YWxpY2U6cHc=", {}, EXPECTED_BEARER, id="basic_credentials"),
        pytest.param("Bearer abc", {"header_type": "JWT"},
                     "Missing 'JWT' type in 'Authorization' header. "
                     "Expected 'Authorization: JWT <JWT>'", id="bearer_where_jwt_is_configured"),
        pytest.param("   ", {}, "Missing Authorization Header", id="blank_header_is_missing"),
        pytest.param("Token abc", {"token_location": ["headers", "cookies"]},
                     f"Missing JWT in headers or cookies ({EXPECTED_BEARER}; "
                     'Missing cookie "access_token_cookie")', id="several_locations"),
    ],
)
def test_token_with_another_scheme_is_not_called_a_missing_header(
        header: str, options: dict[str, Any], message: str, recorder: Recorder) -> None:
    """The header was there, so "Missing Authorization Header" misled; flask-jwt-extended
    4.x's words say what was expected, with the same 401 and unauthorized_loader."""
    jwt = manager(**{"token_location": ["headers"], **options})
    seen: list[str] = []
    client = client_for(jwt, recorder)
    for _ in range(2):  # the second time through the header memo
        response = client.get("/api/x", headers={"Authorization": header})
        assert response.status_code == 401
        assert json.loads(response.get_data()) == {"msg": message}
    jwt.unauthorized_loader(lambda msg: (seen.append(msg) or {"custom": msg}, 401))
    assert client.get("/api/x", headers={"Authorization": header}).status_code == 401
    assert seen == [message] and recorder.calls == 0
