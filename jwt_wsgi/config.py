"""Configuration files: a manager, its routes and the middleware options from TOML or INI.

One schema, five tables; the TOML form (``load_config``) is read with the standard
``tomllib``, the INI form by :mod:`jwt_wsgi.paste`::

    [jwt]                              # JWTManager settings: keyword names or JWT_* names
    secret_key_env = "JWT_SECRET_KEY"  # or secret_key_file = "secret.txt" (also private_key_*,
    access_token_expires = "15m"       #   public_key_*); keep keys out of the file itself
    # signing_keys_file = ["current.pem", "next.pem"]      lists: signing_keys_*,
    # secret_key_fallbacks_env = ["JWT_OLD_SECRET"]          secret_key_fallbacks_*
    token_location = ["headers"]

    [middleware]                       # JWTMiddleware options
    default = "required"
    cors_preflight = true
    remote_user = true
    max_path_size = 8192               # longest PATH_INFO read; longer is a 414

    [routes]                           # the routes table, as in Python
    "POST /login" = "public"
    "/api/*" = "required"
    "/users/<int:user_id>" = { require = "required", scopes = ["users:read"] }

    [proxy]                            # for ``jwt-wsgi serve --upstream`` (optional)
    upstream = "http://127.0.0.1:9000"
    claim_headers = { sub = "X-Jwt-Sub", role = "X-Jwt-Role" }

    [blocklist]                        # revocations shared by every worker (optional)
    redis_url = "redis://127.0.0.1:6379/0"
    prefix = "myapp:revoked:"

    [forward_auth]                     # for ``jwt-wsgi serve --forward-auth`` (optional)
    trusted_proxies = ["127.0.0.1/32"]
    claim_headers = { sub = "X-Auth-User" }
    form = "auto"                      # or "x-forwarded", "x-original"; path_prefix (Envoy)

Every error is a :class:`~jwt_wsgi.ConfigError` that names the file, the table and key,
and the line when it can be found.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .blocklist import RedisBlocklist
from .conversions import SettingError, to_bool
from .durations import to_number
from .errors import ConfigError
from .fields import unknown
from .manager import JWTManager
from .middleware import JWTMiddleware
from .policy import Policy
from .routes import check_max_path_size
from .rules import Rule
from .settings import KEYS

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .forward_auth import ForwardAuth
    from .proxy import ReverseProxy

TABLES = ("jwt", "middleware", "routes", "proxy", "blocklist", "forward_auth")
KEY_SETTINGS = ("secret_key", "private_key", "public_key")
#: Key settings that are lists: their ``_file`` and ``_env`` forms take a list of names.
KEY_LISTS = ("signing_keys", "secret_key_fallbacks")
MIDDLEWARE_OPTIONS = ("default", "cors_preflight", "remote_user", "max_path_size")
PROXY_OPTIONS = ("upstream", "claim_headers", "forward_authorization", "timeout")
BLOCKLIST_OPTIONS = ("redis_url", "prefix", "timeout", "max_staleness")
FORWARD_AUTH_OPTIONS = ("trusted_proxies", "claim_headers", "form", "path_prefix")

#: ``where(table, key) -> "file, line N: [table] key"``: how errors point into a file.
Where = Callable[[str, str], str]


@dataclasses.dataclass
class Config:
    """What a configuration file describes, validated: build the middleware with :meth:`wrap`."""

    manager: JWTManager
    routes: dict[str, Any]
    default: str | Mapping[str, Any] = "public"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    proxy: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "<config>"
    forward_auth: dict[str, Any] = dataclasses.field(default_factory=dict)

    def wrap(self, app: WSGIApplication, **extra: Any) -> JWTMiddleware:
        """Protect ``app`` with these settings; ``extra`` adds middleware keyword options.

        :raises ConfigError: naming the file, for what only the whole can tell (route
            locations against ``token_location``, a table that protects nothing).
        """
        try:
            return JWTMiddleware(app, self.manager, routes=self.routes, default=self.default,
                                 **{**self.options, **extra})
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {exc}") from None

    @property
    def routing(self) -> bool:
        """Whether the file routes at all (a ``[routes]`` table or a ``default``): a file
        without either only serves the token commands, and :meth:`wrap` refuses it."""
        return bool(self.routes) or self.default != "public"

    def reverse_proxy(self, upstream: str | None = None) -> ReverseProxy:
        """The :class:`~jwt_wsgi.proxy.ReverseProxy` the ``[proxy]`` table describes."""
        from .proxy import ReverseProxy

        options = dict(self.proxy)
        if upstream is not None:
            options["upstream"] = upstream
        if not options.get("upstream"):
            raise ConfigError(f"{self.source}: no upstream: give --upstream URL or set "
                              "upstream in the [proxy] table")
        return ReverseProxy(**options, manager=self.manager)

    def forward_auth_app(self) -> ForwardAuth:
        """The :class:`~jwt_wsgi.ForwardAuth` the routes and ``[forward_auth]`` describe."""
        from .forward_auth import ForwardAuth

        options = {key: value for key, value in self.options.items()
                   if key in ("cors_preflight", "max_path_size")}
        return ForwardAuth(self.manager, self.routes, self.default,
                           **options, **self.forward_auth)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read a TOML configuration file.

    :raises ConfigError: naming the file (and line or key) for anything wrong in it.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ConfigError(f"{file}: unknown table or key {unknown[0]!r} at the top level; "
                          f"use the tables {', '.join(TABLES)}")
    for table in TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{file}: {table} must be a table ([{table}])")
    return build_config(data.get("jwt", {}), data.get("routes", {}), data.get("middleware", {}),
                        data.get("proxy", {}), data.get("blocklist", {}),
                        data.get("forward_auth", {}), source=str(file), base_dir=file.parent,
                        where=lambda table, key: _where(str(file), table, key,
                                                        find_line(text, table, key)))


def build_config(jwt: Mapping[str, Any], routes: Mapping[str, Any],
                 middleware: Mapping[str, Any], proxy: Mapping[str, Any] | None = None,
                 blocklist: Mapping[str, Any] | None = None,
                 forward_auth: Mapping[str, Any] | None = None, *,
                 source: str = "<config>", base_dir: str | os.PathLike[str] | None = None,
                 where: Where | None = None) -> Config:
    """Validate the tables of a configuration into a :class:`Config`.

    :param source: the file name errors start with.
    :param base_dir: where relative ``*_file`` paths are read from.
    :param where: names a key in error messages; ``"SOURCE: [table] key"`` by default.
    """
    if where is None:
        where = lambda table, key: _where(source, table, key, None)  # noqa: E731

    mapping = _settings_mapping(jwt, Path(base_dir or "."), where)
    store = _blocklist(blocklist or {}, where)
    try:  # validated once; an error about one setting points at its line
        manager = JWTManager.from_mapping(mapping, blocklist=store)
    except SettingError as exc:
        key = _original(jwt, exc.setting)
        raise ConfigError(f"{where('jwt', key)}: {exc.relabel(exc.setting)}") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: [jwt]: {exc}") from None

    options: dict[str, Any] = {}
    default: str | Mapping[str, Any] = "public"
    for key, value in middleware.items():
        if key not in MIDDLEWARE_OPTIONS:
            raise ConfigError(f"{where('middleware', key)}: unknown option; use "
                              + ", ".join(MIDDLEWARE_OPTIONS))
        try:
            if key == "default":
                Policy.parse(value, "default")
                default = value
            elif key == "max_path_size":
                options[key] = check_max_path_size(value)
            else:
                options[key] = to_bool(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where('middleware', key)}: {exc}") from None

    table: dict[str, Any] = {}
    for key, value in routes.items():
        try:
            Rule.parse(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where('routes', key)}: {exc}") from None
        table[key] = value

    proxy_options = _proxy_options(proxy or {}, where, manager)
    config = Config(manager, table, default, options, proxy_options, source,
                    _forward_auth_options(forward_auth or {}, where))
    if config.routing:  # what only the whole can tell, told when the file is read
        config.wrap(_no_app)  # names the file itself
    if forward_auth:
        try:
            config.forward_auth_app()
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return config


def _forward_auth_options(table: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """The ``[forward_auth]`` table as ForwardAuth keyword arguments, types checked."""
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key not in FORWARD_AUTH_OPTIONS:
            raise ConfigError(f"{where('forward_auth', key)}: unknown option; use "
                              + ", ".join(FORWARD_AUTH_OPTIONS))
        if key == "trusted_proxies" and isinstance(value, str):
            value = [part for part in re.split(r"[\s,]+", value) if part]  # INI: one string
        if key == "trusted_proxies" and not (isinstance(value, list) and value and all(
                isinstance(item, str) for item in value)):
            raise ConfigError(f"{where('forward_auth', key)}: must be a list of CIDRs")
        if key == "claim_headers" and not isinstance(value, Mapping):
            raise ConfigError(f"{where('forward_auth', key)}: must map claim names to "
                              "header names")
        if key in ("form", "path_prefix") and not isinstance(value, str):
            raise ConfigError(f"{where('forward_auth', key)}: must be a string")
        options[key] = value
    return options


def _where(source: str, table: str, key: str, line: int | None) -> str:
    return f"{source}, line {line}: [{table}] {key}" if line else f"{source}: [{table}] {key}"


def _settings_mapping(jwt: Mapping[str, Any], base_dir: Path, where: Where) -> dict[str, Any]:
    """``JWT_*`` keys for :meth:`Settings.from_mapping`, key files and variables resolved."""
    mapping: dict[str, Any] = {}
    for key, value in jwt.items():
        name = key[4:].lower() if key.upper().startswith("JWT_") else key.lower()
        source_kind = next((kind for kind in ("_file", "_env")
                            if name.endswith(kind)
                            and name[:-len(kind)] in (*KEY_SETTINGS, *KEY_LISTS)), None)
        if source_kind is not None:
            setting = name[:-len(source_kind)]
            value = _read_keys(setting, source_kind, value, base_dir, where("jwt", key))
            name = setting
        target = "JWT_" + name.upper()
        if target not in KEYS:
            raise ConfigError(f"{where('jwt', key)}: {unknown(target, KEYS, 'key')}")
        if target in mapping:
            raise ConfigError(f"{where('jwt', key)}: {name} is given twice "
                              f"(directly, from a file or from an environment variable)")
        mapping[target] = value
    return mapping


def _original(jwt: Mapping[str, Any], setting: str) -> str:
    """The key as written in the file that sets ``setting`` (for error messages)."""
    for key in jwt:
        name = key[4:].lower() if key.upper().startswith("JWT_") else key.lower()
        for kind in ("_file", "_env"):
            if name.endswith(kind) and name[:-len(kind)] in (*KEY_SETTINGS, *KEY_LISTS):
                name = name[:-len(kind)]
        if KEYS.get("JWT_" + name.upper()) == setting:
            return key
    return setting


def _read_keys(setting: str, kind: str, value: Any, base_dir: Path, where: str) -> Any:
    """The key (or, for :data:`KEY_LISTS`, the keys) that a ``_file``/``_env`` key names."""
    def read(name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: must be a non-empty string"
                              + (" in each place of the list" if setting in KEY_LISTS else ""))
        return (_read_key_file(base_dir / name, where) if kind == "_file"
                else _read_key_env(name, where))

    if setting not in KEY_LISTS:
        return read(value)
    if not isinstance(value, list) or not value:
        what = "files" if kind == "_file" else "environment variables"
        raise ConfigError(f"{where}: must be a non-empty list of {what} "
                          "(one is still a list: [\"name\"])")
    return [read(name) for name in value]


def _read_key_file(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path} ({exc.strerror})") from None


def _read_key_env(variable: str, where: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{where}: environment variable {variable} is empty or unset")
    return value


def _proxy_options(proxy: Mapping[str, Any], where: Where,
                   manager: JWTManager | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in proxy.items():
        if key not in PROXY_OPTIONS:
            raise ConfigError(f"{where('proxy', key)}: unknown option; use "
                              + ", ".join(PROXY_OPTIONS))
        try:
            if key == "forward_authorization":
                value = to_bool(key, value)
            elif key == "timeout":
                value = to_number(key, value)
            elif key == "claim_headers" and not isinstance(value, Mapping):
                raise ConfigError("claim_headers must map claim names to header names")
            elif key == "upstream" and not isinstance(value, str):
                raise ConfigError("upstream must be a URL string")
        except ConfigError as exc:
            raise ConfigError(f"{where('proxy', key)}: {exc}") from None
        options[key] = value
    if options.get("upstream"):
        from .proxy import ReverseProxy

        try:
            ReverseProxy(**options, manager=manager)
        except ConfigError as exc:
            # the message starts with the option at fault ("timeout must be ...")
            key = next((k for k in PROXY_OPTIONS if str(exc).startswith(k)), "upstream")
            raise ConfigError(f"{where('proxy', key)}: {exc}") from None
    return options


def _blocklist(options: Mapping[str, Any], where: Where) -> RedisBlocklist | None:
    """A RedisBlocklist from the ``[blocklist]`` table; None (one process's memory) without."""
    if not options:
        return None
    for key in options:
        if key not in BLOCKLIST_OPTIONS:
            raise ConfigError(f"{where('blocklist', key)}: unknown option; use "
                              + ", ".join(BLOCKLIST_OPTIONS))
    url = options.get("redis_url")
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{where('blocklist', 'redis_url')}: must be a redis://, rediss:// "
                          "or unix:// URL")
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key == "redis_url":
            continue
        if key == "prefix" and not (isinstance(value, str) and value):
            raise ConfigError(f"{where('blocklist', key)}: must be a non-empty string")
        try:
            kwargs[key] = to_number(key, value) if key in ("timeout", "max_staleness") else value
        except ConfigError as exc:
            raise ConfigError(f"{where('blocklist', key)}: {exc}") from None
    return RedisBlocklist(url, **kwargs)


def _no_app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover
    return []


_TABLE_HEADER = re.compile(r"\s*\[\s*([^\]\s]+)\s*\]\s*(?:#.*)?$")


def find_line(text: str, table: str, key: str) -> int | None:
    """The line of ``key = ...`` in ``[table]`` of a TOML or INI text, if it can be found.

    Keys may be bare or quoted; inline tables and dotted keys are not followed.
    """
    current = None
    quoted = (re.escape(key), re.escape(f'"{key}"'), re.escape(f"'{key}'"))
    pattern = re.compile(r"\s*(?:" + "|".join(quoted) + r")\s*[=:]")
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            current = header.group(1).strip("\"'")
        elif current == table and pattern.match(line):
            return number
    return None
