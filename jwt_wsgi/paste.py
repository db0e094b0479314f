"""PasteDeploy: the ``jwt`` filter and the ``proxy`` app, configured from an INI file.

Entry points (``setup.cfg``): ``egg:jwt_wsgi#jwt`` (``paste.filter_factory``) and
``egg:jwt_wsgi#proxy`` (``paste.app_factory``). The filter takes the keys of
:mod:`jwt_wsgi.config`, flattened into one INI section::

    [filter:jwt]
    use = egg:jwt_wsgi#jwt
    jwt_secret_key_env = JWT_SECRET_KEY   # any JWT_*/jwt_* setting, strings converted
    jwt_access_token_expires = 15m
    default = required                    # middleware options: default, cors_preflight,
    remote_user = true                    #   remote_user, max_path_size
    blocklist_redis_url = redis://127.0.0.1:6379/0   # shared revocations (optional; also
                                                      #   blocklist_prefix, blocklist_timeout)
    routes =
        POST /login = public
        /api/* = required
        POST,DELETE /admin/* = fresh
        /users/<int:user_id> = {"require": "required", "scopes": ["users:read"]}

Each ``routes`` line is ``[METHODS ]PATTERN = POLICY``: the first ``=`` outside ``<...>``
ends the pattern; the policy is a name or a JSON object. Blank lines and lines starting
with ``#`` or ``;`` are skipped.

The ``forward_auth`` app (``egg:jwt_wsgi#forward_auth``, :class:`~jwt_wsgi.ForwardAuth`)
takes the keys of the ``jwt`` filter and ``trusted_proxies`` (CIDRs separated by spaces or
commas), ``claim_headers`` (lines of ``claim = Header-Name``), ``form`` and ``path_prefix``.

The proxy app takes ``upstream``, ``claim_headers`` (lines of ``claim = Header-Name``),
``forward_authorization`` and ``timeout``. With ``forward_authorization = false`` it must
know where the token is carried (header, cookie and parameter names) to remove it: it
reads the ``jwt_*`` settings of ``[DEFAULT]`` and of its own section (the filter reads
``[DEFAULT]`` too, so settings written there once serve both), and it also hides the
names of the ``jwt`` filter in front, through any filters between them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import MIDDLEWARE_OPTIONS, _no_app, build_config
from .errors import ConfigError
from .middleware import JWTMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .forward_auth import ForwardAuth
    from .proxy import ReverseProxy


def filter_factory(global_conf: Mapping[str, Any],
                   **local_conf: str) -> Callable[[WSGIApplication], JWTMiddleware]:
    """PasteDeploy ``paste.filter_factory``: returns ``wrap(app) -> JWTMiddleware``.

    The settings are validated here, when the INI file is loaded, not on the first request.
    """
    source = _source(global_conf)
    # [DEFAULT]'s jwt_* settings first (shared with the proxy app), the section's over them
    jwt: dict[str, Any] = _jwt_keys(global_conf)
    middleware: dict[str, Any] = {}
    routes: dict[str, Any] = {}
    blocklist: dict[str, Any] = {}
    for key, value in local_conf.items():
        if key.upper().startswith("JWT_"):
            jwt[key] = value
        elif key.startswith("blocklist_"):
            blocklist[key.removeprefix("blocklist_")] = value
        elif key in MIDDLEWARE_OPTIONS:
            middleware[key] = _json_or_text(value) if key == "default" else value
        elif key == "routes":
            routes = parse_routes(value, source)
        else:
            raise ConfigError(f"{source}: unknown key {key!r} in the jwt filter; use jwt_* "
                              f"settings, routes, blocklist_*, {', '.join(MIDDLEWARE_OPTIONS)}")
    lines = _ini_lines(global_conf)

    def where(table: str, key: str) -> str:
        name = _ini_name(table, key)
        line = _ini_line(lines, key if table == "routes" else name, table == "routes")
        return f"{source}, line {line}: {name}" if line else f"{source}: {name}"

    config = build_config(jwt, routes, middleware, None, blocklist, source=source,
                          base_dir=global_conf.get("here") or ".", where=where)
    config.wrap(_no_app)  # a filter wraps: refuse now what wrapping would refuse

    def wrap(app: WSGIApplication) -> JWTMiddleware:
        return config.wrap(app)

    return wrap


def proxy_app_factory(global_conf: Mapping[str, Any], **local_conf: str) -> ReverseProxy:
    """PasteDeploy ``paste.app_factory`` for :class:`~jwt_wsgi.proxy.ReverseProxy`."""
    from .config import PROXY_OPTIONS, _proxy_options

    source = _source(global_conf)
    options: dict[str, Any] = {}
    names = {**_jwt_keys(global_conf), **_jwt_keys(local_conf)}
    for key, value in local_conf.items():
        if key.upper().startswith("JWT_"):
            continue
        if key not in PROXY_OPTIONS:
            raise ConfigError(f"{source}: unknown key {key!r} in the proxy app; use "
                              + ", ".join(PROXY_OPTIONS))
        options[key] = _pairs(value, source, key) if key == "claim_headers" else value
    if not options.get("upstream"):
        raise ConfigError(f"{source}: the proxy app needs upstream = http://host:port")
    from .proxy import ReverseProxy

    settings = None
    if names:
        from .settings import Settings

        try:
            settings = Settings.from_mapping({key.upper(): value for key, value in names.items()
                                              if key.upper() in TOKEN_NAME_KEYS})
        except ConfigError as exc:
            raise ConfigError(f"{source}: the proxy app's jwt_* settings: {exc}") from None
    return ReverseProxy(**_proxy_options(options, lambda table, key: f"{source}: {key}"),
                        settings=settings)


#: The settings that say where a token is carried, which the proxy app reads to remove it.
TOKEN_NAME_KEYS = frozenset({
    "JWT_HEADER_NAME", "JWT_TOKEN_LOCATION", "JWT_QUERY_STRING_NAME", "JWT_ACCESS_COOKIE_NAME",
    "JWT_REFRESH_COOKIE_NAME", "JWT_ACCESS_CSRF_COOKIE_NAME", "JWT_REFRESH_CSRF_COOKIE_NAME",
    "JWT_MAX_BODY_SIZE", "JWT_ERROR_MESSAGE_KEY"})


def _jwt_keys(conf: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in conf.items()
            if isinstance(key, str) and key.upper().startswith("JWT_")}


def forward_auth_app_factory(global_conf: Mapping[str, Any], **local_conf: str) -> ForwardAuth:
    """PasteDeploy ``paste.app_factory`` for :class:`~jwt_wsgi.ForwardAuth`, validated here."""
    from .config import FORWARD_AUTH_OPTIONS

    source = _source(global_conf)
    forward_auth: dict[str, Any] = {}
    rest: dict[str, str] = {}
    for key, value in local_conf.items():
        if key == "claim_headers":
            forward_auth[key] = _pairs(value, source, key)
        elif key in FORWARD_AUTH_OPTIONS:
            forward_auth[key] = value.strip()
        else:
            rest[key] = value
    jwt = {key: value for key, value in rest.items() if key.upper().startswith("JWT_")}
    blocklist = {key.removeprefix("blocklist_"): value for key, value in rest.items()
                 if key.startswith("blocklist_")}
    middleware = {key: _json_or_text(value) if key == "default" else value
                  for key, value in rest.items() if key in MIDDLEWARE_OPTIONS}
    routes = parse_routes(rest["routes"], source) if "routes" in rest else {}
    unknown = set(rest) - {*jwt, *(f"blocklist_{k}" for k in blocklist), *middleware, "routes"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r} in the forward_auth "
                          f"app; use jwt_* settings, routes, blocklist_*, "
                          f"{', '.join((*MIDDLEWARE_OPTIONS, *FORWARD_AUTH_OPTIONS))}")
    config = build_config(jwt, routes, middleware, None, blocklist, forward_auth or
                          {"trusted_proxies": ["127.0.0.1/32"]}, source=source,
                          base_dir=global_conf.get("here") or ".",
                          where=lambda table, key: f"{source}: {key}")
    return config.forward_auth_app()


def parse_routes(text: str, source: str = "<ini>") -> dict[str, Any]:
    """Read the INI ``routes`` value: one ``[METHODS ]PATTERN = POLICY`` a line."""
    routes: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        split = _split_at_equals(line)
        if split is None:
            raise ConfigError(f"{source}: routes line {line!r}: write PATTERN = POLICY")
        pattern, policy = split
        if not pattern or not policy:
            raise ConfigError(f"{source}: routes line {line!r}: write PATTERN = POLICY")
        if pattern in routes:
            raise ConfigError(f"{source}: routes line {line!r}: {pattern!r} is given twice")
        try:
            routes[pattern] = _json_or_text(policy)
        except ConfigError as exc:
            raise ConfigError(f"{source}: routes line {line!r}: {exc}") from None
    return routes


def _split_at_equals(line: str) -> tuple[str, str] | None:
    depth = 0
    for index, char in enumerate(line):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(depth - 1, 0)
        elif char == "=" and depth == 0:
            return line[:index].strip(), line[index + 1:].strip()
    return None


def _json_or_text(value: str) -> Any:
    text = value.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the policy is not valid JSON ({exc.msg} at column "
                              f"{exc.colno})") from None
    return text


def _pairs(text: str, source: str, key: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"{source}: {key} line {line!r}: write claim = Header-Name")
        pairs[name.strip()] = value.strip()
    return pairs


def _ini_name(table: str, key: str) -> str:
    if table == "routes":
        return f"routes line {key!r}"
    return f"blocklist_{key}" if table == "blocklist" else key


def _ini_lines(global_conf: Mapping[str, Any]) -> list[str]:
    file = global_conf.get("__file__")
    try:
        return Path(file).read_text(encoding="utf-8").splitlines() if file else []
    except OSError:
        return []


def _ini_line(lines: list[str], key: str, route: bool) -> int | None:
    """The first line that sets ``key`` (or, for a route, starts with its pattern)."""
    separators = ("=",) if route else ("=", ":")
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if route and not text[:1].isspace():
            continue  # route lines are continuation lines of the routes value
        if stripped.startswith(key) and stripped[len(key):].lstrip()[:1] in separators:
            return number
    return None


def _source(global_conf: Mapping[str, Any]) -> str:
    return str(global_conf.get("__file__") or "<paste config>")
