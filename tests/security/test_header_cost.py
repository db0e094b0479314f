"""Header values an attacker writes cost time linear in their length (a DoS guard, with a
generous bound: timings belong in benchmarks, this only catches a quadratic regression)."""

from __future__ import annotations

import time

import pytest

from jwt_wsgi.proxy_request import unfold

SIZE = 256 * 1024


@pytest.mark.parametrize(("value", "expected_tail"), [
    pytest.param("a" + " " * SIZE + "x\r\n", "x ", id="blank-run-no-break-ends"),
    pytest.param("a" + " \t" * (SIZE // 2) + "x\n", "x ", id="blank-and-tab-run"),
    pytest.param(("a" + " " * 1024 + "b") * 255 + "\n", "b ", id="many-blank-runs"),
    pytest.param(" " * SIZE + "\r\nx", " x", id="blanks-then-break"),
    pytest.param("\t" * SIZE + "\x00", " ", id="tabs-then-nul"),
    pytest.param((" \r\n" * (SIZE // 3)) + "y", " y", id="many-folds"),
    pytest.param("a" + " \t" * (SIZE // 2) + "\n\n b", "a b", id="mixed-blanks"),
])
def test_unfolding_is_linear(value: str, expected_tail: str) -> None:
    started = time.process_time()
    folded = unfold(value)
    assert time.process_time() - started < 0.05
    assert folded.endswith(expected_tail) and "\r" not in folded and "\n" not in folded
    assert "\x00" not in folded


@pytest.mark.parametrize(("value", "folded"), [
    pytest.param("a\r\n b", "a b", id="obs-fold"),
    pytest.param("a  \r\n\t b", "a b", id="blanks-around-a-fold"),
    pytest.param("a\x00b", "a b", id="nul"),
    pytest.param("a\r\nX-Jwt-Role: root", "a X-Jwt-Role: root", id="smuggled-header"),
    pytest.param("plain value", "plain value", id="nothing-to-fold"),
])
def test_unfolding_keeps_its_meaning(value: str, folded: str) -> None:
    assert unfold(value) == folded


def test_a_refusal_log_line_stays_short(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from werkzeug.test import Client

    from jwt_wsgi import JWTManager, JWTMiddleware
    from tests.harness import SECRET, Recorder

    client = Client(JWTMiddleware(Recorder(), JWTManager(secret_key=SECRET),
                                  routes={"/*": "required"}))
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        assert client.get("/" + "a" * SIZE).status_code == 401
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert refused and all(len(line) < 400 for line in refused)
