"""Settings: defaults, conversions from strings, refusals with helpful messages."""

from __future__ import annotations

import dataclasses
import datetime
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, SecurityWarning, Settings
from jwt_wsgi import settings as settings_module
from jwt_wsgi.cli import main as cli_main
from jwt_wsgi.config import load_config
from jwt_wsgi.durations import duration_problem
from jwt_wsgi.paste import filter_factory
from jwt_wsgi.settings import KEYS, SPECS, reference_rows
from tests.harness import SECRET, Recorder, bearer


def test_defaults_follow_flask_jwt_extended() -> None:
    s = Settings.build(secret_key=SECRET)
    assert s.algorithm == "HS256"
    assert s.allowed_algorithms == ("HS256",)
    assert s.access_token_expires == datetime.timedelta(minutes=15)
    assert s.refresh_token_expires == datetime.timedelta(days=30)
    assert s.token_location == ("headers",)
    assert (s.header_name, s.header_type) == ("Authorization", "Bearer")
    assert (s.access_cookie_name, s.access_csrf_header_name) == ("access_token_cookie", "X-CSRF-TOKEN")
    assert s.csrf_methods == ("POST", "PUT", "PATCH", "DELETE")
    assert s.max_token_size == 8192 and s.max_body_size == 1024 * 1024


@pytest.mark.parametrize(
    ("key", "raw", "name", "expected"),
    [
        pytest.param("JWT_ACCESS_TOKEN_EXPIRES", "900", "access_token_expires",
                     datetime.timedelta(seconds=900), id="seconds-string"),
        pytest.param("JWT_ACCESS_TOKEN_EXPIRES", "15m", "access_token_expires",
                     datetime.timedelta(minutes=15), id="minutes-suffix"),
        pytest.param("JWT_REFRESH_TOKEN_EXPIRES", "false", "refresh_token_expires", None,
                     id="false-means-never"),
        pytest.param("JWT_ACCESS_TOKEN_EXPIRES", "never", "access_token_expires", None,
                     id="access-never"),
        pytest.param("JWT_REFRESH_TOKEN_EXPIRES", " Never ", "refresh_token_expires", None,
                     id="refresh-never"),
        pytest.param("JWT_COOKIE_SECURE", "yes", "cookie_secure", True, id="bool-yes"),
        pytest.param("JWT_COOKIE_CSRF_PROTECT", "off", "cookie_csrf_protect", False, id="bool-off"),
        pytest.param("JWT_TOKEN_LOCATION", "headers, cookies", "token_location",
                     ("headers", "cookies"), id="list-string"),
        pytest.param("JWT_DECODE_LEEWAY", "10", "leeway", 10.0, id="flask-alias-leeway"),
        pytest.param("JWT_DECODE_AUDIENCE", "api", "audience", ("api",), id="flask-alias-audience"),
        pytest.param("JWT_MAX_TOKEN_SIZE", "4096", "max_token_size", 4096, id="int-string"),
        pytest.param("JWT_CSRF_METHODS", "post delete", "csrf_methods", ("POST", "DELETE"),
                     id="methods-upper"),
        pytest.param("JWT_COOKIE_SAMESITE", "strict", "cookie_samesite", "Strict", id="samesite"),
    ],
)
def test_from_mapping_converts_strings(key: str, raw: str, name: str, expected: object) -> None:
    s = Settings.from_mapping({"JWT_SECRET_KEY": SECRET, key: raw})
    assert getattr(s, name) == expected


def test_from_mapping_accepts_a_flask_config_as_is() -> None:
    flask = pytest.importorskip("flask", reason="flask is a test dependency")
    import flask_jwt_extended

    app = flask.Flask(__name__)
    app.config["JWT_SECRET_KEY"] = SECRET
    app.config["SECRET_KEY"] = "unrelated"
    flask_jwt_extended.JWTManager(app)  # fills in every JWT_ default
    jwt = JWTManager.from_mapping(app.config)
    assert jwt.settings.access_token_expires == datetime.timedelta(minutes=15)
    assert jwt.settings.token_location == ("headers",)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"JWT_SECRET": "x"}, "did you mean 'JWT_SECRET_KEY'", id="unknown-key-hint"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_COOKIE_SECURE": "maybe"}, "true or false",
                     id="bad-bool"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_LOCATION": "headers,body"},
                     "token location", id="bad-location"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_ACCESS_TOKEN_EXPIRES": "0"},
                     "from 1 second to 100 years", id="zero-expiry"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_ACCESS_TOKEN_EXPIRES": "0.5"},
                     "from 1 second to 100 years", id="half-second-expiry"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_REFRESH_TOKEN_EXPIRES": "99999999999d"},
                     "from 1 second to 100 years", id="expiry-past-year-9999"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_DECODE_AUDIENCE": ","}, "names nothing",
                     id="audience-that-splits-to-nothing"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_DECODE_AUDIENCE": "[]"}, "names nothing",
                     id="audience-empty-json-list"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_LOCATION": " , "}, "names nothing",
                     id="locations-that-split-to-nothing"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_JWKS_TIMEOUT": "10000000000"}, "at most",
                     id="jwks-timeout-beyond-any-lock"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_JWKS_CACHE_SECONDS": "999999999999"}, "at most",
                     id="jwks-cache-beyond-a-day"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_DECODE_LEEWAY": "-5"}, "from 0 seconds",
                     id="negative-leeway"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_COOKIE_SAMESITE": "None"}, "cookie_secure",
                     id="samesite-none-insecure"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_HEADER_NAME": "Bad Header"}, "header name",
                     id="bad-header-name"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_DECODE_AUDIENCE": "a",
                      "JWT_AUDIENCE": "b"}, "disagrees", id="conflicting-aliases"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_CSRF_METHODS": "POST,FETCH"}, "FETCH",
                     id="unknown-method"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_MAX_BODY_SIZE": "0"}, "positive",
                     id="zero-body-size"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_LOCATION": "cookies",
                      "JWT_ACCESS_CSRF_COOKIE_NAME": "access_token_cookie"},
                     "four different names", id="csrf-cookie-named-like-the-jwt-cookie"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_LOCATION": "headers,cookies",
                      "JWT_REFRESH_COOKIE_NAME": "access_token_cookie"},
                     "four different names", id="refresh-cookie-named-like-access"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_QUERY_STRING_NAME": "a&b"},
                     "can never be matched", id="query-name-with-ampersand"),
        pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_QUERY_STRING_NAME": "jwt="},
                     "can never be matched", id="query-name-with-equals"),
    ],
)
def test_from_mapping_refuses_with_a_clear_message(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JWTManager.from_mapping(mapping)


def test_from_mapping_ignores_foreign_keys_and_none() -> None:
    s = Settings.from_mapping({"SECRET_KEY": "x", "DEBUG": True, "JWT_SECRET_KEY": SECRET,
                               "JWT_PUBLIC_KEY": None, 42: "odd"})
    assert s.public_key is None


def test_unknown_keyword_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean 'secret_key'"):
        JWTManager(secret_kye=SECRET)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "needs secret_key", id="hmac-without-secret"),
        pytest.param({"secret_key": ""}, "empty", id="empty-secret"),
        pytest.param({"secret_key": "   "}, "empty", id="blank-secret"),
        pytest.param({"secret_key": SECRET, "algorithm": "none"}, "never allowed", id="alg-none"),
        pytest.param({"secret_key": SECRET, "algorithm": "NoNe"}, "never allowed", id="alg-NoNe"),
        pytest.param({"secret_key": SECRET, "decode_algorithms": ["HS256", "none"]},
                     "never allowed", id="decode-none"),
        pytest.param({"secret_key": SECRET, "decode_algorithms": ["HS256", "RS256"]},
                     "cannot be accepted together", id="mixed-families"),
        pytest.param({"secret_key": SECRET, "algorithm": "HS999"}, "unsupported", id="unknown-alg"),
        pytest.param({"algorithm": "RS256"}, "needs a key", id="rs256-without-key"),
        pytest.param({"algorithm": "RS256", "public_key": "not a pem"}, "not a PEM",
                     id="rs256-garbage-key"),
    ],
)
def test_impossible_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JWTManager(**options)


def test_short_secret_warns() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JWTManager(secret_key="short-but-not-empty")
    assert any(issubclass(w.category, SecurityWarning) for w in caught)


def test_public_key_as_hmac_secret_is_refused(rsa_public_pem: bytes) -> None:
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        JWTManager(secret_key=rsa_public_pem)


def test_public_key_with_hmac_algorithm_is_refused(rsa_public_pem: bytes) -> None:
    with pytest.raises(ConfigError, match="need an RS"):
        JWTManager(secret_key=SECRET, public_key=rsa_public_pem)


def test_ec_key_for_rsa_algorithm_is_refused(ec_private_pem: bytes) -> None:
    with pytest.raises(ConfigError, match="needs an RSA key"):
        JWTManager(algorithm="RS256", private_key=ec_private_pem)


def test_ec_curve_must_fit(ec_private_pem: bytes) -> None:
    with pytest.raises(ConfigError, match="curve"):
        JWTManager(algorithm="ES384", private_key=ec_private_pem)


@pytest.mark.parametrize("key", ["JWT_CSRF_METHODS", "JWT_DECODE_ISSUER", "JWT_DECODE_AUDIENCE",
                                 "JWT_TOKEN_LOCATION", "JWT_ALGORITHM"])
def test_blank_mapping_values_are_refused_not_read_as_off(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} is blank"):
        Settings.from_mapping({"JWT_SECRET_KEY": "k" * 40, key: "  "})


def test_blank_header_type_still_means_no_scheme() -> None:
    assert Settings.from_mapping({"JWT_SECRET_KEY": "k" * 40, "JWT_HEADER_TYPE": ""}).header_type == ""


def test_cookie_tokens_without_csrf_methods_are_refused() -> None:
    with pytest.raises(ConfigError, match="cookie_csrf_protect=False"):
        Settings.build(secret_key="k" * 40, token_location=["cookies"], csrf_methods=[])
    assert Settings.build(secret_key="k" * 40, token_location=["cookies"], csrf_methods=[],
                          cookie_csrf_protect=False).csrf_methods == ()


def test_repr_never_shows_key_material() -> None:
    settings = Settings.build(secret_key="s3cr3t-" + "k" * 40,
                              issuers={"https://idp": {"secret_key": "other-" + "z" * 40}})
    assert "s3cr3t" not in repr(settings) and "other-" not in repr(settings)


def test_plain_http_jwks_url_warns_unless_loopback() -> None:
    with pytest.warns(SecurityWarning, match="https"):
        Settings.build(algorithm="RS256", jwks_url="http://idp.example/jwks.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings.build(algorithm="RS256", jwks_url="http://127.0.0.1:8080/jwks.json")
        Settings.build(algorithm="RS256", jwks_url="https://idp.example/jwks.json")


@pytest.mark.parametrize("name", ["audience", "encode_audience"])
@pytest.mark.parametrize("value", ["urn:example:api,v2", "my api", "https://api.example/x, y"])
def test_a_string_audience_keyword_is_one_audience(name: str, value: str) -> None:
    assert getattr(Settings.build(secret_key=SECRET, **{name: value}), name) == (value,)


def test_audience_keyword_lists_are_taken_as_given() -> None:
    assert Settings.build(secret_key=SECRET, audience=["a,b", "c d"]).audience == ("a,b", "c d")
    assert Settings.build(secret_key=SECRET, audience=("x",)).audience == ("x",)


def test_a_comma_in_the_audience_keyword_does_not_admit_its_parts(recorder: Recorder) -> None:
    jwt = JWTManager(secret_key=SECRET, audience="urn:example:api,v2")
    minted_for_v2 = JWTManager(secret_key=SECRET, encode_audience="v2").create_access_token("a")
    minted_for_us = JWTManager(secret_key=SECRET, encode_audience="urn:example:api,v2")
    client = Client(JWTMiddleware(recorder, jwt, default="required"))
    assert client.get("/", headers=bearer(minted_for_v2)).status_code == 401
    token = minted_for_us.create_access_token("a")
    assert jwt.decode_token(token)["aud"] == "urn:example:api,v2"
    assert client.get("/", headers=bearer(token)).status_code == 200


def test_an_issuer_entry_audience_string_is_one_audience() -> None:
    jwt = JWTManager(issuers={"https://idp": {"secret_key": SECRET, "audience": "api,v2"}})
    assert jwt.issuers["https://idp"].settings.audience == ("api,v2",)


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param('["a", "b"]', ("a", "b"), id="json-list"),
    pytest.param(' ["urn:x,y"] ', ("urn:x,y",), id="json-list-keeps-commas"),
    pytest.param("a,b", ("a", "b"), id="commas"),
    pytest.param(" a , b ", ("a", "b"), id="commas-with-spaces"),
    pytest.param("my api", ("my api",), id="space-is-not-a-separator"),
    pytest.param("https://api.example.com", ("https://api.example.com",), id="one"),
])
@pytest.mark.parametrize("key", ["JWT_DECODE_AUDIENCE", "JWT_ENCODE_AUDIENCE"])
def test_from_mapping_audience_strings(key: str, raw: str, expected: tuple[str, ...]) -> None:
    settings = Settings.from_mapping({"JWT_SECRET_KEY": SECRET, key: raw})
    assert getattr(settings, "audience" if key == "JWT_DECODE_AUDIENCE" else "encode_audience") \
        == expected


@pytest.mark.parametrize(("key", "raw", "name", "expected"), [
    pytest.param("JWT_TOKEN_LOCATION", '["headers", "cookies"]', "token_location",
                 ("headers", "cookies"), id="token-location-json"),
    pytest.param("JWT_TOKEN_LOCATION", "headers cookies", "token_location",
                 ("headers", "cookies"), id="token-location-spaces"),
    pytest.param("JWT_DECODE_ALGORITHMS", '["HS256","HS512"]', "decode_algorithms",
                 ("HS256", "HS512"), id="decode-algorithms-json"),
    pytest.param("JWT_DECODE_ALGORITHMS", "HS256, HS512", "decode_algorithms",
                 ("HS256", "HS512"), id="decode-algorithms-commas"),
    pytest.param("JWT_CSRF_METHODS", '["post", "DELETE"]', "csrf_methods", ("POST", "DELETE"),
                 id="csrf-methods-json"),
])
def test_from_mapping_accepts_json_list_text(key: str, raw: str, name: str,
                                            expected: tuple[str, ...]) -> None:
    assert getattr(Settings.from_mapping({"JWT_SECRET_KEY": SECRET, key: raw}), name) == expected


@pytest.mark.parametrize(("raw", "message"), [
    pytest.param('["headers", "cookies"', "JSON list", id="unclosed"),
    pytest.param("[headers]", "JSON list", id="not-json"),
    pytest.param('["headers", 1]', "list of non-empty strings", id="number-item"),
    pytest.param('["headers", "headers"]', "twice", id="repeated"),
])
def test_from_mapping_refuses_bad_json_list_text(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_mapping({"JWT_SECRET_KEY": SECRET, "JWT_TOKEN_LOCATION": raw})


def test_expires_never_mints_tokens_without_exp() -> None:
    # The same word as the command line's ``jwt-wsgi token --expires never``.
    jwt = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET, "JWT_ACCESS_TOKEN_EXPIRES": "never"})
    assert "exp" not in jwt.decode_token(jwt.create_access_token("alice"))
    with pytest.raises(ConfigError, match="number"):
        Settings.from_mapping({"JWT_SECRET_KEY": SECRET, "JWT_ACCESS_TOKEN_EXPIRES": "forever"})


def _security_warnings(build: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build()
    return [w for w in caught if issubclass(w.category, SecurityWarning)]


@pytest.mark.parametrize("build", [
    pytest.param(lambda: JWTManager(secret_key="change-me"), id="keyword"),
    pytest.param(lambda: JWTManager.from_mapping({"JWT_SECRET_KEY": "change-me"}),
                 id="from-mapping"),
    pytest.param(lambda: JWTManager(issuers={"https://idp": {"secret_key": "change-me"}}),
                 id="issuer-entry"),
    pytest.param(lambda: JWTManager(algorithm="RS256",
                                    jwks_url="http://idp.example/jwks.json"),
                 id="plain-http-jwks-url"),
    pytest.param(lambda: JWTManager.from_mapping({"JWT_ALGORITHM": "RS256",
                                                  "JWT_JWKS_URL": "http://idp.example/jwks"}),
                 id="plain-http-jwks-url-from-mapping"),
])
def test_security_warnings_point_at_the_callers_line(build: Callable[[], object]) -> None:
    # Not at jwt_wsgi/keys.py or settings.py: the user must see which of their lines chose
    # the weak setting, and a warnings filter for their module must apply.
    found = _security_warnings(build)
    assert found, "no SecurityWarning"
    assert [w.filename for w in found] == [__file__] * len(found)


def test_short_rsa_key_warning_points_at_the_callers_line() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    for build in (lambda: JWTManager(algorithm="RS256", private_key=pem),
                  lambda: JWTManager.from_mapping({"JWT_ALGORITHM": "RS256",
                                                   "JWT_PRIVATE_KEY": pem})):
        found = _security_warnings(build)
        assert found and {w.filename for w in found} == {__file__}


@pytest.mark.parametrize(("mapping", "extra"), [
    pytest.param({}, None, id="nothing"),
    pytest.param({"SECRET_KEY": None, "JWT_ALGORITHM": "HS256"}, None, id="flask-default-none"),
    pytest.param({"SECRET_KEY": "flask-session-secret-" + "x" * 20}, "does not read SECRET_KEY",
                 id="flask-secret-key"),
])
def test_missing_jwt_secret_key_names_the_mapping_key(mapping: dict[str, object],
                                                      extra: str | None) -> None:
    # flask-jwt-extended falls back to SECRET_KEY; jwt_wsgi refuses (one secret, one job),
    # but says which key it wants.
    with pytest.raises(ConfigError, match="needs JWT_SECRET_KEY") as raised:
        JWTManager.from_mapping(mapping)
    assert (extra is not None) == ("does not read SECRET_KEY" in str(raised.value))


def test_a_flask_config_with_only_secret_key_is_refused_naming_jwt_secret_key() -> None:
    flask = pytest.importorskip("flask", reason="flask is a test dependency")
    import flask_jwt_extended

    app = flask.Flask(__name__)
    app.config["SECRET_KEY"] = "flask-session-secret-" + "x" * 20
    flask_jwt_extended.JWTManager(app)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        JWTManager.from_mapping(app.config)


@pytest.mark.parametrize(("expires", "ok"), [
    (datetime.timedelta(seconds=0.5), False), (datetime.timedelta(days=36600 * 2), False),
    (1e300, False), (1, True), (datetime.timedelta(days=3650), True), (False, True)])
def test_keyword_lifetimes_are_checked_like_mapped_ones(expires: Any, ok: bool) -> None:
    if ok:
        jwt = JWTManager(secret_key=SECRET, access_token_expires=expires)
        assert jwt.decode_token(jwt.create_access_token("a"))["sub"] == "a"
    else:
        with pytest.raises(ConfigError, match="from 1 second to 100 years"):
            JWTManager(secret_key=SECRET, access_token_expires=expires)


@pytest.mark.parametrize(("url", "warns"), [
    ("http://127.0.0.1:8080/jwks", False), ("http://localhost/jwks", False),
    ("http://[::1]/jwks", False), ("http://127.evil.example/jwks", True),
    ("http://idp.example/jwks", True)])
def test_plain_http_jwks_warns_unless_the_host_is_a_loopback_address(url: str,
                                                                      warns: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JWTManager(algorithm="RS256", jwks_url=url)
    assert any(issubclass(w.category, SecurityWarning) for w in caught) is warns


def test_cookie_names_may_repeat_when_cookies_are_not_used() -> None:
    """A Flask config flask-jwt-extended accepts (cookies unused) moves over as is."""
    jwt = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET,
                                   "JWT_REFRESH_COOKIE_NAME": "access_token_cookie"})
    assert jwt.decode_token(jwt.create_access_token("a"))["sub"] == "a"


# -- one list of fields ---------------------------------------------------------------

def test_every_setting_has_one_reference_row() -> None:
    rows = reference_rows()
    assert [row.keyword for row in rows] == [f.name for f in dataclasses.fields(Settings)]
    assert len({row.key for row in rows}) == len(rows)
    for row in rows:
        assert row.key.startswith("JWT_") and row.default
        assert row.doc and "\n" not in row.doc and len(row.doc) <= 90, row


def test_the_reference_names_the_flask_jwt_extended_keys_it_defines() -> None:
    flask = pytest.importorskip("flask", reason="flask is a test dependency")
    import flask_jwt_extended

    app = flask.Flask(__name__)
    flask_jwt_extended.JWTManager(app)
    theirs = {key for key in app.config if key.startswith("JWT_")}
    ours = {SPECS[row.keyword].key(row.keyword) for row in reference_rows()
            if SPECS[row.keyword].flask}
    assert ours == theirs
    assert all(key in KEYS for key in theirs)  # and from_mapping reads each of them


@pytest.mark.parametrize(("name", "shown"), [
    ("access_token_expires", "15m"), ("refresh_token_expires", "30d"),
    ("token_location", "headers"), ("decode_algorithms", "[algorithm]"),
    ("cookie_csrf_protect", "true"), ("issuer", "unset"), ("query_string_value_prefix", '""'),
])
def test_reference_defaults_read_as_they_are_written(name: str, shown: str) -> None:
    assert {row.keyword: row.default for row in reference_rows()}[name] == shown


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = settings_module.check_together

    def counting(settings: Settings) -> None:
        calls.append(settings)
        real(settings)

    monkeypatch.setattr(settings_module, "check_together", counting)
    return calls


@pytest.mark.parametrize("build", [
    pytest.param(lambda tmp: JWTManager(secret_key=SECRET, leeway="5s"), id="keyword"),
    pytest.param(lambda tmp: JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET,
                                                      "JWT_DECODE_LEEWAY": "5"}),
                 id="from-mapping"),
    pytest.param(lambda tmp: JWTManager(Settings(secret_key=SECRET)), id="prebuilt"),
    pytest.param(lambda tmp: load_config(_write(tmp, f'[jwt]\nsecret_key = "{SECRET}"\n'
                                                     'leeway = 5\ntoken_location = '
                                                     '["headers"]\n')), id="toml"),
    pytest.param(lambda tmp: filter_factory({}, jwt_secret_key=SECRET, jwt_leeway="5",
                                            jwt_token_location="headers",
                                            routes="/api/* = required"), id="ini"),
])
def test_settings_are_validated_once_per_construction(
        build: Callable[[Path], object], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    calls = _counting_checks(monkeypatch)
    build(tmp_path)
    assert len(calls) == 1


def _write(folder: Path, text: str) -> Path:
    path = folder / "jwt.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("options", "expected"), [
    pytest.param({"csrf_methods": "post"}, {"csrf_methods": ("POST",)}, id="methods-string"),
    pytest.param({"token_location": "headers cookies"},
                 {"token_location": ("headers", "cookies")}, id="locations-string"),
    pytest.param({"access_token_expires": "2h"},
                 {"access_token_expires": datetime.timedelta(hours=2)}, id="lifetime-text"),
    pytest.param({"max_token_size": " 4096 "}, {"max_token_size": 4096}, id="size-text"),
    pytest.param({"audience": "api"}, {"audience": ("api",)}, id="one-audience"),
    pytest.param({"leeway": datetime.timedelta(seconds=3)}, {"leeway": 3.0},
                 id="leeway-timedelta"),
    pytest.param({"cookie_samesite": "strict"}, {"cookie_samesite": "Strict"}, id="samesite"),
])
def test_settings_built_directly_are_converted_as_keywords_are(
        options: dict[str, Any], expected: dict[str, Any]) -> None:
    built = Settings(secret_key=SECRET, **options)
    assert {name: getattr(built, name) for name in expected} == expected
    assert Settings.build(secret_key=SECRET, **options) == built


@pytest.mark.parametrize(("raw", "seconds"), [
    ("900", 900), (" 15m ", 900), ("2H", 7200), ("1.5h", 5400), ("30d", 30 * 86400),
    ("90s", 90),
])
def test_duration_forms(raw: str, seconds: int) -> None:
    settings = Settings.from_mapping({"JWT_SECRET_KEY": SECRET, "JWT_ACCESS_TOKEN_EXPIRES": raw})
    assert settings.access_token_expires == datetime.timedelta(seconds=seconds)


def test_the_cli_and_the_settings_list_the_same_duration_forms(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SETTINGS_SECRET", SECRET)
    assert cli_main(["token", "a", "--key-env", "TEST_SETTINGS_SECRET", "--expires",
                     "soon"]) == 2
    from_cli = capsys.readouterr().err
    with pytest.raises(ConfigError) as raised:
        JWTManager(secret_key=SECRET, access_token_expires="soon")
    forms = duration_problem(never=True)
    assert "900, 90s, 15m, 2h, 30d, or never" in forms
    assert f"--expires {forms}" in from_cli
    assert str(raised.value).startswith(f"access_token_expires {forms}")
