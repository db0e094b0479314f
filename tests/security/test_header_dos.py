"""Every regex that reads what a client or an upstream wrote must be linear in its input.

``unfold`` (the reverse proxy's obs-fold handling, for request headers and for upstream
response headers) used ``[ \\t]*[\\r\\n\\x00][\\r\\n\\x00 \\t]*``: tried from every blank of
a long run that no line break ends, it backtracked quadratically (8 KiB of blanks took
0.3 s of CPU, 64 KiB about 30 s). The bound is a generous regression guard, as in
``test_path_dos.py``: the linear code answers 256 KiB in about a millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from benchmarks.path_dos import cpu_time
from jwt_wsgi import forward_auth, handlers, jwks, readings, tokens
from jwt_wsgi.conversions import HTTP_TOKEN
from jwt_wsgi.proxy_request import PLAIN_VALUE, has_dot_segment, unfold

BOUND = 0.050  # seconds of CPU for 256 KiB
SIZE = 256 * 1024
# One long run of blanks is 16 KiB (1 s of CPU before the fix, so a regression fails in
# seconds, not half an hour); 255 runs of 1 KiB make the 256 KiB case.
BLANKS = " " * (SIZE // 16)
TABS = " \t" * (SIZE // 32)


@pytest.mark.parametrize(("call", "text"), [
    pytest.param(unfold, "a" + BLANKS + "x\r\n", id="unfold-blanks-then-text-then-break"),
    pytest.param(unfold, "a" + TABS + "x\n", id="unfold-blank-and-tab-run"),
    pytest.param(unfold, ("a" + " " * 1024 + "b") * 255 + "\n", id="unfold-many-blank-runs"),
    pytest.param(unfold, "a" + BLANKS + "\n", id="unfold-blanks-then-break"),
    pytest.param(unfold, " \r\n" * (SIZE // 3), id="unfold-folds"),
    pytest.param(unfold, "\x00" * SIZE, id="unfold-nuls"),
    # not a regex that backtracks, but several readings of each decoding layer: linear, at
    # about 0.3 microseconds a byte, so measured at 32 KiB (far past any server's limit)
    pytest.param(has_dot_segment, "/%252e" * (SIZE // 48), id="dot-segment-encoded"),
    pytest.param(has_dot_segment, "/%25" * (SIZE // 32), id="dot-segment-percent-runs"),
    pytest.param(has_dot_segment, "/..x;" * (SIZE // 40), id="dot-segment-near-misses"),
    pytest.param(PLAIN_VALUE.fullmatch, "a" * SIZE + "\n", id="plain-value"),
    pytest.param(HTTP_TOKEN.fullmatch, "a" * SIZE + " ", id="http-token"),
    pytest.param(handlers._HEADER_VALUE_OK.fullmatch, "a" * SIZE + "\n", id="header-value"),
    pytest.param(readings._ABSOLUTE_FORM.match, "x" * SIZE, id="absolute-form-no-scheme"),
    pytest.param(readings._ABSOLUTE_FORM.match, "x://" + "a" * SIZE, id="absolute-form"),
    pytest.param(forward_auth._ABSOLUTE_FORM.match, "x" * SIZE, id="forwarded-uri-no-scheme"),
    pytest.param(readings._DOT_PARAM.search, "/.." * (SIZE // 3), id="dot-param"),
    pytest.param(tokens._COMPACT.fullmatch, "a" * SIZE, id="token-no-dots"),
    pytest.param(tokens._COMPACT.fullmatch, "a." * (SIZE // 2), id="token-many-dots"),
    pytest.param(jwks._MAX_AGE.search, ", " * (SIZE // 2), id="cache-control-commas"),
    pytest.param(jwks._MAX_AGE.search, "max-age=" * (SIZE // 8), id="cache-control-max-ages"),
    pytest.param(jwks._MAX_AGE.search, "max-age=\"" + "1" * SIZE + " " * SIZE,
                 id="cache-control-digits-blanks"),
    pytest.param(jwks._NO_CACHE.search, ",  " * (SIZE // 3) + "no-cachex",
                 id="cache-control-no-cache"),
])
def test_a_regex_over_client_or_upstream_text_is_linear(
        call: Callable[[str], object], text: str) -> None:
    assert cpu_time(lambda: call(text)) < BOUND


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("a\r\n b", "a b", id="obs-fold"),
    pytest.param("a \t\r\n \t b", "a b", id="blanks-around-a-fold"),
    pytest.param("a\r\nX-Jwt-Role: root", "a X-Jwt-Role: root", id="injected-line"),
    pytest.param("a \n \x00 \r b", "a b", id="mixed-run"),
    pytest.param("a  b\n", "a  b ", id="blanks-kept-away-from-a-break"),
    pytest.param("  \n", " ", id="only-blanks-and-a-break"),
    pytest.param("a\nb\nc", "a b c", id="two-breaks"),
    pytest.param("plain  value ", "plain  value ", id="no-break"),
])
def test_unfold_still_reads_as_rfc9112_has_a_proxy_forward(value: str, expected: str) -> None:
    assert unfold(value) == expected
    old = re.sub(r"[ \t]*[\r\n\x00][\r\n\x00 \t]*", " ", value)
    assert unfold(value) == old
