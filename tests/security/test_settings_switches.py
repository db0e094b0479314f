"""Settings that would switch a check off, or could never work: refused on every path.

Every path into the settings is tried: keywords, a prebuilt ``Settings``,
``from_mapping``, a TOML file and a PasteDeploy INI section. Each case is named after the
mistake: what a template left blank, what ``os.environ.get(..., "")`` gives, a list that
split to nothing, a number written in a way Python reads but a person would not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, SecurityWarning, Settings
from jwt_wsgi.config import load_config
from jwt_wsgi.paste import filter_factory
from jwt_wsgi.settings import reference_rows
from tests.harness import SECRET, Recorder

OTHER_SECRET = "other-secret-" + "o" * 40
JWT_KEY = {row.keyword: row.key for row in reference_rows()}  # flask-jwt-extended's names


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "nan" if isinstance(value, float) and math.isnan(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"


def _ini(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def keyword(options: dict[str, Any], tmp_path: Path) -> object:
    return JWTManager(secret_key=SECRET, **options)


def prebuilt(options: dict[str, Any], tmp_path: Path) -> object:
    return JWTManager(Settings(secret_key=SECRET, **options))


def mapping(options: dict[str, Any], tmp_path: Path) -> object:
    return JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET,
                                    **{JWT_KEY[k]: v for k, v in options.items()}})


def toml_file(options: dict[str, Any], tmp_path: Path) -> object:
    lines = ["[jwt]", f"secret_key = {_toml(SECRET)}"]
    lines += [f"{name} = {_toml(value)}" for name, value in options.items()]
    path = tmp_path / "jwt.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


def ini_section(options: dict[str, Any], tmp_path: Path) -> object:
    return filter_factory({"__file__": str(tmp_path / "app.ini")}, jwt_secret_key=SECRET,
                          **{"jwt_" + name: _ini(value) for name, value in options.items()})


PATHS = [pytest.param(build, id=build.__name__)
         for build in (keyword, prebuilt, mapping, toml_file, ini_section)]

BLANK = "is blank"
EMPTY = "is empty|names nothing"

MISTAKES = [
    # -- a blank string is never "off" ---------------------------------------------------
    pytest.param({"issuer": ""}, BLANK, id="issuer-from-environ-get-default"),
    pytest.param({"issuer": "  "}, BLANK, id="issuer-blank"),
    pytest.param({"audience": ""}, BLANK, id="audience-empty-string"),
    pytest.param({"encode_issuer": ""}, BLANK, id="encode-issuer-empty-string"),
    pytest.param({"identity_claim": " "}, BLANK, id="identity-claim-blank"),
    pytest.param({"header_name": ""}, BLANK, id="header-name-empty"),
    pytest.param({"algorithm": " "}, BLANK, id="algorithm-blank"),
    pytest.param({"cookie_domain": ""}, BLANK, id="cookie-domain-empty"),
    pytest.param({"cookie_samesite": ""}, BLANK, id="cookie-samesite-empty"),
    pytest.param({"realm": ""}, BLANK, id="realm-empty"),
    pytest.param({"csrf_methods": " "}, BLANK, id="csrf-methods-blank"),
    # -- an empty list never drops a requirement -----------------------------------------
    pytest.param({"audience": []}, EMPTY, id="audience-empty-list"),
    pytest.param({"encode_audience": []}, EMPTY, id="encode-audience-empty-list"),
    pytest.param({"decode_algorithms": []}, EMPTY, id="decode-algorithms-empty-list"),
    pytest.param({"token_location": []}, "at least one|names nothing",
                 id="token-location-empty-list"),
    pytest.param({"token_location": ["cookies"], "csrf_methods": []},
                 "no CSRF check|names nothing", id="csrf-methods-empty-with-cookie-tokens"),
    pytest.param({"issuers": {"https://idp.example": {"secret_key": OTHER_SECRET,
                                                      "audience": []}}},
                 EMPTY, id="issuer-entry-audience-empty-list"),
    pytest.param({"issuers": {"https://idp.example": {"secret_key": OTHER_SECRET,
                                                      "audience": ""}}},
                 BLANK, id="issuer-entry-audience-empty-string"),
    # -- absurd numbers ------------------------------------------------------------------
    pytest.param({"leeway": 1e12}, "from 0 seconds to 1 hour", id="leeway-1e12"),
    pytest.param({"leeway": "36500d"}, "from 0 seconds to 1 hour", id="leeway-a-century"),
    pytest.param({"leeway": math.nan}, "(?i)leeway must be a (duration|number)", id="leeway-nan"),
    pytest.param({"leeway": math.inf}, "(?i)leeway must be a (duration|number)", id="leeway-inf"),
    pytest.param({"max_token_size": 0}, "positive whole number", id="max-token-size-zero"),
    pytest.param({"max_token_size": 10**12}, "at most", id="max-token-size-a-terabyte"),
    pytest.param({"max_body_size": -1}, "positive whole number", id="max-body-size-negative"),
    pytest.param({"token_cache_size": -1}, "from 0", id="token-cache-size-negative"),
    pytest.param({"jwks_cache_seconds": 0}, "above 0 seconds", id="jwks-cache-seconds-zero"),
    pytest.param({"max_token_size": True}, "whole number", id="max-token-size-a-bool"),
    pytest.param({"leeway": True}, "(?i)leeway must be a number", id="leeway-a-bool"),
    # -- values that could never work ----------------------------------------------------
    pytest.param({"algorithm": "RS256", "jwks_url": "https://user:pw@idp.example/jwks"},
                 "user name or password", id="jwks-url-with-credentials"),
    pytest.param({"issuers": {"https://idp.example": {
        "jwks_url": "https://user:pw@idp.example/jwks"}}},
        "user name or password", id="issuer-entry-jwks-url-with-credentials"),
    pytest.param({"cookie_domain": "example.com; Secure"}, "host name",
                 id="cookie-domain-with-semicolon"),
    pytest.param({"cookie_domain": "example.com\r\nSet-Cookie: a=b"}, "host name",
                 id="cookie-domain-with-crlf"),
    pytest.param({"access_cookie_path": "/\r\nX-Evil: 1"}, "must start with '/'",
                 id="cookie-path-with-crlf"),
    pytest.param({"refresh_csrf_cookie_name": "csrf;Domain=evil"}, "cookie name",
                 id="cookie-name-with-semicolon"),
    pytest.param({"cookie_samesite": "Lax; Domain=evil"}, "Lax, Strict, None",
                 id="samesite-with-semicolon"),
]


@pytest.mark.parametrize(("options", "message"), MISTAKES)
@pytest.mark.parametrize("build", PATHS)
def test_a_setting_that_would_switch_a_check_off_is_refused_on_every_path(
        build: Callable[[dict[str, Any], Path], object], options: dict[str, Any], message: str,
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        build(options, tmp_path)


ODD_NUMBERS = [
    pytest.param("²", id="superscript-two"),
    pytest.param("\u0665", id="arabic-indic-five"),
    pytest.param("\uff15", id="fullwidth-five"),
    pytest.param("1_000", id="underscore-grouping"),
    pytest.param("+5", id="plus-sign"),
    pytest.param("1e3", id="exponent"),
    pytest.param("nan", id="nan"),
    pytest.param("inf", id="inf"),
    pytest.param("0x10", id="hex"),
    pytest.param("5.0", id="decimal-for-a-count"),
]


@pytest.mark.parametrize("text", ODD_NUMBERS)
@pytest.mark.parametrize("key", ["JWT_MAX_TOKEN_SIZE", "JWT_MAX_BODY_SIZE",
                                 "JWT_TOKEN_CACHE_SIZE"])
def test_a_count_written_oddly_is_a_config_error(key: str, text: str) -> None:
    # A plain ValueError from int() would escape the CLI's and the loaders' handling.
    with pytest.raises(ConfigError, match=f"{key} must be a whole number written with the "
                                          "digits 0-9"):
        Settings.from_mapping({"JWT_SECRET_KEY": SECRET, key: text})


@pytest.mark.parametrize("text", [p for p in ODD_NUMBERS if p.id != "decimal-for-a-count"]
                         + [pytest.param("5\u017f", id="long-s-unit"),
                            pytest.param("5\u212a", id="kelvin-sign-unit")])
@pytest.mark.parametrize("key", ["JWT_DECODE_LEEWAY", "JWT_ACCESS_TOKEN_EXPIRES",
                                 "JWT_JWKS_TIMEOUT"])
def test_a_duration_written_oddly_is_a_config_error(key: str, text: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} must be a number of seconds or a duration"):
        Settings.from_mapping({"JWT_SECRET_KEY": SECRET, key: text})


def test_a_lifetime_of_none_is_not_never() -> None:
    # JWTManager(access_token_expires=os.environ.get("TTL")) with TTL unset.
    with pytest.raises(ConfigError, match="not None"):
        JWTManager(secret_key=SECRET, access_token_expires=None)


@pytest.mark.parametrize("build", [
    pytest.param(lambda: JWTManager(secret_key=SECRET, leeway=600), id="keyword"),
    pytest.param(lambda: JWTManager(Settings(secret_key=SECRET, leeway="10m")), id="prebuilt"),
    pytest.param(lambda: JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET,
                                                  "JWT_DECODE_LEEWAY": "1h"}), id="mapping"),
])
def test_a_leeway_of_minutes_warns(build: Callable[[], object]) -> None:
    with pytest.warns(SecurityWarning, match="expired"):
        build()


@pytest.mark.parametrize("methods", [
    pytest.param("POST", id="one-method-as-a-string"),
    pytest.param("POST, DELETE", id="methods-as-text"),
])
def test_csrf_methods_as_a_string_in_prebuilt_settings_still_check_csrf(
        methods: str, recorder: Recorder) -> None:
    # frozenset("POST") is {"P", "O", "S", "T"}: no method would ever match.
    settings = Settings(secret_key=SECRET, token_location=("cookies",), csrf_methods=methods)
    jwt = JWTManager(settings)
    client = Client(JWTMiddleware(recorder, jwt, default="required"), use_cookies=False)
    token = jwt.create_access_token("alice")
    answer = client.post("/", headers={"Cookie": f"access_token_cookie={token}"})
    assert answer.status_code == 401 and recorder.calls == 0


def test_only_a_settings_object_is_taken_as_prebuilt_settings() -> None:
    with pytest.raises(TypeError, match=r"JWTManager\.from_mapping"):
        JWTManager({"secret_key": SECRET, "issuer": ""})  # type: ignore[arg-type]
