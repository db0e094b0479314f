"""The fast paths decide exactly as the plain, slow way would: faster never means laxer."""

from __future__ import annotations

import base64
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_wsgi.errors import JWTWSGIError, NoTokenError
from jwt_wsgi.keys import verifier
from jwt_wsgi.locations import FoundToken, TokenFinder
from jwt_wsgi.routes import Policy, RouteTable
from jwt_wsgi.settings import Settings
from jwt_wsgi.tokens import b64decode, parse_json_object

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def reference_b64decode(segment: str) -> bytes:
    """The obvious strict base64url: decode, then insist the text was the canonical encoding."""
    if len(segment) % 4 == 1:
        raise ValueError("impossible length")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("not canonical")
    return raw


def outcome(func: object, value: str) -> bytes | str:
    try:
        return func(value)  # type: ignore[operator, no-any-return]
    except ValueError:
        return "refused"


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.sampled_from(URLSAFE + "+/=.~ \n\x00é"), max_size=14))
def test_b64decode_agrees_with_the_reference(segment: str) -> None:
    assert outcome(b64decode, segment) == outcome(reference_b64decode, segment)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_b64decode_round_trips_every_canonical_encoding(raw: bytes) -> None:
    assert b64decode(base64.urlsafe_b64encode(raw).rstrip(b"=").decode()) == raw


@pytest.mark.parametrize("segment", ["QQ=", "QR", "QUF", "QUI=", "QUJD+", "QU/D", "Q", "QUJDR"])
def test_b64decode_refuses(segment: str) -> None:
    with pytest.raises(ValueError):
        b64decode(segment)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"a":1}', {"a": 1}, id="compact"),
        pytest.param(' \t{"a": [1, {"b": 2}]}\r\n', {"a": [1, {"b": 2}]}, id="whitespace"),
        pytest.param('{"a":1}  ', {"a": 1}, id="trailing-space"),
    ],
)
def test_json_objects_with_or_without_whitespace_parse(text: str, expected: object) -> None:
    assert parse_json_object(text.encode()) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"a":1,"a":2}', id="duplicate"),
        pytest.param(' {"a":1,"a":2}', id="duplicate-after-space"),
        pytest.param('{"a":{"b":1,"b":1}}', id="nested-duplicate"),
        pytest.param('{"a":1}x', id="trailing-garbage"),
        pytest.param('{"a":1}{}', id="two-objects"),
        pytest.param('{"a":NaN}', id="nan"),
        pytest.param('{"a":-Infinity}', id="infinity"),
        pytest.param('[{"a":1}]', id="array"),
        pytest.param('"{}"', id="string"),
        pytest.param("", id="empty"),
        pytest.param("{", id="unclosed"),
    ],
)
def test_bad_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_json_object(text.encode())


# -- routes: the rule tree picks the rule a scan of every rule in order would pick -------

SEGMENTS = ["api", "v1", "users", "admin", "x", "", "a.b", "%2e%2e", "5", "42", "-1"]
PATTERN_PARTS = ["api", "v1", "users", "admin", "x", "<int:n>", "<m>", "<path:rest>",
                 "v<int:k>", "a.b"]
METHODS = ["", "GET ", "POST ", "GET,POST "]
POLICIES = ["public", "optional", "required", "fresh", "refresh"]


@st.composite
def tables(draw: st.DrawFn) -> dict[str, str]:
    table: dict[str, str] = {}
    # One policy per pattern: rules that cover the same requests must agree (or the
    # table is refused), so the generator never asks for a refused table.
    policy_of: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 12))):
        parts = draw(st.lists(st.sampled_from(PATTERN_PARTS), max_size=4))
        if "<path:rest>" in parts:
            parts = parts[: parts.index("<path:rest>") + 1]
        names = [p for p in parts if p.startswith(("<", "v<"))]
        if len(set(names)) != len(names):
            continue
        pattern = "/" + "/".join(parts)
        if draw(st.booleans()) and "<path:rest>" not in parts:
            pattern = pattern.rstrip("/") + "/*"
        policy = policy_of.setdefault(pattern.rstrip("/") or "/", draw(st.sampled_from(POLICIES)))
        table[draw(st.sampled_from(METHODS)) + pattern] = policy
    return table


def scan_every_rule(table: RouteTable, method: str, path: str) -> Policy:
    for rule in table.rules:
        if rule.match(method, path):
            return rule.policy
    return table.default


@settings(max_examples=400, deadline=None)
@given(tables(), st.lists(st.sampled_from(SEGMENTS), max_size=5), st.booleans(),
       st.sampled_from(["GET", "HEAD", "POST", "DELETE"]))
def test_rule_tree_agrees_with_scanning_every_rule(routes: dict[str, str], segments: list[str],
                                                   trailing: bool, method: str) -> None:
    table = RouteTable(routes, default="required")
    path = "/" + "/".join(segments) + ("/" if trailing and segments else "")
    assert table.lookup(method, path) == scan_every_rule(table, method, path)


@settings(max_examples=400, deadline=None)
@given(tables(), st.lists(st.sampled_from(SEGMENTS), max_size=5),
       st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PURGE"]))
def test_the_fast_lane_answers_as_every_reading_would(routes: dict[str, str],
                                                      segments: list[str], method: str) -> None:
    """A canonical ASCII path skips the readings, and a path that stops where only static
    "/prefix/*" rules apply skips the matcher: the answer must be the slow way's."""
    routes = {**routes, "/never/*": "required"}  # a table that protects something
    fast, slow = RouteTable(routes, default="optional"), RouteTable(routes, default="optional")
    slow._fast_lane = False
    path = "/" + "/".join(segments)
    try:
        expected = slow.resolve(method, path)
    except JWTWSGIError as error:
        with pytest.raises(type(error)):
            fast.resolve(method, path)
        return
    assert fast.resolve(method, path) == expected


def test_rule_tree_skips_rules_under_other_prefixes() -> None:
    routes = {f"/api/v1/res{i}/<int:item_id>": "required" for i in range(1000)}
    routes["/api/*"] = "optional"
    table = RouteTable(routes)
    node = table._root.children["api"].children["v1"]
    assert len(node.candidates) == 1 and node.candidates[0].key == "/api/*"
    assert len(node.children["res7"].candidates) == 2
    assert table.resolve("GET", "/api/v1/res7/3").require == "required"
    assert table.resolve("GET", "/api/v1/res7/x").require == "optional"
    assert table.resolve("GET", "/api/v1/other").require == "optional"


def test_json_module_is_still_the_parser() -> None:
    # parse_json_object must keep the json module's number and string semantics.
    value = parse_json_object(json.dumps({"n": 10**30, "f": 1.5, "s": "\u00e9\ud83d\ude00"}).encode())
    assert value == {"n": 10**30, "f": 1.5, "s": "\u00e9\U0001f600"}


def test_resolved_paths_are_remembered_within_bounds() -> None:
    from jwt_wsgi.routes import MEMO_MAX_PATH, MEMO_SIZE

    table = RouteTable({"/admin/*": "required", "/users/<int:uid>": "optional"})
    for _ in range(2):
        assert table.resolve("GET", "/admin/x").require == "required"
        assert table.resolve("GET", "/public/%2e%2e/admin").require == "required"
        assert table.resolve("GET", "/users/7").require == "optional"
        assert table.resolve("GET", "/users/x").require == "public"
    for i in range(MEMO_SIZE + 10):
        table.resolve("GET", f"/users/{i}")
    assert 0 < len(table.memo) <= MEMO_SIZE
    table.resolve("GET", "/x" * MEMO_MAX_PATH)
    assert ("GET", "/x" * MEMO_MAX_PATH) not in table.memo


@pytest.mark.parametrize("path", ["/admin\x00", "/a/%0a/admin"])
def test_refused_paths_are_refused_every_time(path: str) -> None:
    from jwt_wsgi.errors import InvalidRequestError

    table = RouteTable({"/admin/*": "required"})
    for _ in range(2):
        with pytest.raises(InvalidRequestError):
            table.resolve("GET", path)
    assert table.memo == {}


HEADER_VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("Bearer bearer Basic ,.aZ09-_\t\x1f\xa0é"), max_size=24),
    st.builds(lambda scheme, token: f"{scheme}{token}",
              st.sampled_from(["Bearer ", "bearer ", "BEARER  ", "Bearer\t", "Basic "]),
              st.text(alphabet=st.sampled_from("aZ09-_., \t\x1c\x85é"), max_size=12)),
)


def header_outcome(finder: TokenFinder, value: str) -> object:
    try:
        return finder.find({"HTTP_AUTHORIZATION": value}, ("headers",))
    except JWTWSGIError as error:
        return type(error), error.message


@settings(max_examples=800, deadline=None)
@given(st.lists(HEADER_VALUES, min_size=1, max_size=6))
def test_header_memo_answers_as_parsing_each_time(values: list[str]) -> None:
    finder = TokenFinder(Settings.build(secret_key="x" * 32))
    for value in values + values:  # the second time round, successes come from the memo
        plain = TokenFinder(Settings.build(secret_key="x" * 32))
        assert header_outcome(finder, value) == header_outcome(plain, value)


def test_header_memo_is_bounded_and_skips_huge_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt_wsgi.locations

    monkeypatch.setattr(jwt_wsgi.locations, "HEADER_MEMO_SIZE", 4)
    finder = TokenFinder(Settings.build(secret_key="x" * 32, max_token_size=64))
    for i in range(10):
        found = finder.find({"HTTP_AUTHORIZATION": f"Bearer t{i}"}, ("headers",))
        assert found == FoundToken(f"t{i}", "headers")
        assert len(finder._header_memo) <= 4
    finder.find({"HTTP_AUTHORIZATION": "Bearer " + "a" * 100}, ("headers",))
    assert "Bearer " + "a" * 100 not in finder._header_memo
    with pytest.raises(NoTokenError):  # another scheme: no token, and nothing kept
        finder.find({"HTTP_AUTHORIZATION": "Basic abc"}, ("headers",))
    assert "Basic abc" not in finder._header_memo


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["HS256", "HS384", "HS512"]), st.binary(min_size=32, max_size=300),
       st.binary(max_size=400), st.integers(min_value=0, max_value=63))
def test_hmac_verifier_agrees_with_the_hmac_module(alg: str, key: bytes, msg: bytes,
                                                   flip: int) -> None:
    """Pads prepared once, keys longer than the hash block hashed first (RFC 2104)."""
    check = verifier(key, alg)
    good = hmac.digest(key, msg, "sha" + alg[2:])
    assert check.verify(msg, good)
    bad = bytearray(good)
    bad[flip % len(good)] ^= 1
    assert not check.verify(msg, bytes(bad))
    assert not check.verify(msg, good[:-1])
    assert not check.verify(msg + b".", good)
    assert not check.verify(msg, b"")
