"""A dot segment with path parameters (``/..;/``) is a 400, in any encoding.

Tomcat, Jetty and Spring strip ``;parameters`` from a segment before they resolve dot
segments, so behind them ``/public/..;/admin`` is ``/admin``; werkzeug, Django and the
rest see a segment named ``..;``. No reading can tell which the app behind us is, so the
path is refused, whatever layer of percent-encoding hides the dots or the ``;``.
Cases are PATH_INFO as a server delivers it (percent-decoded once).
"""

from __future__ import annotations

import pytest

from jwt_wsgi import InvalidRequestError, JWTManager, JWTMiddleware
from jwt_wsgi.readings import readings
from jwt_wsgi.routes import RouteTable
from tests.harness import SECRET, Recorder, call

ROUTES = {"/admin/*": "required", "/public/*": "public", "/files/*": "public"}

DOT_PARAMS = [
    pytest.param("/public/..;/admin", id="dotdot-semicolon"),
    pytest.param("/..;/admin", id="at-the-root"),
    pytest.param("/public/..;jsessionid=1/admin", id="jsessionid"),
    pytest.param("/public/..;a=b;c=d/admin", id="several-parameters"),
    pytest.param("/public/.;/../admin", id="dot-semicolon"),
    pytest.param("/public/..;", id="at-the-end"),
    pytest.param("/public/%2e%2e;x/admin", id="encoded-dots"),
    pytest.param("/public/%2E%2E;/admin", id="encoded-dots-upper-case"),
    pytest.param("/public/.%2e;/admin", id="one-dot-encoded"),
    pytest.param("/public/..%3b/admin", id="encoded-semicolon"),
    pytest.param("/public/%2e%2e%3Bx/admin", id="all-encoded"),
    pytest.param("/public/%252e%252e%253b/admin", id="double-encoded"),
    pytest.param("/public/%25252e%25252e;/admin", id="triple-encoded"),
    pytest.param("..;/admin", id="no-leading-slash"),
    pytest.param("/public\\..;\\admin", id="backslashes"),
    pytest.param("//public//..;//admin", id="repeated-slashes"),
    pytest.param("http://host/public/..;/admin", id="absolute-form"),
]

NOT_DOT_PARAMS = [
    pytest.param("/files/a;b", id="parameter-on-a-name"),
    pytest.param("/files/...;x", id="three-dots"),
    pytest.param("/files/..x;y", id="dots-then-text"),
    pytest.param("/files/.hidden;v=1", id="dot-file"),
    pytest.param("/files/;", id="bare-semicolon"),
    pytest.param("/files/x;..", id="dots-after-the-semicolon"),
]


@pytest.mark.parametrize("path", DOT_PARAMS)
def test_a_dot_segment_with_parameters_is_a_400(path: str) -> None:
    app = Recorder()
    middleware = JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=ROUTES)
    answer = call(middleware, path)
    assert answer.status == 400 and "msg" in answer.json, (answer.status, answer.body)
    assert app.calls == 0
    with pytest.raises(InvalidRequestError):
        readings(path)


@pytest.mark.parametrize("path", DOT_PARAMS)
def test_refused_with_a_token_too_and_every_method(path: str) -> None:
    jwt = JWTManager(secret_key=SECRET)
    table = RouteTable(ROUTES)
    for method in ("GET", "HEAD", "POST", "OPTIONS"):
        with pytest.raises(InvalidRequestError):
            table.resolve(method, path)
    app = Recorder()
    token = jwt.create_access_token("alice")
    answer = call(JWTMiddleware(app, jwt, routes=ROUTES), path,
                  headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 400 and app.calls == 0


@pytest.mark.parametrize("path", NOT_DOT_PARAMS)
def test_other_semicolons_are_paths_like_any(path: str) -> None:
    app = Recorder()
    answer = call(JWTMiddleware(app, JWTManager(secret_key=SECRET), routes=ROUTES), path)
    assert answer.status == 200 and app.calls == 1
