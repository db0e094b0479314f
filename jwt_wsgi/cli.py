"""The ``jwt-wsgi`` command: ``demo``, ``token`` and ``decode``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError, JWTWSGIError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="jwt-wsgi",
                                     description="Protect WSGI apps with JSON Web Tokens.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="serve the demo app, protected, with a ready token")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)

    token = commands.add_parser("token", help="mint a token")
    token.add_argument("identity", help="the subject (sub claim)")
    _key_arguments(token)
    token.add_argument("--fresh", action="store_true", help="mark the token fresh")
    token.add_argument("--refresh", action="store_true", help="mint a refresh token")
    token.add_argument("--expires", help="lifetime such as 900, 15m, 12h, 30d")
    token.add_argument("--claims", default="{}", help="extra claims as a JSON object")

    decode = commands.add_parser("decode", help="show a token's header and claims")
    decode.add_argument("token", help="the token, or - to read it from standard input")
    _key_arguments(decode)

    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args.host, args.port)
        if args.command == "token":
            return _token(args)
        return _decode(args)
    except ConfigError as exc:
        print(f"jwt-wsgi: {exc}", file=sys.stderr)
        return 2


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algorithm", default="HS256")
    parser.add_argument("--secret-env", metavar="VAR", help="read the HMAC secret from $VAR")
    parser.add_argument("--key-file", metavar="PATH",
                        help="read the secret or PEM key from a file")


def _manager_options(args: argparse.Namespace, signing: bool) -> dict[str, Any] | None:
    material: str | None = None
    if args.secret_env:
        material = os.environ.get(args.secret_env)
        if not material:
            raise ConfigError(f"environment variable {args.secret_env} is empty or unset")
    elif args.key_file:
        with open(args.key_file, encoding="utf-8") as handle:
            material = handle.read().strip()
    if material is None:
        return None
    if args.algorithm.startswith("HS"):
        return {"algorithm": args.algorithm, "secret_key": material}
    if signing or "PRIVATE KEY" in material:
        return {"algorithm": args.algorithm, "private_key": material}
    return {"algorithm": args.algorithm, "public_key": material}


def _token(args: argparse.Namespace) -> int:
    from .manager import JWTManager
    from .settings import _to_expiry

    options = _manager_options(args, signing=True)
    if options is None:
        raise ConfigError("give the key with --secret-env VAR or --key-file PATH")
    jwt = JWTManager(**options)
    try:
        claims = json.loads(args.claims)
    except ValueError:
        raise ConfigError("--claims must be a JSON object") from None
    if not isinstance(claims, dict):
        raise ConfigError("--claims must be a JSON object")
    expires = _to_expiry("--expires", args.expires) if args.expires else None
    if args.refresh:
        print(jwt.create_refresh_token(args.identity, expires_delta=expires or None,
                                       additional_claims=claims))
    else:
        print(jwt.create_access_token(args.identity, fresh=args.fresh,
                                      expires_delta=expires or None, additional_claims=claims))
    return 0


def _decode(args: argparse.Namespace) -> int:
    from .manager import JWTManager
    from .tokens import b64decode, parse_json_object

    raw = sys.stdin.readline() if args.token == "-" else args.token  # noqa: S105
    token = raw.strip()
    try:
        header_b64, payload_b64, _ = token.split(".")
        header = parse_json_object(b64decode(header_b64))
        claims = parse_json_object(b64decode(payload_b64))
    except ValueError:
        print("jwt-wsgi: not a JWS compact token", file=sys.stderr)
        return 1
    print(json.dumps({"header": header, "claims": claims}, indent=2, sort_keys=True))
    options = _manager_options(args, signing=False)
    if options is None:
        print("NOT VERIFIED: no key given (use --secret-env or --key-file)", file=sys.stderr)
        return 0
    try:
        JWTManager(**options).decode_token(token)
    except JWTWSGIError as exc:
        print(f"NOT VERIFIED: {exc.message}", file=sys.stderr)
        return 1
    print("verified", file=sys.stderr)
    return 0


def _demo(host: str, port: int) -> int:
    from werkzeug.serving import make_server

    from .demo import make_demo

    app, jwt = make_demo()
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    token = jwt.create_access_token("alice", fresh=True, additional_claims={"role": "admin"})
    print(f"""jwt-wsgi demo: serving a protected app on {base}  (Ctrl-C to stop)

A ready access token for alice (fresh, role=admin, valid 15 minutes):

  TOKEN={token}

Without a token (401):
  curl -i {base}/protected
With the token (200):
  curl -i -H "Authorization: Bearer $TOKEN" {base}/protected
A fresh admin-only route (200 for alice):
  curl -i -H "Authorization: Bearer $TOKEN" {base}/admin/stats
Log in for new tokens:
  curl -i -X POST -H 'Content-Type: application/json' \\
       -d '{{"username": "alice", "password": "wonderland"}}' {base}/login
""", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("jwt-wsgi demo: stopped", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
