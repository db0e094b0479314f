"""A PasteDeploy filter that does nothing but sit between two others (for the tests and
as the shape of any real one: gzip, request logging, sessions)."""

from __future__ import annotations

from typing import Any


def filter_factory(global_conf: Any, **local_conf: Any) -> Any:
    def wrap(app: Any) -> Any:
        def between(environ: Any, start_response: Any) -> Any:
            environ["paste_between.seen"] = True
            return app(environ, start_response)
        return between
    return wrap
