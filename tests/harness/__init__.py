"""The one test harness: token builders, apps, clients, servers and clocks.

``tests/conftest.py`` turns these into fixtures; test files import the plain helpers from
here. Real parts with more machinery live in submodules: :mod:`tests.harness.redis` (Redis
server, Sentinel set, Cluster), :mod:`tests.harness.proxies` (nginx, Caddy),
:mod:`tests.harness.rawserver` (a TCP server that answers scripted bytes).
"""

from __future__ import annotations

from typing import Any

from .apps import Answer, Clock, Recorder, bearer_call, call, manager, wrap
from .servers import (
    HTTPServerThread,
    QuietHandler,
    Reply,
    Seen,
    Upstream,
    ask,
    fetch,
    free_port,
    raw_request,
    upstream,
    wait_for_port,
    wsgi_server,
)
from .tokens import NOW, SECRET, Keys, b64, bearer, forge, keys, segment, sign, sign_hs256

__all__ = [
    "NOW", "SECRET", "Answer", "Clock", "HTTPServerThread", "Keys", "QuietHandler", "Recorder",
    "Reply", "Seen", "Upstream", "ask", "b64", "bearer", "bearer_call", "call", "fetch", "forge", "free_port",
    "keys", "manager", "need", "raw_request", "segment", "sign", "sign_hs256", "upstream",
    "wait_for_port", "wrap", "wsgi_server",
]


def need(module: str) -> Any:
    """Import a test-extras package: skipped where it is missing, but never under CI."""
    import importlib
    import os

    import pytest

    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is in the test extras "
                                              "(pip install '.[test]')")
