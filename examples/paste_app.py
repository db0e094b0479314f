"""A plain WSGI app for the PasteDeploy pipeline in pipeline.ini (``app_factory``)."""

import json
from collections.abc import Iterable
from typing import Any

from jwt_wsgi import get_jwt, get_jwt_identity


def app_factory(global_conf: dict[str, Any], **settings: str) -> Any:
    greeting = settings.get("greeting", "hello")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = json.dumps({"greeting": greeting, "path": environ.get("PATH_INFO"),
                           "user": get_jwt_identity(environ),
                           "role": get_jwt(environ).get("role")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app
