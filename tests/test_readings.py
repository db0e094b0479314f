"""Path readings: each router's row in the table makes its reading, and only the table does."""

from __future__ import annotations

import random
from urllib.parse import unquote_to_bytes

import pytest

from jwt_wsgi import InvalidRequestError
from jwt_wsgi.readings import MAX_DECODES, ROUTERS, canonical, is_plain, readings, unquote

# One case a behaviour in the table: a path, and the reading the behaviour makes of it.
BEHAVIOURS = {
    ("slashes", "collapse"): ("//a//b", "/a/b"),
    ("slashes", "collapse-leading"): ("//a//b", "/a//b"),
    ("dots", "value"): ("/a/../b", "/a/../b"),
    ("dots", "resolve"): ("/a/../b", "/b"),
    ("invalid_utf8", "drop"): ("/admin\xff", "/admin"),
    ("invalid_utf8", "percent"): ("/admin\xff", "/admin%FF"),
    ("adds_slash", True): ("files/..", "/files/.."),
    ("absolute_form", True): ("http://host/admin", "/admin"),
    ("decodes", MAX_DECODES): ("/%25252e%25252e/admin", "/admin"),
}


@pytest.mark.parametrize("router", [pytest.param(r, id=r.name) for r in ROUTERS])
def test_every_router_row_makes_its_readings(router: object) -> None:
    for (field, value), (path, reading) in BEHAVIOURS.items():
        if getattr(router, field) == value:
            assert reading in readings(path), (field, value, path)


def test_every_behaviour_in_the_table_has_a_case() -> None:
    fields = {"slashes", "dots", "invalid_utf8", "adds_slash", "absolute_form"}
    used = {(field, getattr(router, field)) for router in ROUTERS for field in fields}
    known = set(BEHAVIOURS) | {("slashes", "keep"), ("invalid_utf8", "latin-1"),
                               ("adds_slash", False), ("absolute_form", False)}
    assert used <= known, used - known
    assert {router.converters for router in ROUTERS} == {"regex", "text", "lenient"}
    assert any(router.dot_params for router in ROUTERS)


@pytest.mark.parametrize("path", [
    pytest.param("/", id="root"),
    pytest.param("/api/v1/users/7", id="api"),
    pytest.param("/a;b/c.d", id="semicolon-and-dot-in-names"),
])
def test_a_plain_path_is_its_only_reading(path: str) -> None:
    assert is_plain(path)
    assert readings(path) == (path,)


@pytest.mark.parametrize("path", [
    pytest.param("/a/", id="trailing-slash"), pytest.param("//a", id="double-slash"),
    pytest.param("/a/./b", id="dot"), pytest.param("/a%2Fb", id="percent"),
    pytest.param("/a\\b", id="backslash"), pytest.param("/caf\xc3\xa9", id="non-ascii"),
    pytest.param("a", id="no-leading-slash"), pytest.param("/a\x00", id="control"),
    pytest.param("/..;/a", id="dot-parameters"),
])
def test_the_fast_lane_is_only_for_plain_paths(path: str) -> None:
    assert not is_plain(path)


def test_unquote_decodes_as_urllib_does() -> None:
    pieces = ["%", "2", "e", "E", "f", "g", "=", " ", "_", "%2", "%25", "=3D", "%0a", "%20",
              "%3D", "\xff", "\xe9", "/", "a", "%C3%A9", "\t", "=\r"]
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert unquote(text) == unquote_to_bytes(text.encode("latin-1")).decode("latin-1"), text


def test_canonical_keeps_its_meaning() -> None:
    assert canonical("//a/./b/../c/") == "/a/c"
    assert canonical("/../../") == "/"
    assert canonical("\\a\\..\\b") == "/b"
    assert canonical("./a") == "/a"
    assert canonical("/a//b/") == "/a/b"


def test_control_characters_behind_any_layer_are_refused() -> None:
    for path in ("/a%0a", "/a%250a", "/a%25250a"):
        with pytest.raises(InvalidRequestError):
            readings(path)
