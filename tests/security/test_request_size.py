"""However large a request, the middleware's share of it costs a few milliseconds.

The path is read up to ``max_path_size`` (a longer one is a 414). A query string, a
``Cookie`` header and a form body are searched for the one name we want, never split into
all their pairs: ``parse_qsl`` took 100 ms for a 256 KiB query string of ``jwt=a&`` pairs
and 300 ms for a 1 MiB form body; a long percent-encoded value is refused before it is
decoded. The bound is a regression guard: these cases measure 0.1 to 3.5 ms here (the
form bodies, 1 MiB each, the most).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from werkzeug.test import Client

from benchmarks.path_dos import cpu_time
from jwt_wsgi import ConfigError, ForwardAuth, JWTManager, JWTMiddleware
from jwt_wsgi.body import MAX_JSON_VALUES
from jwt_wsgi.config import build_config
from jwt_wsgi.pairs import MAX_OCCURRENCES, TooManyOccurrences, cookie_values, query_values
from jwt_wsgi.paste import filter_factory
from jwt_wsgi.proxy_request import without_cookies, without_parameter
from jwt_wsgi.routes import MAX_PATH_SIZE
from tests import harness
from tests.harness import SECRET, Recorder

BOUND = 0.025  # seconds of CPU for one request
KIB = 1024
ROUTES = {"/api/*": "required", "/feed": "optional"}


def _jwt() -> JWTManager:
    return harness.manager(token_location=["headers", "cookies", "query_string", "json"],
                           csrf_check_form=True)


JWT = _jwt()
TOKEN = JWT.create_access_token("alice")
CSRF = JWT.decode_token(TOKEN)["csrf"]


def _request(app: Any, path: str = "/api/x", query: str = "", cookie: str | None = None,
             body: bytes | None = None, content_type: str = "",
             method: str = "GET") -> Callable[[], str]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "",
               "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http"}
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    if body is not None:
        environ["CONTENT_TYPE"] = content_type
        environ["CONTENT_LENGTH"] = str(len(body))

    def call() -> str:
        statuses: list[str] = []
        request = dict(environ)
        if body is not None:
            request["wsgi.input"] = io.BytesIO(body)

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return lambda data: None

        b"".join(app(request, start_response))
        return statuses[0]

    return call


APP = JWTMiddleware(Recorder(), JWT, routes=ROUTES)
MULTIPART = "multipart/form-data; boundary=x"
JSON = "application/json"


def _keys(count: int) -> bytes:
    """A JSON object of ``count`` members and a (bad) token: it is searched and parsed."""
    members = ",".join(f'"k{i}": 1' for i in range(count - 1))
    return ('{"access_token": "not.a.token", ' + members + "}").encode()


def _parts(count: int, name: str = "csrf_token", value: str = "v") -> bytes:
    part = f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    return (part * count + "--x--\r\n").encode()
FORM = "application/x-www-form-urlencoded"
SIGNED_IN = f"access_token_cookie={TOKEN}"
BIG = 256 * KIB
MIB = 1024 * KIB

# (id, request, status): each request is as large as a server would let through
CASES = [
    ("query-many-token-pairs", _request(APP, query="jwt=a&" * (BIG // 6)), "400"),
    ("query-many-empty-token-pairs", _request(APP, query="jwt=&" * (BIG // 5)), "400"),
    ("query-many-other-pairs", _request(APP, query="a=b&" * (BIG // 4)), "401"),
    ("query-token-among-many-pairs", _request(APP, query="a=b&" * (BIG // 4) + "jwt=" + TOKEN),
     "200"),
    ("query-long-escaped-value", _request(APP, query="jwt=" + "%41" * (BIG // 3)), "401"),
    ("query-long-value", _request(APP, query="jwt=" + "a" * BIG), "401"),
    ("query-name-as-a-prefix", _request(APP, query="jwtx=1&" * (BIG // 7)), "401"),
    ("cookie-many-token-cookies", _request(APP, cookie="access_token_cookie=a; " * (BIG // 22)),
     "400"),
    ("cookie-many-empty-token-cookies", _request(APP, cookie="access_token_cookie=; "
                                                 * (BIG // 21)), "400"),
    ("cookie-many-other-cookies", _request(APP, cookie="a=b; " * (BIG // 5)), "401"),
    ("cookie-token-after-a-long-blank-run", _request(APP, cookie=";" + " " * BIG + SIGNED_IN),
     "200"),
    ("cookie-name-in-long-blank-pairs", _request(APP, cookie=(" " * 4 * KIB
                                                              + "access_token_cookie;") * 64),
     "401"),
    ("cookie-names-in-one-long-blank-pair", _request(
        APP, cookie=" " * BIG + ("access_token_cookie" + " " * 8192) * 63
        + "access_token_cookie=x"), "401"),
    ("form-many-csrf-fields", _request(APP, cookie=SIGNED_IN, method="POST", content_type=FORM,
                                       body=b"csrf_token=a&" * (MIB // 13)), "401"),
    ("form-many-other-fields", _request(APP, cookie=SIGNED_IN, method="POST", content_type=FORM,
                                        body=b"a=b&" * (MIB // 4 - 20) + b"csrf_token="
                                        + CSRF.encode()), "200"),
    ("form-long-escaped-csrf", _request(APP, cookie=SIGNED_IN, method="POST", content_type=FORM,
                                        body=b"csrf_token=" + b"%41" * (MIB // 3 - 4)), "400"),
    ("multipart-many-parts", _request(APP, cookie=SIGNED_IN, method="POST",
                                      content_type=MULTIPART, body=_parts(17000)), "400"),
    ("multipart-without-the-field", _request(APP, cookie=SIGNED_IN, method="POST",
                                             content_type=MULTIPART,
                                             body=_parts(17000, "other")), "401"),
    ("json-many-objects", _request(APP, method="POST", content_type=JSON,
                                   body=b'{"access_token": "x", "a": [' + b"{}," * (MIB // 3 - 20)
                                   + b"{}]}"), "401"),
    ("json-many-keys-at-the-limit", _request(APP, method="POST", content_type=JSON,
                                             body=_keys(MAX_JSON_VALUES - 1)), "401"),
    ("json-long-escaped-string", _request(APP, method="POST", content_type=JSON,
                                          body=b'{"a": "' + b"\\u0041" * (MIB // 6 - 2)
                                          + b'"}'), "401"),
    ("path-over-the-limit", _request(APP, path="/api/" + "%2e" * BIG), "414"),
]


@pytest.mark.parametrize(("call", "status"),
                         [pytest.param(call, status, id=name) for name, call, status in CASES])
def test_a_large_request_costs_a_few_milliseconds(call: Callable[[], str], status: str) -> None:
    assert call().split()[0] == status
    assert cpu_time(call) < BOUND


def test_a_multipart_form_is_parsed_up_to_1000_parts() -> None:
    """werkzeug parses each part in 20-40 us: 1000 parts (its own Request default) are
    parsed, and the field given 1000 times is refused as given more than once; 1001
    parts are refused before any parsing."""
    from jwt_wsgi.body import MAX_FORM_PARTS

    assert MAX_FORM_PARTS == 1000
    at_limit = _request(APP, cookie=SIGNED_IN, method="POST", content_type=MULTIPART,
                        body=_parts(MAX_FORM_PARTS))
    over = _request(APP, cookie=SIGNED_IN, method="POST", content_type=MULTIPART,
                    body=_parts(MAX_FORM_PARTS + 1))
    assert at_limit().startswith("401") and over().startswith("400")
    assert cpu_time(at_limit) < 0.25  # a denial-of-service guard: 40 ms here
    assert cpu_time(over) < BOUND
    one = _request(APP, cookie=SIGNED_IN, method="POST", content_type=MULTIPART,
                   body=_parts(1, value=CSRF))
    assert one().startswith("200")


def test_a_json_body_too_large_to_search_counts_as_no_token() -> None:
    """Up to MAX_JSON_VALUES the body is searched (a bad token there is refused as bad);
    past it the token is not looked for, so a token elsewhere still counts alone."""
    jwt = harness.manager(token_location=["headers", "json"])
    client = Client(JWTMiddleware(Recorder(), jwt, routes=ROUTES))
    token = jwt.create_access_token("alice")

    def post(values: int, **headers: str) -> Any:
        return client.post("/api/x", data=_keys(values), content_type=JSON, headers=headers)

    searched = post(MAX_JSON_VALUES - 2)
    assert searched.status_code == 401
    assert json.loads(searched.get_data()) == {"msg": "Invalid header"}  # found, and bad
    too_large = post(MAX_JSON_VALUES + 2)
    assert too_large.status_code == 401
    assert json.loads(too_large.get_data())["msg"].startswith("Missing JWT in headers or json")
    assert post(MAX_JSON_VALUES + 2, Authorization=f"Bearer {token}").status_code == 200
    assert post(MAX_JSON_VALUES - 2, Authorization=f"Bearer {token}").status_code == 400


# -- the finders read what parse_qsl and a plain split read ------------------------------


def _parse_qsl_values(text: str, name: str) -> list[str]:
    return [value for key, value in parse_qsl(text, keep_blank_values=True)
            if key == name and value]


def _split_cookie_values(header: str, name: str) -> list[str]:
    """What the Cookie header parser did before: split at ";", strip, unquote."""
    found = []
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found.append(value)
    return found


def test_query_values_read_as_parse_qsl_reads() -> None:
    """Names written plainly (``%`` only in values): the same values, in the same order."""
    rng = random.Random(7)
    for _ in range(3000):
        parts = [rng.choice(["jwt", "jw", "jwtx", "a", "", "jwt ", "xjwt"])
                 + rng.choice(["=", "", "=="]) + "".join(rng.choice("ab+%41=jwt ")
                                                         for _ in range(rng.randrange(4)))
                 for _ in range(rng.randrange(6))]
        text = "&".join(parts)
        names = [part.partition("=")[0] for part in parts]
        if any("%" in name or "+" in name for name in names):
            continue
        assert [unquote_plus(v) for v in query_values(text, "jwt")] == \
            _parse_qsl_values(text, "jwt"), text


def test_cookie_values_read_as_splitting_reads() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        header = "".join(rng.choice(["access", "access ", ";", " ", "=", "\t", '"', "a",
                                     "access=", "; access=x", "xaccess"])
                         for _ in range(rng.randrange(10)))
        assert cookie_values(header, "access") == _split_cookie_values(header, "access"), header


@pytest.mark.parametrize(("text", "values"), [
    pytest.param("jwt=a", ["a"], id="one"),
    pytest.param("x=1&jwt=a&y=2", ["a"], id="among-others"),
    pytest.param("jwt=&jwt=a", ["a"], id="empty-left-out"),
    pytest.param("jwt&jwt=a", ["a"], id="no-equals-left-out"),
    pytest.param("jwt=a=b", ["a=b"], id="equals-in-value"),
    pytest.param("jwt=a;jwt=b", ["a;jwt=b"], id="semicolon-is-no-separator"),
    pytest.param("j%77t=a", [], id="encoded-name-is-another-name"),
    pytest.param("xjwt=a&jwtx=b", [], id="other-names"),
    pytest.param("jwt=a&&jwt=b", ["a", "b"], id="two"),
])
def test_query_values_cases(text: str, values: list[str]) -> None:
    assert query_values(text, "jwt") == values


def test_a_name_written_too_often_is_refused() -> None:
    assert len(query_values("jwt=&" * MAX_OCCURRENCES, "jwt")) == 0
    with pytest.raises(TooManyOccurrences):
        query_values("jwt=&" * (MAX_OCCURRENCES + 1), "jwt")
    assert cookie_values("c=; " * MAX_OCCURRENCES, "c") == [""] * MAX_OCCURRENCES
    with pytest.raises(TooManyOccurrences):
        cookie_values("c=; " * (MAX_OCCURRENCES + 1), "c")


def test_the_name_finders_read_the_text_a_bounded_number_of_times() -> None:
    """64 writings of the name in one long blank pair: each search stays between two
    writings, so the text is read a few times, not 64 times (15 ms before, 0.5 ms now)."""
    name = "access_token_cookie"
    header = " " * BIG + (name + " " * 8192) * 63 + name + "=x"
    assert cookie_values(header, name) == []
    assert cpu_time(lambda: cookie_values(header, name)) < 0.005
    query = "&" * BIG + ("jwt=" + "a" * 8192 + "&") * 64
    assert len(query_values(query, "jwt")) == 64
    assert cpu_time(lambda: query_values(query, "jwt")) < 0.005


def test_the_query_token_limit_still_lets_the_largest_token_through() -> None:
    jwt = harness.manager(token_location=["query_string"], max_token_size=1000)
    client = Client(JWTMiddleware(Recorder(), jwt, routes=ROUTES))
    token = jwt.create_access_token("a" * 200)
    token = jwt.create_access_token("a" * (200 + (1000 - len(token)) * 3 // 4))
    assert 997 <= len(token) <= 1000
    escaped = "".join(f"%{ord(c):02X}" for c in token)  # the longest spelling of it
    assert client.get("/api/x?jwt=" + escaped).status_code == 200
    at_limit = client.get("/api/x?jwt=" + "%41" * 1000)  # 1000 characters once decoded
    assert json.loads(at_limit.get_data()) == {"msg": "Not enough segments"}
    over = client.get("/api/x?jwt=" + "%41" * 1000 + "A")  # refused before decoding
    assert over.status_code == 401
    assert json.loads(over.get_data()) == {"msg": "Token is too large"}


# -- max_path_size -----------------------------------------------------------------------


def test_a_path_over_max_path_size_is_a_json_414_and_the_app_is_not_called() -> None:
    recorder, outcomes = Recorder(), []
    app = JWTMiddleware(recorder, JWT, routes=ROUTES,
                        on_outcome=lambda outcome, environ: outcomes.append(outcome))
    client = Client(app)
    at_limit = "/api/" + "a" * (MAX_PATH_SIZE - 5)
    assert client.get(at_limit).status_code == 401  # read and matched
    response = client.get(at_limit + "a")
    assert response.status_code == 414
    assert json.loads(response.get_data()) == {"msg": "Request path too long"}
    assert response.headers["Content-Type"] == "application/json"
    response = client.get("/public" + "a" * MAX_PATH_SIZE)  # public or not: never read
    assert response.status_code == 414
    assert recorder.calls == 0
    assert outcomes == ["missing_token", "path_too_long", "path_too_long"]


def test_max_path_size_can_be_raised_and_lowered() -> None:
    low = Client(JWTMiddleware(Recorder(), JWT, routes=ROUTES, max_path_size=64))
    assert low.get("/feed").status_code == 200
    assert low.get("/" + "a" * 64).status_code == 414
    high = Client(JWTMiddleware(Recorder(), JWT, routes=ROUTES, max_path_size=64 * KIB))
    assert high.get("/api/" + "a" * 60 * KIB).status_code == 401
    assert high.get("/x" + "a" * 60 * KIB).status_code == 200


@pytest.mark.parametrize("value", [0, -1, True, "lots", 1.5, None, 2 * MIB])
def test_a_max_path_size_that_cannot_work_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="max_path_size"):
        JWTMiddleware(Recorder(), JWT, routes=ROUTES, max_path_size=value)


@pytest.mark.parametrize(("value", "works"), [
    ("4096", True), (4096, True), ("0", False), ("lots", False), ("", False)])
def test_max_path_size_from_a_configuration_file(value: Any, works: bool) -> None:
    def build() -> Any:
        return build_config({"secret_key": SECRET}, ROUTES, {"max_path_size": value})

    def paste() -> Any:
        return filter_factory({}, jwt_secret_key=SECRET, routes="/api/* = required",
                              max_path_size=str(value))(Recorder())

    for make in (build, paste):
        if works:
            made = make()
            middleware = made.wrap(Recorder()) if hasattr(made, "wrap") else made
            assert middleware.routes.max_path_size == 4096
        else:
            with pytest.raises(ConfigError, match="max_path_size"):
                make()


def test_forward_auth_refuses_a_long_original_uri_before_decoding_it() -> None:
    auth = ForwardAuth(JWT.__class__(secret_key=SECRET), {"/api/*": "required"})
    headers = {"X-Forwarded-Method": "GET"}
    client = Client(auth)
    base = {"REMOTE_ADDR": "127.0.0.1"}
    at_limit = client.get("/", headers={**headers, "X-Forwarded-Uri": "/api/" + "a" *
                                        (MAX_PATH_SIZE - 5)}, environ_base=base)
    assert at_limit.status_code == 401
    encoded = client.get("/", headers={**headers, "X-Forwarded-Uri": "/api/" + "%61" *
                                       (MAX_PATH_SIZE // 3)}, environ_base=base)
    assert encoded.status_code == 401  # 24 KiB of text, 8 KiB of path: read
    for uri in ("/api/" + "a" * MAX_PATH_SIZE, "/api/" + "%2e" * BIG):
        call = _forward(auth, uri)
        assert call() == "414 Request-URI Too Long"
        assert cpu_time(call) < BOUND


def _forward(auth: ForwardAuth, uri: str) -> Callable[[], str]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "",
               "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_METHOD": "GET",
               "HTTP_X_FORWARDED_URI": uri}

    def call() -> str:
        statuses: list[str] = []
        b"".join(auth(dict(environ), lambda status, headers, exc=None: statuses.append(status)))
        return statuses[0]

    return call


# -- the reverse proxy hides the token's names with one substitution ----------------------


def _old_without_parameter(query: str, names: frozenset[str]) -> str:
    """The loop over every pair the proxy ran before (110 ms for 256 KiB of encoded names)."""
    return "&".join(part for part in query.split("&")
                    if unquote_plus(part.partition("=")[0]) not in names)


def _old_without_cookies(header: str, names: frozenset[str]) -> str:
    return "; ".join(part.strip() for part in header.split(";")
                     if part.strip() and part.partition("=")[0].strip() not in names)


def test_the_proxy_hides_query_names_as_the_loop_did() -> None:
    names = frozenset({"jwt", "a b", "é"})
    pieces = ["jwt", "j", "%6a", "%6A", "w", "%77", "t", "%74", "&", "=", "a", "+", "b",
              "%20", " ", "x", "%", "%C3%A9", "%c3%a9", "\xc3\xa9", "é"]
    rng = random.Random(5)
    for _ in range(5000):
        query = "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        assert without_parameter(query, names) == _old_without_parameter(query, names), query


def test_the_proxy_hides_cookies_as_the_loop_did() -> None:
    names = frozenset({"c", "d.e"})
    pieces = ["c", "d.e", "dxe", ";", " ", "=", "\t", "x", "c=", "; c", "\n", "\x0b"]
    rng = random.Random(6)
    for _ in range(5000):
        header = "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        assert without_cookies(header, names) == _old_without_cookies(header, names), header


@pytest.mark.parametrize(("call", "text"), [
    pytest.param(without_parameter, "a=b&" * (BIG // 4), id="query-other-pairs"),
    pytest.param(without_parameter, "%41=b&" * (BIG // 6), id="query-encoded-names"),
    pytest.param(without_parameter, "jwt=b&" * (BIG // 6), id="query-token-names"),
    pytest.param(without_parameter, "&" + "%6a%77" * (BIG // 6), id="query-near-names"),
    pytest.param(without_cookies, "a=b; " * (BIG // 5), id="cookie-others"),
    pytest.param(without_cookies, "access_token_cookie=b; " * (BIG // 22),
                 id="cookie-token-names"),
    pytest.param(without_cookies, ";" + " " * BIG + "access_token_cookie",
                 id="cookie-blank-run"),
])
def test_the_proxy_hides_names_at_c_speed(call: Callable[[str, frozenset[str]], str],
                                          text: str) -> None:
    names = frozenset({"jwt", "access_token_cookie"})
    assert cpu_time(lambda: call(text, names)) < BOUND
