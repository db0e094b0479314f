"""Tables that would protect nothing, or not what they say, are refused when built.

Route syntax from other frameworks used to be read as literal text: ``"/users/{id}"`` was
a rule for the path ``/users/{id}``, which no client sends, and ``/users/5`` went through
without a token. Each case is named after the mistake; the message shows the werkzeug
spelling. Then the tables that protect nothing at all, however they are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.config import build_config, load_config
from jwt_wsgi.paste import filter_factory
from jwt_wsgi.routes import RouteTable
from tests.harness import SECRET, Recorder, call


@pytest.mark.parametrize(("pattern", "says"), [
    pytest.param("/users/{id}", "'/users/<id>'", id="fastapi-braces"),
    pytest.param("/users/{id:int}", "'/users/<int:id>'", id="falcon-typed-braces"),
    pytest.param("/files/{file_path:path}", "'/files/<path:file_path>'", id="starlette-path"),
    pytest.param("/users/{user_id}/posts/{post_id}", "'/users/<user_id>/posts/<post_id>'",
                 id="openapi-two-parameters"),
    pytest.param("/users/:id", "'/users/<id>'", id="express-colon"),
    pytest.param("/users/:id?", "'/users/<id>'", id="express-optional"),
    pytest.param("/users/:id(\\d+)", "'/users/<int:id>'", id="express-regex-parameter"),
    pytest.param("^users/$", "'/users/'", id="django-re-path"),
    pytest.param("^users/(?P<pk>[0-9]+)/$", "'/users/<int:pk>/'", id="django-named-group"),
    pytest.param("users/<int:id>/", "'/users/<int:id>/'", id="django-path-without-slash"),
    pytest.param("/users/(\\d+)", "'/users/<int:id>'", id="regex-digits-group"),
    pytest.param("/users/[0-9]+", "'/users/<int:id>'", id="regex-character-class"),
    pytest.param("/items/(.*)", "'/items/*'", id="regex-anything"),
    pytest.param("/a/(x|y)", "regular expression", id="regex-alternation"),
    pytest.param("/users/<.*>", "'/users/*'", id="oathkeeper-regex"),
    pytest.param("/x/<**>", "'/x/*'", id="oathkeeper-glob"),
    pytest.param("/api/**", "'/api/*'", id="glob-double-star"),
    pytest.param("/api*", "'/api/*'", id="glob-star-inside-a-segment"),
    pytest.param("/api/*/x", "trailing '/*'", id="glob-star-in-the-middle"),
    pytest.param("/files/*.json", "<name>.json", id="glob-extension"),
    pytest.param("/files/[abc]", "'/files/<name>'", id="glob-character-class"),
    pytest.param("/users/<str:name>", "<name> or <string:name>", id="django-str-converter"),
    pytest.param("/posts/<slug:s>", "slug", id="django-slug-converter"),
])
def test_foreign_route_syntax_is_refused_with_the_werkzeug_spelling(pattern: str,
                                                                     says: str) -> None:
    with pytest.raises(ConfigError) as info:
        RouteTable({pattern: "required"})
    assert says in str(info.value)
    assert repr(pattern) in str(info.value)  # the message names the route


def test_a_foreign_pattern_would_have_let_the_path_through() -> None:
    """What the refusal prevents: read literally, "/users/{id}" protects nothing real."""
    app = Recorder()
    literal = JWTMiddleware(app, JWTManager(secret_key=SECRET),
                            routes={"/users/<x>": "required"})
    assert call(literal, "/users/5").status == 401
    with pytest.raises(ConfigError, match="FastAPI"):
        JWTMiddleware(app, JWTManager(secret_key=SECRET), routes={"/users/{id}": "required"})


@pytest.mark.parametrize("pattern", [
    pytest.param("/v1/things:batchGet", id="google-api-custom-method"),
    pytest.param("/wiki/Foo_(bar)", id="parentheses-in-a-title"),
    pytest.param("/c++", id="plus-signs"),
    pytest.param("/users/<int:pk>/", id="django-converter-with-leading-slash"),
    pytest.param("/u/<int(max=10):n>", id="werkzeug-converter-arguments"),
    pytest.param("/a/<any(x,y):k>", id="werkzeug-any"),
    pytest.param("/files/<path:rest>", id="werkzeug-path"),
    pytest.param("/*", id="root-wildcard"),
])
def test_literal_text_that_only_looks_foreign_is_accepted(pattern: str) -> None:
    RouteTable({pattern: "required"})


# -- a table that protects nothing -----------------------------------------------------------

NOTHING = [
    pytest.param(None, "public", id="routes-none"),
    pytest.param({}, "public", id="routes-empty"),
    pytest.param({"/health": "public", "/*": "public"}, "public", id="every-rule-public"),
    pytest.param({"/health": "public"}, {"require": "public"}, id="public-default-as-a-dict"),
]


@pytest.mark.parametrize(("routes", "default"), NOTHING)
def test_a_table_that_protects_nothing_is_refused(routes: Any, default: Any) -> None:
    with pytest.raises(ConfigError, match=r"protects nothing.*default='required'"):
        RouteTable(routes, default=default)
    with pytest.raises(ConfigError, match="protects nothing"):
        JWTMiddleware(Recorder(), JWTManager(secret_key=SECRET), routes=routes,
                      default=default)


@pytest.mark.parametrize(("routes", "default"), [
    pytest.param(None, "required", id="deny-by-default-without-rules"),
    pytest.param({}, "optional", id="staged-rollout-optional-default"),
    pytest.param({"/health": "public", "/api/*": "optional"}, "public", id="one-optional-rule"),
    pytest.param({"/health": "public", "POST /admin": "fresh"}, "public",
                 id="one-method-rule"),
])
def test_a_table_that_protects_something_is_built(routes: Any, default: Any) -> None:
    assert RouteTable(routes, default=default)


@pytest.mark.parametrize("routes", [
    pytest.param('[routes]\n"/health" = "public"\n', id="toml-public-rules"),
    pytest.param('[middleware]\ndefault = "public"\n[routes]\n"/*" = "public"\n',
                 id="toml-public-default-and-wildcard"),
])
def test_a_toml_file_that_protects_nothing_is_refused(tmp_path: Path, routes: str) -> None:
    path = tmp_path / "jwt.toml"
    path.write_text(f'[jwt]\nsecret_key = "{SECRET}"\n{routes}')
    with pytest.raises(ConfigError, match=f"{path.name}: the routes table protects nothing"):
        load_config(path)


def test_a_toml_file_without_routes_serves_the_token_commands_but_never_wraps(
        tmp_path: Path) -> None:
    path = tmp_path / "jwt.toml"
    path.write_text(f'[jwt]\nsecret_key = "{SECRET}"\n')
    config = load_config(path)
    assert config.manager.create_access_token("alice")
    with pytest.raises(ConfigError, match=r"jwt\.toml: the routes table protects nothing"):
        config.wrap(Recorder())
    with pytest.raises(ConfigError, match="protects nothing"):
        build_config({"secret_key": SECRET}, {"/x": "public"}, {})


def test_a_paste_filter_that_protects_nothing_is_refused_when_loaded() -> None:
    with pytest.raises(ConfigError, match=r"app\.ini: the routes table protects nothing"):
        filter_factory({"__file__": "/srv/app.ini", "here": "/srv"},
                       jwt_secret_key=SECRET, routes="/health = public")


def test_the_cli_refuses_to_serve_a_table_that_protects_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt_wsgi.cli
    from jwt_wsgi.cli import main

    served: list[object] = []  # a server that starts would block: record it instead
    monkeypatch.setattr(jwt_wsgi.cli, "_run", lambda *args: served.append(args) or 0)

    (tmp_path / "jwt.toml").write_text(f'[jwt]\nsecret_key = "{SECRET}"\n')
    (tmp_path / "nothing_app.py").write_text(
        "def app(environ, start_response):\n    start_response('200 OK', [])\n"
        "    return [b'ok']\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        code = main(["serve", "nothing_app:app", "--config", str(tmp_path / "jwt.toml"),
                     "--port", "0"])
    finally:
        sys.path.remove(str(tmp_path))
    assert (code, served) != (0, []) and served == []
    assert "protects nothing" in capsys.readouterr().err
