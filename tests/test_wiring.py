"""The first hour: every way a newcomer may wire an app and a manager works or fails loudly.

Each case is a line someone coming from flask-jwt-extended, Flask, FastAPI, Express or
Django writes by habit. The failing ones must fail at once (or, for a loop only a request
can show, with a JSON 500 and one log line), and the message must show the line to write.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, get_jwt_identity
from tests.harness import SECRET, bearer, need

# -- the manager -------------------------------------------------------------------------


def _flask_app() -> Any:
    flask = need("flask")
    app = flask.Flask("wiring")
    app.config["JWT_SECRET_KEY"] = SECRET
    return app


@pytest.mark.parametrize(("make_argument", "expected"), [
    pytest.param(_flask_app, r"JWTManager\.from_mapping\(app\.config\)",
                 id="flask_jwt_extended_JWTManager_of_app"),
    pytest.param(lambda: {"JWT_SECRET_KEY": SECRET}, r"JWTManager\.from_mapping\(mapping\)",
                 id="config_dict_given_positionally"),
    pytest.param(lambda: _flask_app().config, r"JWTManager\.from_mapping\(mapping\)",
                 id="flask_config_given_positionally"),
    pytest.param(lambda: SECRET, r"JWTManager\(secret_key=\.\.\.\)",
                 id="secret_given_positionally_as_in_pyjwt_or_express"),
    pytest.param(lambda: 42, r"first argument is a Settings object, not int",
                 id="anything_else_positionally"),
])
def test_manager_built_from_the_wrong_thing_says_what_to_write(
        make_argument: Callable[[], Any], expected: str) -> None:
    with pytest.raises(TypeError, match=expected):
        JWTManager(make_argument())


def test_init_app_habit_points_to_the_middleware_line() -> None:
    jwt = JWTManager(secret_key=SECRET)
    with pytest.raises(TypeError, match=r"app\.wsgi_app = JWTMiddleware\(app\.wsgi_app, jwt"):
        jwt.init_app(_flask_app())


def test_from_mapping_of_a_flask_config_is_the_form_that_works() -> None:
    app = _flask_app()
    assert JWTManager.from_mapping(app.config).settings.algorithm == "HS256"


# -- loaders -----------------------------------------------------------------------------

LOADERS = ["unauthorized_loader", "invalid_token_loader", "expired_token_loader",
           "needs_fresh_token_loader", "revoked_token_loader", "csrf_error_loader",
           "insufficient_scope_loader", "service_unavailable_loader", "invalid_request_loader",
           "token_in_blocklist_loader", "user_claims_loader", "additional_claims_loader",
           "additional_headers_loader", "user_identity_loader"]


@pytest.mark.parametrize("name", [pytest.param(name, id=f"{name}_with_parentheses")
                                  for name in LOADERS])
def test_loader_decorator_with_parentheses_shows_the_form_without(name: str) -> None:
    jwt = JWTManager(secret_key=SECRET)
    with pytest.raises(TypeError, match=r"decorator without parentheses: write '@jwt\.\w+_loader'"):
        getattr(jwt, name)()


@pytest.mark.parametrize("name", [pytest.param(name, id=f"{name}_given_a_string")
                                  for name in ("expired_token_loader", "user_claims_loader")])
def test_loader_decorator_given_an_argument_shows_the_form(name: str) -> None:
    jwt = JWTManager(secret_key=SECRET)
    with pytest.raises(TypeError, match=r"takes the loader function itself"):
        getattr(jwt, name)("expired")


@pytest.mark.parametrize(("name", "expected"), [
    pytest.param("expired_loader", "did you mean 'expired_token_loader'",
                 id="expired_loader_typo"),
    pytest.param("unauthorised_loader", "did you mean 'unauthorized_loader'",
                 id="british_spelling"),
    pytest.param("revoked_loader", "did you mean 'revoked_token_loader'", id="revoked_loader"),
    pytest.param("token_in_blacklist_loader", "did you mean 'token_in_blocklist_loader'",
                 id="flask_jwt_extended_3_blacklist_name"),
    pytest.param("decode_key_loader", "has no counterpart in jwt_wsgi",
                 id="flask_jwt_extended_loader_without_counterpart"),
    pytest.param("zzz_loader", "the loaders are: .*expired_token_loader", id="nothing_close"),
])
def test_unknown_loader_name_suggests_the_right_one(name: str, expected: str) -> None:
    jwt = JWTManager(secret_key=SECRET)
    with pytest.raises(TypeError, match=expected):
        jwt.register_loaders({name: lambda: ({"msg": "x"}, 401)})


def test_loader_registered_by_its_right_name_still_answers() -> None:
    jwt = JWTManager(secret_key=SECRET)
    jwt.register_loaders({"unauthorized_loader": lambda msg: ({"why": msg}, 401)})
    client = Client(JWTMiddleware(_ok, jwt, {"/p": "required"}))
    assert json.loads(client.get("/p").get_data()) == {"why": "Missing Authorization Header"}


# -- the middleware ----------------------------------------------------------------------

def _ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps({"sub": get_jwt_identity(environ)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class _AsgiApp:
    """What FastAPI and Starlette apps are: ``async __call__(scope, receive, send)``."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never called")


async def _asgi_function(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


@pytest.mark.parametrize(("make", "error", "expected"), [
    pytest.param(lambda jwt: JWTMiddleware(jwt, _ok), TypeError, "the app comes first",
                 id="swapped_arguments"),
    pytest.param(lambda jwt: JWTMiddleware(jwt, jwt), TypeError, "the app comes first",
                 id="manager_twice"),
    pytest.param(lambda jwt: JWTMiddleware("myapp:app", jwt), ConfigError,  # type: ignore[arg-type]
                 "must be a WSGI callable", id="import_string_instead_of_the_app"),
    pytest.param(lambda jwt: JWTMiddleware(_AsgiApp(), jwt), ConfigError,  # type: ignore[arg-type]
                 "is an ASGI app", id="fastapi_or_starlette_app_object"),
    pytest.param(lambda jwt: JWTMiddleware(_asgi_function, jwt), ConfigError,  # type: ignore[arg-type]
                 "is an ASGI app", id="asgi_function"),
])
def test_middleware_given_the_wrong_app_says_so_at_construction(
        make: Callable[[JWTManager], Any], error: type[Exception], expected: str) -> None:
    with pytest.raises(error, match=expected):
        make(JWTManager(secret_key=SECRET))


def test_flask_object_wrapped_as_its_own_wsgi_app_answers_500_not_recursion_error(
        caplog: pytest.LogCaptureFixture) -> None:
    """``app.wsgi_app = JWTMiddleware(app, ...)`` looped ~500 frames deep for every request
    with a valid token, then answered an HTML 500 from a RecursionError."""
    flask = need("flask")
    app = flask.Flask("loop")
    app.add_url_rule("/p", "p", lambda: "secret")
    app.add_url_rule("/open", "open", lambda: "open")
    jwt = JWTManager(secret_key=SECRET)
    app.wsgi_app = JWTMiddleware(app, jwt, {"/p": "required"})  # type: ignore[method-assign]
    client = Client(app)
    depth = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a loop would hit this at once; the guard needs a few frames
    try:
        with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
            for response in (client.get("/p", headers=bearer(jwt.create_access_token("a"))),
                             client.get("/open")):
                assert response.status_code == 500
                assert response.get_json() == {"msg": "Internal server error"}
    finally:
        sys.setrecursionlimit(depth)
    assert client.get("/p").status_code == 401  # refused before the app: no loop to see
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all("app.wsgi_app = JWTMiddleware(app.wsgi_app, jwt, routes={...})" in e
               and "JWTMiddleware(app, ...) calls itself" in e for e in errors)
    assert not any("RecursionError" in (r.exc_text or "") for r in caplog.records)


def test_any_app_calling_its_middleware_back_gets_a_500(caplog: pytest.LogCaptureFixture) -> None:
    jwt = JWTManager(secret_key=SECRET)
    middleware: list[JWTMiddleware] = []

    def loops(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return middleware[0](environ, start_response)

    middleware.append(JWTMiddleware(loops, jwt, {"/never-requested": "required"}))
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        assert Client(middleware[0]).get("/").status_code == 500
    assert "called again for the same request" in caplog.text


def test_two_middlewares_stacked_and_a_copied_environ_are_no_loop() -> None:
    """Only the same middleware with the same environ is a loop: stacking two, or an app
    that makes a sub-request with a copy of its environ, must keep working."""
    jwt = JWTManager(secret_key=SECRET)
    outer: list[JWTMiddleware] = []

    def subrequest(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/outer":
            inner = dict(environ, PATH_INFO="/inner")
            return outer[0](inner, start_response)
        return _ok(environ, start_response)

    stacked = JWTMiddleware(JWTMiddleware(subrequest, jwt, {"/*": "required"}), jwt,
                            {"/never-requested": "required"})
    outer.append(stacked)
    token = bearer(jwt.create_access_token("alice"))
    assert Client(stacked).get("/outer", headers=token).get_json() == {"sub": "alice"}


@pytest.mark.parametrize("framework", [
    pytest.param("flask", id="flask_object_served_as_the_application"),
    pytest.param("flask_wsgi_app", id="flask_wsgi_app_method_the_documented_form"),
    pytest.param("django", id="django_wsgi_handler"),
    pytest.param("pyramid", id="pyramid_router"),
    pytest.param("falcon", id="falcon_app"),
    pytest.param("bottle", id="bottle_app"),
])
def test_each_framework_app_object_is_a_fine_wsgi_app(framework: str) -> None:
    """``JWTMiddleware(app, jwt)`` with each framework's own app object: 401 without a
    token, 200 and the identity with one, and no false loop detection."""
    jwt = JWTManager(secret_key=SECRET)
    app, path = _framework_app(framework)
    client = Client(JWTMiddleware(app, jwt, {path: "required"}))
    if framework == "flask_wsgi_app":
        flask_app = app.__self__
        flask_app.wsgi_app = JWTMiddleware(app, jwt, {path: "required"})
        client = Client(flask_app)
    assert client.get(path).status_code == 401
    response = client.get(path, headers=bearer(jwt.create_access_token("alice")))
    assert response.status_code == 200
    assert "alice" in response.get_data(as_text=True)


def _framework_app(framework: str) -> tuple[Any, str]:
    if framework in ("flask", "flask_wsgi_app"):
        flask = need("flask")
        app = flask.Flask("fw")
        app.get("/me")(lambda: get_jwt_identity(flask.request))
        return (app if framework == "flask" else app.wsgi_app), "/me"
    if framework == "django":
        need("django")
        from tests.test_frameworks import load_example

        return load_example("django_site.wsgi").django_app, "/api/me"
    if framework == "pyramid":
        need("pyramid")
        from pyramid.config import Configurator
        from pyramid.response import Response

        with Configurator() as config:
            config.add_route("me", "/me")
            config.add_view(lambda request: Response(get_jwt_identity(request)), route_name="me")
            return config.make_wsgi_app(), "/me"
    if framework == "falcon":
        falcon = need("falcon")

        class Me:
            def on_get(self, req: Any, resp: Any) -> None:
                resp.text = get_jwt_identity(req.env)
                resp.content_type = "text/plain"

        falcon_app = falcon.App()
        falcon_app.add_route("/me", Me())
        return falcon_app, "/me"
    bottle = need("bottle")
    bottle_app = bottle.Bottle()
    bottle_app.get("/me")(lambda: get_jwt_identity(bottle.request.environ))
    return bottle_app, "/me"
