"""The ``jwt-wsgi`` command: ``demo``, ``token``, ``decode`` and ``serve``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .cliargs import (
    SECRET_ENV,
    check_extra_claims,
    check_key_fits,
    claim_headers,
    extra_claims,
    lifetime_text,
    parse_expires,
    parse_route,
    show_warning,
)
from .errors import ConfigError, JWTWSGIError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .config import Config
    from .manager import JWTManager


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 refused token, 2 usage)."""
    parser = argparse.ArgumentParser(prog="jwt-wsgi",
                                     description="Protect WSGI apps with JSON Web Tokens.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="serve the demo app, protected, with a ready token")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--expires", metavar="DURATION",
                      help="lifetime of the printed token, such as 30s, 15m or 2h (try a "
                           "short one to see the expired answer)")

    token = commands.add_parser("token", help="mint a token")
    token.add_argument("identity", help="the subject (sub claim)")
    _key_arguments(token)
    token.add_argument("--fresh", action="store_true", help="mark the token fresh")
    token.add_argument("--refresh", action="store_true", help="mint a refresh token")
    token.add_argument("--expires", help="lifetime such as 900, 15m, 2h, 30d, or never")
    token.add_argument("--claim", action="append", default=[], metavar="NAME=VALUE",
                       help="an extra claim; VALUE is read as JSON when it parses "
                            "(42, true, [\"a\"]), as a string otherwise; repeatable")
    token.add_argument("--claims", default="{}", metavar="JSON",
                       help="extra claims as one JSON object")

    decode = commands.add_parser("decode", help="show a token's header and claims; verify "
                                                "it when a key is given")
    decode.add_argument("token", help="the token, or - to read it from standard input")
    _key_arguments(decode)

    serve = commands.add_parser("serve", help="protect a WSGI app (MODULE:APP) or an HTTP "
                                              "service (--upstream URL) and serve it")
    serve.add_argument("target", nargs="?", metavar="MODULE:APP",
                       help="the WSGI app to protect, such as myproject.wsgi:application")
    serve.add_argument("--config", metavar="FILE",
                       help="TOML file with [jwt], [routes], [middleware] and [proxy] tables; "
                            f"without it the HMAC secret comes from ${SECRET_ENV}")
    serve.add_argument("--route", action="append", default=[], metavar="PATTERN=POLICY",
                       help="a routes-table entry, such as '/api/*=required' or "
                            "'POST /login=public'; repeatable; adds to (or replaces) the "
                            "config file's [routes]")
    serve.add_argument("--default", metavar="POLICY",
                       help="the policy where no route matches (public unless set; "
                            "'required' denies by default)")
    serve.add_argument("--upstream", metavar="URL",
                       help="protect this HTTP service: forward requests that pass to it")
    serve.add_argument("--claim-header", action="append", default=[], metavar="CLAIM=HEADER",
                       help="with --upstream: send this claim as this request header "
                            "(replaces [proxy] claim_headers; default sub=X-Jwt-Sub)")
    serve.add_argument("--forward-auth", action="store_true",
                       help="serve the forward auth service that nginx auth_request, Traefik, "
                            "Caddy or Envoy ask before forwarding ([forward_auth] table)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument("--server", choices=("auto", "waitress", "werkzeug"), default="auto",
                       help="auto: waitress when installed, else werkzeug's development server")

    from . import keytool

    keytool.add_commands(commands)

    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = show_warning  # a plain line, not a Python source line
        try:
            if args.command == "keys":
                return keytool.run(args)
            if args.command == "demo":
                return _demo(args.host, args.port, args.expires)
            if args.command == "token":
                return _token(args)
            if args.command == "serve":
                return _serve(args)
            return _decode(args)
        except ConfigError as exc:
            print(f"jwt-wsgi: {exc}", file=sys.stderr)
            return 2


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algorithm", default="HS256")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key-env", "--secret-env", dest="key_env", metavar="VAR",
                      help="read the HMAC secret or PEM key from the environment variable VAR")
    keys.add_argument("--key-file", metavar="PATH", help="read the HMAC secret or PEM key from a file")
    keys.add_argument("--secret", metavar="SECRET",
                      help="the HMAC secret itself (stays in your shell history: prefer "
                           "--key-env or --key-file)")
    keys.add_argument("--config", metavar="FILE", help="take the key and settings from a TOML file")
    parser.epilog = (f"Without a key option, the HMAC secret in ${SECRET_ENV} is used when "
                     "it is set.")


def _manager(args: argparse.Namespace, signing: bool) -> JWTManager | None:
    """The manager the key options describe, or None when no key was given."""
    from .manager import JWTManager

    if args.config:
        from .config import load_config

        return load_config(args.config).manager
    material: str | None = None
    source = ""
    if args.key_env:
        source = f"${args.key_env}"
        material = os.environ.get(args.key_env)
        if not material:
            raise ConfigError(f"environment variable {args.key_env} is empty or unset")
    elif args.key_file:
        source = f"--key-file {args.key_file}"
        try:
            with open(args.key_file, encoding="utf-8") as handle:
                material = handle.read().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {args.key_file} ({exc.strerror})") from None
    elif args.secret:
        print("jwt-wsgi: warning: a secret on the command line is saved in your shell history "
              "and visible to other users in the process list; use --key-env or --key-file",
              file=sys.stderr)
        material, source = args.secret, "--secret"
    elif os.environ.get(SECRET_ENV):
        material, source = os.environ[SECRET_ENV], f"${SECRET_ENV}"
    if material is None:
        return None
    check_key_fits(args.algorithm, material, source)
    if args.algorithm.startswith("HS"):
        return JWTManager(algorithm=args.algorithm, secret_key=material)
    if signing or "PRIVATE KEY" in material:
        return JWTManager(algorithm=args.algorithm, private_key=material)
    return JWTManager(algorithm=args.algorithm, public_key=material)


def _token(args: argparse.Namespace) -> int:
    jwt = _manager(args, signing=True)
    if jwt is None:
        raise ConfigError("give the key with --key-env VAR, --key-file PATH or --config FILE "
                          f"(or set ${SECRET_ENV})")
    claims = extra_claims(args.claims, args.claim)
    check_extra_claims(claims, jwt.settings.identity_claim)
    expires = parse_expires(args.expires)
    try:
        if args.refresh:
            if args.fresh:
                raise ConfigError("a refresh token is never fresh: drop --fresh or --refresh")
            print(jwt.create_refresh_token(args.identity, expires_delta=expires,
                                           additional_claims=claims))
        else:
            print(jwt.create_access_token(args.identity, fresh=args.fresh, expires_delta=expires,
                                          additional_claims=claims))
    except (TypeError, ValueError) as exc:  # ValueError: over max_token_lifetime
        raise ConfigError(str(exc)) from None
    return 0


def _decode(args: argparse.Namespace) -> int:
    from .tokens import b64decode, parse_json_object

    raw = sys.stdin.readline() if args.token == "-" else args.token  # noqa: S105
    token = raw.strip()
    try:
        header_b64, payload_b64, _ = token.split(".")
        header = parse_json_object(b64decode(header_b64))
        claims = parse_json_object(b64decode(payload_b64))
    except ValueError:
        print("jwt-wsgi: not a JWS compact token (three base64url parts with JSON objects)",
              file=sys.stderr)
        return 1
    jwt = _manager(args, signing=False)
    print(json.dumps({"header": header, "claims": claims}, indent=2, sort_keys=True))
    if jwt is None:
        print("NOT VERIFIED: no key given, so the signature and claims above were not checked "
              f"(use --key-env, --key-file or --config, or set ${SECRET_ENV})", file=sys.stderr)
        return 0
    try:
        jwt.decode_token(token)
    except JWTWSGIError as exc:
        print(f"NOT VERIFIED: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    print("verified: signature and claims are valid", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = _serve_config(args)
    if args.forward_auth:
        if args.target or args.upstream or args.claim_header:
            raise ConfigError("--forward-auth serves the auth service alone: drop MODULE:APP, "
                              "--upstream and --claim-header ([forward_auth] claim_headers)")
        auth = config.forward_auth_app()
        return _run(auth, args.host, args.port, args.server,
                    f"forward auth (claims as {_describe(auth.claim_headers)})")
    if args.target and args.upstream:
        raise ConfigError("give either MODULE:APP or --upstream URL, not both")
    if args.target:
        if args.claim_header:
            raise ConfigError("--claim-header goes with --upstream")
        inner: WSGIApplication = _import_app(args.target)
        what = args.target
    elif args.upstream or config.proxy.get("upstream"):
        if args.claim_header:
            config.proxy["claim_headers"] = claim_headers(args.claim_header)
        proxy = config.reverse_proxy(args.upstream)
        inner, what = proxy, f"{proxy.upstream} (claims as {_describe(proxy.claim_headers)})"
    else:
        raise ConfigError("give MODULE:APP to protect a WSGI app, or --upstream URL "
                          "(or upstream in the [proxy] table) to protect an HTTP service")
    return _run(config.wrap(inner), args.host, args.port, args.server, what)


def _serve_config(args: argparse.Namespace) -> Config:
    """The config file, or ``$JWT_SECRET_KEY`` alone, with ``--route``/``--default`` on top."""
    from .config import build_config, load_config

    if args.config:
        config = load_config(args.config)
    elif os.environ.get(SECRET_ENV):
        config = build_config({"secret_key_env": SECRET_ENV}, {}, {},
                              source=f"${SECRET_ENV}")
    else:
        raise ConfigError(f"give --config FILE, or set ${SECRET_ENV} to an HMAC secret and "
                          "name the routes with --route PATTERN=POLICY")
    if not (args.route or args.default):
        return config
    routes = dict(config.routes)
    routes.update(parse_route(item) for item in args.route)
    config.routes = routes
    if args.default:
        config.default = args.default
    try:
        config.wrap(_no_app)  # every route and the default checked now, not per request
    except ConfigError as exc:
        raise ConfigError(f"--route/--default: {exc}") from None
    return config


def _no_app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover
    return []


def _describe(headers: dict[str, str]) -> str:
    return ", ".join(f"{claim} -> {header}" for claim, header in headers.items()) or "none"


def _import_app(target: str) -> WSGIApplication:
    """``package.module:attribute`` -> the WSGI callable (the current directory is importable)."""
    import importlib

    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{target!r}: write MODULE:APP, such as myproject.wsgi:application")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{target} is not a WSGI callable")
    return obj  # type: ignore[no-any-return]


def _run(app: WSGIApplication, host: str, port: int, server: str, what: str) -> int:
    """Serve until Ctrl-C or SIGTERM: waitress when installed (or asked for), else werkzeug."""
    if server in ("auto", "waitress"):
        try:
            import waitress
        except ImportError:
            if server == "waitress":
                raise ConfigError("waitress is not installed: pip install waitress") from None
        else:
            wsgi_server = waitress.create_server(app, host=host, port=port)
            print(f"jwt-wsgi: serving {what} on http://{host}:{wsgi_server.effective_port} "
                  "with waitress (Ctrl-C to stop)", flush=True)
            return _until_stopped(wsgi_server.run, wsgi_server.close, "jwt-wsgi: stopped")
        print("jwt-wsgi: warning: waitress is not installed; using werkzeug's development "
              "server, which is not meant for production (pip install waitress)", file=sys.stderr)
    from werkzeug.serving import make_server

    dev_server = make_server(host, port, app, threaded=True)
    print(f"jwt-wsgi: serving {what} on http://{host}:{dev_server.server_port} with werkzeug "
          "(Ctrl-C to stop)", flush=True)
    return _until_stopped(dev_server.serve_forever, dev_server.server_close, "jwt-wsgi: stopped",
                          dev_server.shutdown)


def _until_stopped(serve: Callable[[], object], close: Callable[[], object], farewell: str,
                   shutdown: Callable[[], object] | None = None) -> int:
    """Run a server loop until Ctrl-C or SIGTERM, close it, say so, exit 0.

    :param shutdown: for a ``serve_forever`` loop, its ``shutdown``: the signals then ask
        the loop to end (from a thread, as ``shutdown`` waits for it) instead of raising
        ``KeyboardInterrupt`` wherever the main thread happens to be, which can be inside
        a weakref callback that swallows it and leaves the server running.
    """
    import signal
    import threading

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    def request_shutdown(signum: int, frame: Any) -> None:
        assert shutdown is not None
        threading.Thread(target=shutdown, name="jwt-wsgi-shutdown", daemon=True).start()

    handler = interrupt if shutdown is None else request_shutdown
    signal.signal(signal.SIGTERM, handler)
    if shutdown is not None:
        signal.signal(signal.SIGINT, handler)
    try:
        serve()
    except KeyboardInterrupt:
        pass
    finally:
        close()
    print(farewell, flush=True)
    return 0


def _demo(host: str, port: int, expires_text: str | None = None) -> int:
    from werkzeug.serving import make_server

    from .demo import make_demo

    expires = parse_expires(expires_text)
    secret = os.environ.get(SECRET_ENV)
    if secret:
        check_key_fits("HS256", secret, f"${SECRET_ENV}")
    app, jwt = make_demo(secret)
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    token = jwt.create_access_token("alice", fresh=True, additional_claims={"role": "admin"},
                                    expires_delta=expires)
    lifetime = lifetime_text(jwt.decode_token(token, allow_expired=True))
    if secret:
        keys = (f"Signed with the secret in ${SECRET_ENV}: mint others for this demo with\n"
                f"  jwt-wsgi token bob --claim role=user --expires 30s")
    else:
        keys = (f"Signed with a random secret, new at each start. To mint your own tokens, set\n"
                f"${SECRET_ENV} for both commands:\n"
                f"  export {SECRET_ENV}=$(python -c 'import secrets; "
                f"print(secrets.token_urlsafe(48))')\n"
                f"  jwt-wsgi demo --expires 30s     # then: jwt-wsgi token bob --claim role=user")
    print(f"""jwt-wsgi demo: serving a protected app on {base}  (Ctrl-C to stop)

A ready access token for alice (fresh, role=admin, {lifetime}):

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
See the expired answer: start with --expires 5s and wait.
{keys}
""", flush=True)
    return _until_stopped(server.serve_forever, server.server_close, "jwt-wsgi demo: stopped",
                          server.shutdown)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
