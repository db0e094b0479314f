"""One request without a token must not cost more than a few milliseconds, however long
its path.

A rule with two variables in one segment (``<name>.<fmt>``) or several ``<path:>`` used to
be one regex over the whole path, which backtracked quadratically (cubically with three
``<path:>``): 16 KiB took a second. Matching now goes segment by segment, and the patterns
that could still backtrack are refused when the table is built. Reading a path stays linear
at about 0.2 microseconds a byte, so the middleware reads no more than ``max_path_size``
(8 KiB by default, as nginx and Apache): a longer path is a 414 before any reading.

The bounds below are regression guards, generous next to what ``benchmarks/path_dos.py``
measures (about 1.6 ms at 8 KiB; 7 ms at 32 KiB and 50 ms at 256 KiB with the limit
raised). Linearity is asserted as a ratio of two sizes, which a slower machine shares.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.path_dos import SIZE, TABLES, cases, cpu_time
from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.routes import MAX_PATH_SIZE, RouteTable
from tests.harness import SECRET

BOUND = 0.025  # seconds of CPU for one request with an 8 KiB path (measured: under 2 ms)
CASES = list(cases(SIZE))
SMALL, LARGE = 32 * 1024, 256 * 1024  # the limit raised to each: 8 times the text
#: A linear reader costs about 8 times as much for 8 times the text; a quadratic one 64.
RATIO = 20
LARGE_BOUND = 1.0  # seconds for 256 KiB with the limit raised: a denial-of-service guard
STATUSES = ("200 OK", "400 Bad Request", "401 UNAUTHORIZED", "401 Unauthorized",
            "404 Not Found")


def test_the_benchmark_measures_the_default_limit() -> None:
    assert SIZE == MAX_PATH_SIZE == 8192


@pytest.mark.parametrize(("table", "path", "call"),
                         [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in CASES])
def test_a_path_at_the_limit_costs_a_few_milliseconds(table: str, path: str, call: Any) -> None:
    status = call()
    assert status in STATUSES, status
    assert cpu_time(call) < BOUND, f"{table} / {path}"


@pytest.mark.parametrize(("table", "path", "small", "large"), [
    pytest.param(table, path, small, large, id=f"{table}-{path}")
    for (table, path, small), (_, _, large) in zip(cases(SMALL), cases(LARGE), strict=True)])
def test_reading_a_path_is_linear_in_its_length(table: str, path: str, small: Any,
                                                 large: Any) -> None:
    assert small() in STATUSES and large() in STATUSES
    large_time = cpu_time(large, repeat=2)
    assert large_time < LARGE_BOUND, f"{table} / {path}"
    assert large_time < RATIO * max(cpu_time(small), 0.001), f"{table} / {path}"


# MAX_PATH_SIZE + 32: over the limit whatever the unit a path is filled with
@pytest.mark.parametrize("size", [MAX_PATH_SIZE + 32, LARGE, 4 * 1024 * 1024])
def test_a_path_over_the_limit_is_414_before_it_is_read(size: int) -> None:
    for table, path, call in cases(size, max_path_size=MAX_PATH_SIZE):
        assert call() == "414 Request-URI Too Long", f"{table} / {path}"
        assert cpu_time(call) < 0.005, f"{table} / {path}"


def test_the_cases_reach_the_matcher() -> None:
    """The long paths must really be matched, not refused before: in every table some of
    them reach a protected rule (401), and some go through to the app."""
    statuses: dict[str, set[str]] = {}
    for table, _path, call in CASES:
        statuses.setdefault(table, set()).add(call().split()[0])
    assert statuses.keys() == TABLES.keys()
    assert all("401" in found for found in statuses.values()), statuses
    assert any("200" in found for found in statuses.values()), statuses


@pytest.mark.parametrize(("routes", "path", "protected"), [
    pytest.param({"/api/<name>.<fmt>": "required"}, "/api/" + "a." * 100 + "json", True,
                 id="name-dot-fmt-many-dots"),
    pytest.param({"/api/<name>.<fmt>": "required"}, "/api/" + "a" * 1000, False,
                 id="name-dot-fmt-no-dot"),
    pytest.param({"/api/<name>.<fmt>": "required"}, "/api/.x", False,
                 id="name-dot-fmt-empty-name"),
    pytest.param({"/f/<int:id>.<fmt>": "required"}, "/f/12.csv", True, id="int-dot-fmt"),
    pytest.param({"/h/<slug>-<int:n>": "required"}, "/h/a-b-c-7", True, id="slug-dash-int"),
    pytest.param({"/h/<slug>-<int:n>": "required"}, "/h/a-b-c-x", False,
                 id="slug-dash-int-not-a-number"),
    pytest.param({"/h/<slug>-<int:n>": "required"}, "/h/a--7", True,
                 id="slug-dash-negative-int-lenient"),
    pytest.param({"/files/<path:p>/edit": "required"}, "/files/a/b/c/edit", True,
                 id="path-then-static"),
    pytest.param({"/files/<path:p>/edit": "required"}, "/files/edit", False,
                 id="path-needs-a-segment"),
    pytest.param({"/files/<path:p>/<name>.<fmt>": "required"}, "/files/a/b.c", True,
                 id="path-then-two-variables"),
    pytest.param({"/g/<name>.<string(maxlength=3):fmt>": "required"}, "/g/a.b.json", False,
                 id="bounded-last-variable"),
    pytest.param({"/g/<name>.<string(maxlength=3):fmt>": "required"}, "/g/a.b.css", True,
                 id="bounded-last-variable-fits"),
])
def test_segments_with_several_variables_match_as_werkzeug_does(
        routes: dict[str, str], path: str, protected: bool) -> None:
    assert RouteTable(routes).resolve("GET", path).protected is protected


@pytest.mark.parametrize(("pattern", "message"), [
    pytest.param("/f/<a>.<b>.json", "quadratic", id="two-open-variables-and-a-suffix"),
    pytest.param("/d/<a>-<b>-<c>", "quadratic", id="three-strings-with-one-separator"),
    pytest.param("/d/<name>.<float:v>", "quadratic", id="float-after-an-open-variable"),
    pytest.param("/d/<a>1<int:b>", "quadratic", id="int-holding-the-text-before-it"),
    pytest.param("/d/<a>.<string(minlength=100):b>", "quadratic",
                 id="long-minimum-after-an-open-variable"),
    pytest.param("/n/<int:a>_<int:b>x", "quadratic", id="lenient-int-holds-underscores"),
    pytest.param("/<path:a>/x/<path:b>", "one <path:>", id="two-path-converters"),
    pytest.param("/<path:a>/x/<path:b>/y/<path:c>/z", "one <path:>",
                 id="three-path-converters"),
    pytest.param("/files/<path:p>/*", "one <path:>", id="path-converter-and-wildcard"),
    pytest.param("/x<path:p>", "whole segment", id="path-converter-inside-a-segment"),
    pytest.param("/<path:p>.json", "whole segment", id="path-converter-with-a-suffix"),
    pytest.param("/d/<name><fmt>", "text between them", id="adjacent-variables"),
])
def test_patterns_that_could_backtrack_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RouteTable({pattern: "required"})


def test_a_converter_that_matches_slashes_must_be_a_path() -> None:
    from werkzeug.routing import BaseConverter

    class Anything(BaseConverter):
        regex = "[a-z/]+"

    with pytest.raises(ConfigError, match="only <path:> may span segments"):
        JWTMiddleware(lambda e, s: [], JWTManager(secret_key=SECRET),
                      routes={"/x/<anything:a>": "required"}, converters={"anything": Anything})


def test_every_table_of_the_benchmark_is_accepted() -> None:
    for routes in TABLES.values():
        RouteTable(routes)
