"""Paths found by generating route tables, mirroring them into real frameworks and sending
paths without a token through the middleware: no protected view may run.

Falcon's plain ``{name}`` field takes an empty segment anywhere in the route, not only at
its end: ``/u//edit`` runs the ``/u/{name}/edit`` view with ``name=""``. The lenient reading
allowed an empty value only for the last variable of the route, so ``/u//edit`` (and
``//u//edit``) went through as public to a protected view.
"""

from __future__ import annotations

from typing import Any

import falcon
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from jwt_wsgi import JWTManager, JWTMiddleware
from jwt_wsgi.routes import RouteTable
from tests.harness import SECRET


def _falcon(templates: list[str], reached: list[str]) -> Any:
    class View:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_get(self, req: Any, resp: Any, **params: Any) -> None:
            reached.append(self.name)
            resp.text = "ok"

        on_post = on_delete = on_get

    app = falcon.App()
    for template in templates:
        app.add_route(template, View(template))
    return app


def _status(app: Any, routes: dict[str, str], path_info: str, method: str) -> int:
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path_info
    _body, status, _headers = run_wsgi_app(
        JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=routes), environ, buffered=True)
    return int(status.split()[0])


FALCON_CASES = [
    pytest.param(["/u/{name}/edit"], {"/u/<name>/edit": "required"}, "/u//edit", "GET",
                 id="empty-middle-field"),
    pytest.param(["/u/{name}/edit"], {"/u/<name>/edit": "required"}, "//u//edit", "POST",
                 id="empty-middle-field-leading-slashes"),
    pytest.param(["/u/{name}/edit", "/files/{rest:path}"],
                 {"/u/<name>/edit": "required", "/files/<path:rest>": "public"}, "/u//edit",
                 "DELETE", id="empty-middle-field-next-to-a-public-rule"),
    pytest.param(["/m/{a}/{b}/x"], {"/m/<a>/<b>/x": "required"}, "/m///x", "GET",
                 id="two-empty-fields"),
    pytest.param(["/t/{tenant}/admin/{page}"], {"/t/<tenant>/admin/<page>": "required"},
                 "/t//admin/x", "GET", id="empty-tenant"),
    pytest.param(["/t/{tenant}/admin/{page}"], {"/t/<tenant>/admin/<page>": "required"},
                 "/t//admin/", "GET", id="empty-tenant-and-page"),
]


@pytest.mark.parametrize(("templates", "routes", "path", "method"), FALCON_CASES)
def test_falcon_empty_fields_never_reach_a_protected_view(
        templates: list[str], routes: dict[str, str], path: str, method: str) -> None:
    reached: list[str] = []
    status = _status(_falcon(templates, reached), routes, path, method)
    assert (status, reached) == (401, [])


@pytest.mark.parametrize(("templates", "routes", "path", "method"), FALCON_CASES)
def test_falcon_does_route_the_empty_fields(
        templates: list[str], routes: dict[str, str], path: str, method: str) -> None:
    # the cases are real: without the middleware, Falcon runs the view
    reached: list[str] = []
    app = _falcon(templates, reached)
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path
    run_wsgi_app(app, environ, buffered=True)
    assert reached == templates[:1]


@pytest.mark.parametrize(("routes", "path", "protected"), [
    pytest.param({"/u/<name>/edit": "required"}, "/u///edit", False, id="two-empty-segments"),
    pytest.param({"/u/<name>/edit": "required"}, "/u/edit", False, id="segment-missing"),
    pytest.param({"/f/<name>.<fmt>/x": "required"}, "/f/./x", False,
                 id="falcon-complex-segment-needs-text"),
    pytest.param({"/f/<int:n>/x": "required"}, "/f//x", False, id="int-is-never-empty"),
])
def test_an_empty_value_is_a_reading_only_where_falcon_makes_it(
        routes: dict[str, str], path: str, protected: bool) -> None:
    assert RouteTable(routes).resolve("GET", path).protected is protected
