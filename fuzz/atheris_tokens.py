"""Coverage-guided fuzzing of the token parser and the middleware with atheris.

Run it as long as you like (it stops at the first finding and prints the input)::

    pip install atheris
    python fuzz/atheris_tokens.py -max_total_time=600          # ten minutes
    python fuzz/atheris_tokens.py -runs=20000 fuzz/corpus/     # keep a corpus

Invariants checked on every input: verifying a token returns claims or raises one of
jwt_wsgi's refusals (never another exception); a request carrying it is never a 500, never
reaches the app unless the token is valid, and never echoes the token in the body.
CI runs the hypothesis fuzz in tests/security/test_fuzz.py instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from jwt_wsgi import JWTManager, JWTMiddleware
    from jwt_wsgi.errors import JWTWSGIError

SECRET = "fuzz-secret-" + "s" * 40
NOW = 1_800_000_000
JWT = JWTManager(secret_key=SECRET, token_location=["headers", "cookies", "query_string", "json"],
                 cookie_csrf_protect=False, clock=lambda: float(NOW))
VALID = JWT.create_access_token("alice")
REACHED: list[dict[str, Any]] = []


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    REACHED.append(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


MIDDLEWARE = JWTMiddleware(app, JWT, routes={"/public": "public"}, default="required")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}"
    digest = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def make_token(fdp: atheris.FuzzedDataProvider) -> str:
    shape = fdp.ConsumeIntInRange(0, 3)
    if shape == 0:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 400))
    if shape == 1:  # correctly signed, arbitrary header and payload bytes
        header = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120))
        return signed(header, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300)))
    if shape == 2:  # correctly signed, a valid header, a mutated payload text
        payload = json.dumps({"sub": "alice", "iat": NOW, "exp": NOW + 60, "type": "access"})
        cut = fdp.ConsumeIntInRange(0, len(payload))
        payload = payload[:cut] + fdp.ConsumeUnicodeNoSurrogates(20) + payload[cut:]
        return signed(b'{"alg":"HS256","typ":"JWT"}', payload.encode("utf-8", "surrogatepass"))
    token = VALID  # a valid token with one character changed
    position = fdp.ConsumeIntInRange(0, len(token) - 1)
    return token[:position] + fdp.ConsumeUnicodeNoSurrogates(1) + token[position + 1:]


def request(token: str, where: int, path: str) -> tuple[str, bytes]:
    body = b""
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "",
                               "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                               "SERVER_PROTOCOL": "HTTP/1.1"}
    if where == 0:
        environ["HTTP_AUTHORIZATION"] = "Bearer " + token
    elif where == 1:
        environ["HTTP_COOKIE"] = "access_token_cookie=" + token
    elif where == 2:
        environ["QUERY_STRING"] = "jwt=" + token
    else:
        body = json.dumps({"access_token": token}).encode()
        environ["CONTENT_TYPE"] = "application/json"
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    statuses: list[str] = []
    chunks = MIDDLEWARE(environ, lambda status, headers, exc_info=None: statuses.append(status))
    return statuses[0], b"".join(chunks)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    token = make_token(fdp)
    valid = False
    try:
        JWT.verify(token)
        valid = True
    except JWTWSGIError:
        pass
    where = fdp.ConsumeIntInRange(0, 3)
    path = fdp.PickValueInList(["/", "/public", "/admin", "/public/../admin", "/%61dmin"])
    REACHED.clear()
    try:
        status, body = request(token, where, path)
    except UnicodeEncodeError:
        return  # not a request a server could deliver (text outside latin-1 in a header)
    if status.startswith("500"):
        raise AssertionError(f"500 for {token!r}")
    if REACHED and path != "/public" and not valid:
        raise AssertionError(f"app reached without a valid token: {token!r}")
    if len(token) >= 16 and token.encode("utf-8", "surrogatepass") in body:
        raise AssertionError(f"token echoed in the body: {token!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
