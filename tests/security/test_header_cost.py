"""What a client writes costs bounded work and bounded log lines, whatever its size (the
regexes over client and upstream text are in test_regex_cost.py)."""

from __future__ import annotations

import pytest

SIZE = 256 * 1024


def test_a_refusal_log_line_stays_short(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from werkzeug.test import Client

    from jwt_wsgi import JWTManager, JWTMiddleware
    from tests.harness import SECRET, Recorder

    client = Client(JWTMiddleware(Recorder(), JWTManager(secret_key=SECRET),
                                  routes={"/*": "required"}, max_path_size=SIZE + 1))
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        assert client.get("/" + "a" * SIZE).status_code == 401
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert refused and all(len(line) < 400 for line in refused)
