"""Routers read paths in their own ways: none of those readings may reach a protected view.

The middleware matches rules with werkzeug's converters on PEP 3333 text, but the app
behind it routes with its own router: werkzeug (Flask) on the UTF-8 text, where ``\\d``
matches digits of every script; Bottle, whose ``int`` takes ``-1``; Falcon, whose ``int``
is Python's ``int()`` (``1_0`` is ten). Each case here sends a path to a real app of each
framework, protected by the same rules, and checks that no view behind a protected rule
runs without a token. Then the rules themselves: order never decides, conflicting rules
and patterns that cannot match are refused when the table is built.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import bottle
import falcon
import flask
import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.routes import RouteTable
from tests.harness import SECRET

ROUTES = {
    "/users/<int:uid>": "required",
    "/price/<float:amount>": "required",
    "/n/<int(signed=True):n>": "required",
    "/files/<path:rest>": "required",
    "/items/<uuid:item>": "required",
    "/admin": "required",
}
VIEWS = ("users", "price", "n", "files", "items", "admin")


def flask_app(reached: list[str]) -> Any:
    app = flask.Flask("router_readings")
    app.add_url_rule("/users/<int:uid>", "users", lambda uid: reached.append("users") or "u")
    app.add_url_rule("/price/<float:amount>", "price",
                     lambda amount: reached.append("price") or "p")
    app.add_url_rule("/n/<int(signed=True):n>", "n", lambda n: reached.append("n") or "n")
    app.add_url_rule("/files/<path:rest>", "files", lambda rest: reached.append("files") or "f")
    app.add_url_rule("/items/<uuid:item>", "items", lambda item: reached.append("items") or "i")
    app.add_url_rule("/admin", "admin", lambda: reached.append("admin") or "a")
    return app


def bottle_app(reached: list[str]) -> Any:
    app = bottle.Bottle()
    app.route("/users/<uid:int>", callback=lambda uid: reached.append("users") or "u")
    app.route("/price/<amount:float>", callback=lambda amount: reached.append("price") or "p")
    app.route("/n/<n:int>", callback=lambda n: reached.append("n") or "n")
    app.route("/files/<rest:path>", callback=lambda rest: reached.append("files") or "f")
    app.route("/admin", callback=lambda: reached.append("admin") or "a")
    return app


def falcon_app(reached: list[str]) -> Any:
    class View:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_get(self, req: Any, resp: Any, **params: Any) -> None:
            reached.append(self.name)
            resp.text = "ok"

    app = falcon.App()
    app.add_route("/users/{uid:int}", View("users"))
    app.add_route("/price/{amount:float}", View("price"))
    app.add_route("/n/{n:int}", View("n"))
    app.add_route("/files/{rest:path}", View("files"))
    app.add_route("/items/{item:uuid}", View("items"))
    app.add_route("/admin", View("admin"))
    return app


FRAMEWORKS: dict[str, Callable[[list[str]], Any]] = {
    "flask": flask_app, "bottle": bottle_app, "falcon": falcon_app}

# Paths as a client writes them (percent-encoded UTF-8), each a way some router reads a
# value that werkzeug's ASCII regexes on PEP 3333 text would not.
TRICKS = [
    pytest.param("/users/%EF%BC%91", id="fullwidth-digit"),
    pytest.param("/users/%D9%A1", id="arabic-indic-digit"),
    pytest.param("/users/%E0%A5%A7%E0%A5%A8", id="devanagari-digits"),
    pytest.param("/users/-1", id="negative-int"),
    pytest.param("/users/+1", id="plus-sign"),
    pytest.param("/users/1_0", id="underscore-in-int"),
    pytest.param("/price/%D9%A1.5", id="float-with-arabic-digit"),
    pytest.param("/price/1", id="float-without-dot"),
    pytest.param("/price/1e3", id="float-exponent"),
    pytest.param("/price/inf", id="float-inf"),
    pytest.param("/n/-%EF%BC%91", id="signed-fullwidth"),
    pytest.param("/items/12345678123456781234567812345678", id="uuid-without-dashes"),
    pytest.param("/items/%7B12345678-1234-5678-1234-567812345678%7D", id="uuid-in-braces"),
    pytest.param("/items/urn:uuid:12345678-1234-5678-1234-567812345678", id="uuid-urn"),
    pytest.param("/admin%FF", id="invalid-utf8-byte-bottle-drops"),
    pytest.param("/adm%C3in", id="truncated-utf8-sequence"),
    pytest.param("/users/1%FF", id="invalid-utf8-after-int"),
    pytest.param("/files/", id="empty-path-value"),
    pytest.param("/files//", id="slash-as-path-value"),
]


def _get(app: Any, path: str) -> int:
    environ = EnvironBuilder(path="/").get_environ()
    # PATH_INFO as servers deliver it (PEP 3333): percent-decoded once, one latin-1
    # character a byte, invalid UTF-8 included (EnvironBuilder would replace it).
    environ["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
    _body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0])


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("path", TRICKS)
def test_no_router_reading_reaches_a_protected_view(framework: str, path: str) -> None:
    reached: list[str] = []
    app = FRAMEWORKS[framework](reached)
    protected = JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=ROUTES)
    status = _get(protected, path)
    assert reached == [], f"{framework} ran the {reached} view for {path} ({status})"
    assert status in (401, 404, 405), status


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_the_tricks_do_reach_the_views_without_the_middleware(framework: str) -> None:
    # The cases above must be real: without protection, each framework routes at least
    # some of them to a view (so the test above can fail).
    reached: list[str] = []
    app = FRAMEWORKS[framework](reached)
    for param in TRICKS:
        _get(app, param.values[0])
    assert len(reached) >= 4, reached


@pytest.mark.parametrize("path_info", ["//files/.", "//files/..", "///files/.", "//users/1"])
def test_leading_slashes_with_dot_values_as_gunicorn_delivers_them(path_info: str) -> None:
    # gunicorn hands PATH_INFO over as the client wrote it; werkzeug's router ignores the
    # extra leading slashes and passes "." or ".." to <path:rest> as a value.
    reached: list[str] = []
    protected = JWTMiddleware(flask_app(reached), JWTManager(secret_key=SECRET), routes=ROUTES)
    environ = EnvironBuilder(path="/").get_environ()
    environ["PATH_INFO"] = path_info
    _body, status, _headers = run_wsgi_app(protected, environ, buffered=True)
    assert reached == [] and status.startswith("401"), (path_info, status, reached)
    unprotected: list[str] = []
    run_wsgi_app(flask_app(unprotected), dict(environ, PATH_INFO=path_info), buffered=True)
    assert unprotected, "flask did not route this path: the case proves nothing"


# -- the table: order never decides ------------------------------------------------------

USERS_RULES = {"/users/me": "public", "/users/<int:id>": "required", "/users/<id>": "optional",
               "/users/<path:p>": "fresh", "/users/*": "refresh"}


@pytest.mark.parametrize(("path", "expected"), [
    ("/users/me", "public"), ("/users/5", "required"), ("/users/bob", "optional"),
    ("/users/a/b", "fresh"), ("/users", "refresh")])
def test_every_order_of_the_mapping_gives_the_same_rule(path: str, expected: str) -> None:
    answers = set()
    for order in itertools.permutations(USERS_RULES):
        table = RouteTable({key: USERS_RULES[key] for key in order})
        answers.add(table.lookup("GET", path).require)
    assert answers == {expected}


@pytest.mark.parametrize("routes", [
    pytest.param({"get /report": "public", "GET /report": "required"}, id="method-case-twin"),
    pytest.param({"/u/<a>": "public", "/u/<b>": "required"}, id="variable-name-twin"),
    pytest.param({"HEAD /report": "public", "GET /report": "required"}, id="head-vs-get"),
    pytest.param({"GET /report": "public", "GET,POST /report": "required"}, id="method-overlap"),
])
def test_rules_that_cover_the_same_requests_must_agree(routes: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="cover the same requests"):
        RouteTable(routes)
    RouteTable(dict.fromkeys(routes, "required"))  # the same rules agreeing are fine


def test_a_trailing_slash_makes_another_rule_and_never_unprotects() -> None:
    """/report and /report/ are different rules (most routers send each spelling to its
    own view): each spelling gets the rule written for it; a spelling no rule was written
    for is also read without its slash, so it never unprotects a path."""
    table = RouteTable({"/report/": "public", "/report": "required"})
    assert table.resolve("GET", "/report").require == "required"
    # a router with optional slashes runs the /report view for /report/ too
    assert table.resolve("GET", "/report/").require == "required"
    table = RouteTable({"/report/": "required", "/report": "public"})
    assert table.resolve("GET", "/report/").require == "required"
    assert table.resolve("GET", "/report").require == "required"  # and the other way round
    table = RouteTable({"/report": "required", "/*": "public"})
    assert table.resolve("GET", "/report/").require == "required"  # DESIGN's "/protected/"


@pytest.mark.parametrize(("routes", "default", "path"), [
    ({"/login/": "public"}, "required", "/login/"),
    ({"/api/*": "required", "/api/health/": "public"}, "public", "/api/health/"),
    ({"/accounts/login/": "public", "/accounts/*": "required"}, "required", "/accounts/login/"),
])
def test_a_public_rule_written_with_its_slash_lets_that_spelling_through(
        routes: dict[str, str], default: str, path: str) -> None:
    """The Django convention (every route ends with "/") must keep working."""
    assert not RouteTable(routes, default=default).resolve("GET", path).protected


@pytest.mark.parametrize(("routes", "path_info"), [
    pytest.param({"/api/*": "required", "/api/health": "public"}, "/api//health",
                 id="wildcard-covers-double-slash"),
    pytest.param({"/*": "required"}, "//1", id="root-wildcard-double-slash"),
    pytest.param({"/files": "required", "/files/*": "public"}, "/files",
                 id="exact-rule-before-its-wildcard"),
    pytest.param({"/pub/": "required", "/pub/*": "public"}, "/pub/",
                 id="slash-rule-before-its-wildcard"),
    pytest.param({"/files/<path:p>": "required"}, "\xff/files/../x",
                 id="no-leading-slash-with-invalid-utf8"),
])
def test_fourth_round_bypasses_stay_closed(routes: dict[str, str], path_info: str) -> None:
    assert RouteTable(routes).resolve("GET", path_info).protected


def test_a_root_variable_covers_the_root_unless_the_home_page_is_listed() -> None:
    """Falcon runs /{username} for "/" (username ""): list "/" to keep a home page public."""
    assert RouteTable({"/<username>": "required"}).resolve("GET", "/").protected
    table = RouteTable({"/<username>": "required", "/": "public"})
    assert not table.resolve("GET", "/").protected
    assert table.resolve("GET", "/alice").protected


@pytest.mark.parametrize(("routes", "path"), [
    pytest.param({"/blog/<slug>/": "public", "/blog/drafts": "required"}, "/blog/drafts/",
                 id="optional-slash-router-runs-the-named-view"),
    pytest.param({"/<page>/": "public", "/admin": "required"}, "/admin/",
                 id="root-page-rule-with-slash"),
    pytest.param({"/admin/": "required"}, "/admin", id="slash-rule-without-its-slash"),
    pytest.param({"/users/<int:uid>/": "required"}, "/users/7", id="slash-converter-rule"),
    pytest.param({"/docs/<lang>/*": "public", "/docs/<path:p>": "required"}, "/docs//x",
                 id="empty-middle-variable-is-no-reading"),
])
def test_fifth_round_bypasses_stay_closed(routes: dict[str, str], path: str) -> None:
    assert RouteTable(routes).resolve("GET", path).protected


@pytest.mark.parametrize(("routes", "path"), [
    ({"/users/": "public", "/users/<uid>": "required"}, "/users/"),
    ({"/docs/": "public", "/docs/<path:p>": "required"}, "/docs/"),
])
def test_a_public_index_written_with_its_slash_outranks_an_empty_value(
        routes: dict[str, str], path: str) -> None:
    assert not RouteTable(routes).resolve("GET", path).protected


def test_head_gets_the_get_rules_even_with_a_head_only_rule() -> None:
    reached: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [])
        return [b""]

    client = Client(JWTMiddleware(app, JWTManager(secret_key=SECRET),
                                  routes={"HEAD /report": "public", "/report": "required"}))
    assert client.head("/report").status_code == 401
    assert client.get("/report").status_code == 401
    assert client.post("/report").status_code == 401
    assert reached == []


@pytest.mark.parametrize("pattern", ["/a?b=1", "/a#frag", "/a//b", "/a/./b", "/a/../b", "/a/.",
                                     "/a/..", "//a"])
def test_patterns_no_server_delivers_are_refused(pattern: str) -> None:
    with pytest.raises(ConfigError, match="normalised path"):
        RouteTable({pattern: "required"})


def test_dots_inside_a_segment_are_still_allowed() -> None:
    table = RouteTable({"/files/a.b": "required", "/v1.0/*": "required", "/x/..y": "required"})
    assert table.lookup("GET", "/files/a.b").protected
    assert table.lookup("GET", "/v1.0/x").protected


def test_an_empty_issuers_list_on_a_route_is_refused() -> None:
    with pytest.raises(ConfigError, match="issuers is empty"):
        RouteTable({"/x": {"require": "required", "issuers": []}})


def test_methods_written_with_spaces_get_a_hint() -> None:
    with pytest.raises(ConfigError, match="without spaces"):
        RouteTable({"GET, POST /x": "required"})



# -- second round: what the first fixes still let through --------------------------------

def test_inner_double_slashes_survive_when_only_leading_ones_are_collapsed() -> None:
    """Flask ignores leading slashes only: //files/pub//secret is <path:rest> = pub//secret,
    not the public /files/pub/<name> that collapsing every slash would read."""
    reached: list[str] = []
    app = flask.Flask("inner_slashes")
    app.add_url_rule("/files/pub/<name>", "pub", lambda name: reached.append("pub") or "p")
    app.add_url_rule("/files/<path:rest>", "files", lambda rest: reached.append("files") or "f")
    routes = {"/files/pub/<name>": "public", "/files/<path:rest>": "required"}
    protected = JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=routes)
    environ = EnvironBuilder(path="/").get_environ()
    environ["PATH_INFO"] = "//files/pub//secret"  # as gunicorn delivers it
    _body, status, _headers = run_wsgi_app(protected, environ, buffered=True)
    assert reached == [] and status.startswith("401")
    run_wsgi_app(app, dict(environ), buffered=True)
    assert reached == ["files"], "flask did not route this path: the case proves nothing"


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_a_public_rule_does_not_cover_its_path_with_a_trailing_slash(framework: str) -> None:
    """/api/health is public; /api/health/ is not that rule in any of these routers: it is
    the protected catch-all's."""
    reached: list[str] = []
    if framework == "flask":
        app: Any = flask.Flask("slash")
        app.add_url_rule("/api/health", "health", lambda: reached.append("health") or "h")
        app.add_url_rule("/api/<path:p>", "api", lambda p: reached.append("api") or "a")
    elif framework == "bottle":
        app = bottle.Bottle()
        app.route("/api/health", callback=lambda: reached.append("health") or "h")
        app.route("/api/<p:path>", callback=lambda p: reached.append("api") or "a")
    else:
        class View:
            def __init__(self, name: str) -> None:
                self.name = name

            def on_get(self, req: Any, resp: Any, **params: Any) -> None:
                reached.append(self.name)

        app = falcon.App()
        app.add_route("/api/health", View("health"))
        app.add_route("/api/{p:path}", View("api"))
    routes = {"/api/*": "required", "/api/health": "public"}
    protected = JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=routes)
    assert _get(protected, "/api/health") == 200 and reached == ["health"]
    reached.clear()
    assert _get(protected, "/api/health/") in (401, 404) and "api" not in reached


@pytest.mark.parametrize("routes", [
    pytest.param({"/u/<a>": "public", "/u/<string:b>": "required"}, id="default-vs-string"),
    pytest.param({"/u/<any(x,y):a>": "public", "/u/<any(y,x):b>": "required"},
                 id="any-in-another-order"),
    pytest.param({"/u/<int:a>": "public", "/u/<int(signed=False):b>": "required"},
                 id="int-with-default-argument"),
    pytest.param({"/u/<string(minlength=1):a>": "public", "/u/<b>": "required"},
                 id="string-minlength-1"),
])
def test_rules_that_tie_in_meaning_all_apply_whatever_the_order(routes: dict[str, str]) -> None:
    answers = set()
    for order in (list(routes), list(reversed(routes))):
        table = RouteTable({key: routes[key] for key in order})
        answers.add(table.resolve("GET", "/u/x" if "int" not in order[0] else "/u/5").require)
    assert answers == {"required"}


# -- third round: a differential fuzz against the routers themselves -----------------------

def _reached_with(app: Any, reached: list[str], routes: dict[str, Any], path_info: str,
                  method: str = "GET") -> tuple[int, list[str]]:
    protected = JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=routes)
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path_info
    _body, status, _headers = run_wsgi_app(protected, environ, buffered=True)
    return int(status.split()[0]), list(reached)


def test_any_converter_keeps_its_non_ascii_choices() -> None:
    reached: list[str] = []
    app = flask.Flask("any_choices")
    app.add_url_rule("/docs/<any(public,privé):s>", "docs", lambda s: reached.append(s) or "d")
    status, ran = _reached_with(app, reached, {"/docs/<any(public,privé):s>": "required"},
                                unquote_to_bytes("/docs/priv%C3%A9").decode("latin-1"))
    assert (status, ran) == (401, [])


def test_a_rule_with_a_trailing_slash_does_not_cover_the_path_without() -> None:
    reached: list[str] = []
    app = bottle.Bottle()
    app.route("/api/health/", callback=lambda: reached.append("health") or "h")
    app.route("/api/<p:path>", callback=lambda p: reached.append("api") or "a")
    status, ran = _reached_with(app, reached, {"/api/*": "required", "/api/health/": "public"},
                                "/api/health")
    assert status == 401 and "api" not in ran


@pytest.mark.parametrize("path_info", ["files/..", "files/.", "files/x"])
def test_a_path_without_its_leading_slash_is_read_with_one(path_info: str) -> None:
    reached: list[str] = []
    app = flask.Flask("no_slash")
    app.add_url_rule("/files/<path:rest>", "files", lambda rest: reached.append(rest) or "f")
    status, ran = _reached_with(app, reached, {"/files/<path:rest>": "required"}, path_info)
    assert ran == [] and status in (400, 401, 404)


def test_invalid_utf8_is_also_read_percent_escaped_as_django_does() -> None:
    from jwt_wsgi.routes import readings

    assert "/codes/%FF%FF" in readings("/codes/\xff\xff")
    table = RouteTable({"/codes/<string(minlength=6):c>": "required"})
    assert table.resolve("GET", "/codes/\xff\xff").protected


def test_an_empty_value_for_a_plain_variable_is_a_reading_falcon_makes() -> None:
    reached: list[str] = []

    class User:
        def on_get(self, req: Any, resp: Any, uid: str) -> None:
            reached.append(uid)

    app = falcon.App()
    app.add_route("/users/{uid}", User())
    status, ran = _reached_with(app, reached, {"/users/<uid>": "required"}, "/users/")
    assert ran == [] and status == 401


def test_a_longer_rule_beats_the_path_rule_it_extends() -> None:
    reached: list[str] = []
    app = flask.Flask("extends")
    app.add_url_rule("/files/<path:p>", "view", lambda p: reached.append("view") or "v")
    app.add_url_rule("/files/<path:p>/edit", "edit", lambda p: reached.append("edit") or "e",
                     methods=["POST"])
    routes = {"/files/<path:p>": "public", "POST /files/<path:p>/edit": "required"}
    status, ran = _reached_with(app, reached, routes, "/files/x/edit", method="POST")
    assert (status, ran) == (401, [])


def test_a_segment_with_more_static_parts_beats_a_number_converter_as_in_werkzeug() -> None:
    reached: list[str] = []
    app = flask.Flask("static_parts")
    app.add_url_rule("/api/<float:version>", "version", lambda version: "public")
    app.add_url_rule("/api/<name>.<fmt>", "export",
                     lambda name, fmt: reached.append("export") or "e")
    routes = {"/api/<float:version>": "public", "/api/<name>.<fmt>": "required"}
    status, ran = _reached_with(app, reached, routes, "/api/1.5")
    assert (status, ran) == (401, [])


@pytest.mark.parametrize("path_info", ["/api/public//x", "/api/public/%2Fx"])
def test_a_wildcard_does_not_cover_an_empty_segment_after_its_prefix(path_info: str) -> None:
    reached: list[str] = []
    app = flask.Flask("empty_segment")
    app.add_url_rule("/api/public/<path:p>", "public", lambda p: "public")
    app.add_url_rule("/api/<path:p>", "api", lambda p: reached.append("api") or "a")
    routes = {"/api/*": "required", "/api/public/*": "public"}
    status, ran = _reached_with(app, reached, routes, unquote_to_bytes(path_info).decode("latin-1"))
    assert (status, ran) == (401, [])
