"""Settings: every option, its default, its conversion from strings, validated once.

``Settings`` holds the typed keyword options of :class:`~jwt_wsgi.JWTManager`. Its fields
are the one list of settings: each carries its converter, its ``JWT_*`` key, whether
flask-jwt-extended 4.x defines that key, and one line of documentation
(:class:`~jwt_wsgi.fields.Spec`). That list drives the keyword form, the mapping form
(``JWT_*`` keys, as in a Flask ``app.config`` or a PasteDeploy INI file), the
configuration files and :func:`reference_rows`. Defaults follow flask-jwt-extended 4.x.

However a ``Settings`` is made (``Settings(...)``, :meth:`Settings.build`,
:meth:`Settings.from_mapping`), it is converted and validated once, when it is made.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import conversions as c
from . import durations as d
from .conversions import (
    HTTP_METHODS,
    HTTP_TOKEN,
    LOCATION_CONFLICT_CHOICES,
    LOCATIONS,
    SAMESITE_VALUES,
    SettingError,
)
from .errors import ConfigError
from .fields import (
    Spec,
    check_blank,
    check_together,
    none_problem,
    setting,
    unknown,
    warn_security,
)

__all__ = [
    "HTTP_METHODS", "HTTP_TOKEN", "KEYS", "LOCATIONS", "LOCATION_CONFLICT_CHOICES",
    "SAMESITE_VALUES", "SPECS", "ReferenceRow", "SettingError", "Settings", "Spec",
    "reference_rows", "warn_security",
]

_MiB = 1024 * 1024
_ACCESS_LIFETIME = datetime.timedelta(minutes=15)
_REFRESH_LIFETIME = datetime.timedelta(days=30)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated options of a manager.

    Build it with keywords (``Settings(secret_key=...)`` or :meth:`build`) or with
    :meth:`from_mapping`; either way it is converted and checked once, when it is made.
    """

    secret_key: str | bytes | None = setting(
        None, c.to_key, "HMAC secret that signs and verifies (HS* algorithms)", blank=True,
        repr=False)
    private_key: str | bytes | None = setting(
        None, c.to_key, "PEM private key that signs (RS*, PS*, ES*, EdDSA)", blank=True,
        repr=False)
    public_key: str | bytes | None = setting(
        None, c.to_key, "PEM public key that verifies tokens signed elsewhere", blank=True)
    algorithm: str = setting("HS256", c.to_algorithm, "algorithm that signs new tokens")
    decode_algorithms: tuple[str, ...] = setting(
        (), c.to_named_list, "algorithms accepted when verifying", none="default",
        split=c.ANY_SEPARATOR, shown="[algorithm]")
    access_token_expires: datetime.timedelta | None = setting(  # noqa: RUF009 (a Field)
        _ACCESS_LIFETIME, d.to_lifetime,
        "lifetime of access tokens, or never", none="never")
    refresh_token_expires: datetime.timedelta | None = setting(  # noqa: RUF009 (a Field)
        _REFRESH_LIFETIME, d.to_lifetime,
        "lifetime of refresh tokens, or never", none="never")
    max_token_lifetime: datetime.timedelta | None = setting(  # noqa: RUF009 (a Field)
        None, d.to_lifetime, "longest exp - iat an access token may have; unset: no bound",
        flask=False)
    token_location: tuple[str, ...] = setting(
        ("headers",), c.to_locations,
        "where tokens are looked for: headers, cookies, query_string, json",
        none="default", split=c.ANY_SEPARATOR)
    location_conflict: str = setting(
        "reject", c.to_location_conflict,
        "a token in two locations: reject (400) or first_location", flask=False)
    header_name: str = setting("Authorization", c.to_http_token,
                               "request header that carries the token")
    header_type: str = setting("Bearer", c.to_header_type,
                               "scheme before the token in that header; '' for a bare token",
                               blank=True)
    audience: tuple[str, ...] = setting(
        (), c.to_audience, "audiences a token's aud must name; unset: tokens with aud are "
        "refused", flask="JWT_DECODE_AUDIENCE", none="default", split=c.COMMA)
    issuer: str | None = setting(None, c.to_optional_str, "iss a token must carry",
                                 flask="JWT_DECODE_ISSUER")
    encode_audience: tuple[str, ...] = setting(
        (), c.to_audience, "aud put in new tokens (default: audience)", none="default",
        split=c.COMMA)
    encode_issuer: str | None = setting(None, c.to_optional_str,
                                        "iss put in new tokens (default: issuer)")
    leeway: float = setting(0.0, d.to_leeway, "clock skew allowed on exp, nbf and iat",
                            flask="JWT_DECODE_LEEWAY")
    identity_claim: str = setting("sub", c.to_str, "claim that holds the identity")
    error_message_key: str = setting("msg", c.to_str, "key of the message in error JSON")
    encode_nbf: bool = setting(True, c.to_bool, "put nbf in new tokens")
    verify_sub: bool = setting(True, c.to_bool, "require sub to be a string")
    require_exp: bool = setting(False, c.to_bool, "refuse tokens without exp", flask=False)
    max_token_size: int = setting(8192, c.whole(1, 16 * _MiB),
                                  "longest token read, in bytes, checked before parsing",
                                  flask=False)
    max_body_size: int = setting(_MiB, c.whole(1, 1024 * _MiB),
                                 "largest request body read for a token, in bytes",
                                 flask=False)
    realm: str | None = setting(None, c.to_optional_str,
                                "realm in the WWW-Authenticate challenge", flask=False)
    json_key: str = setting("access_token", c.to_str, "JSON body key of access tokens")
    refresh_json_key: str = setting("refresh_token", c.to_str,
                                    "JSON body key of refresh tokens")
    query_string_name: str = setting("jwt", c.to_query_name,
                                     "query parameter that carries the token")
    query_string_value_prefix: str = setting("", c.to_text,
                                             "text before the token in that parameter",
                                             blank=True)
    access_cookie_name: str = setting("access_token_cookie", c.to_http_token,
                                      "cookie of the access token")
    access_cookie_path: str = setting("/", c.to_cookie_path, "Path of the access cookie")
    access_csrf_cookie_name: str = setting("csrf_access_token", c.to_http_token,
                                           "cookie of the access token's CSRF value")
    access_csrf_cookie_path: str = setting("/", c.to_cookie_path,
                                           "Path of the access CSRF cookie")
    access_csrf_field_name: str = setting("csrf_token", c.to_str,
                                          "form field of the access CSRF value")
    access_csrf_header_name: str = setting("X-CSRF-TOKEN", c.to_http_token,
                                           "header of the access CSRF value")
    refresh_cookie_name: str = setting("refresh_token_cookie", c.to_http_token,
                                       "cookie of the refresh token")
    refresh_cookie_path: str = setting("/", c.to_cookie_path, "Path of the refresh cookie")
    refresh_csrf_cookie_name: str = setting("csrf_refresh_token", c.to_http_token,
                                            "cookie of the refresh token's CSRF value")
    refresh_csrf_cookie_path: str = setting("/", c.to_cookie_path,
                                            "Path of the refresh CSRF cookie")
    refresh_csrf_field_name: str = setting("csrf_token", c.to_str,
                                           "form field of the refresh CSRF value")
    refresh_csrf_header_name: str = setting("X-CSRF-TOKEN", c.to_http_token,
                                            "header of the refresh CSRF value")
    cookie_csrf_protect: bool = setting(True, c.to_bool,
                                        "double-submit CSRF check for cookie tokens")
    cookie_domain: str | None = setting(None, c.to_cookie_domain,
                                        "Domain of the cookies; unset: this host only")
    cookie_samesite: str | None = setting(None, c.to_samesite,
                                          "SameSite of the cookies: Lax, Strict or None")
    cookie_secure: bool = setting(False, c.to_bool, "Secure flag of the cookies (HTTPS only)")
    csrf_check_form: bool = setting(False, c.to_bool, "also read the CSRF value from forms")
    csrf_in_cookies: bool = setting(True, c.to_bool, "set the CSRF cookies with the tokens")
    csrf_methods: tuple[str, ...] = setting(
        ("POST", "PUT", "PATCH", "DELETE"), c.to_methods,
        "methods whose cookie tokens need the CSRF value", none="default",
        split=c.ANY_SEPARATOR)
    session_cookie: bool = setting(True, c.to_bool,
                                   "cookies end with the browser session; false: a year")
    jwks_url: str | None = setting(None, c.to_jwks_url,
                                   "URL of a JWKS to verify with (https)", flask=False)
    jwks: Mapping[str, Any] | None = setting(None, c.to_jwks, "a JWKS to verify with",
                                             flask=False, repr=False)  # may hold oct "k"
    signing_keys: tuple[str | bytes, ...] = setting(
        (), c.to_pem_list, "PEM keys: the first signs, all verify and are published",
        flask=False, none="default", repr=False)
    secret_key_fallbacks: tuple[str | bytes, ...] = setting(
        (), c.to_secret_list, "older HMAC secrets that verify and never sign", flask=False,
        none="default", repr=False)
    oidc_issuer: str | None = setting(
        None, c.to_oidc_issuer, "OpenID provider whose discovery document names the JWKS",
        flask=False)
    jwks_cache_seconds: float = setting(600.0, d.seconds(0, 86400, above=True),
                                        "how long a fetched JWKS is used", flask=False)
    jwks_refetch_seconds: float = setting(
        30.0, d.seconds(0, 86400, above=True),
        "shortest time between fetches for an unknown kid", flask=False)
    jwks_timeout: float = setting(5.0, d.seconds(0, 3600, above=True),
                                  "deadline of one JWKS fetch", flask=False)
    token_cache_size: int = setting(1024, c.whole(0, 1_000_000),
                                    "verified tokens remembered; 0: none", flask=False)
    issuers: Mapping[str, Mapping[str, Any]] | None = setting(
        None, c.to_issuers, "other issuers: {iss: {keys, audience, algorithms}}",
        flask=False, repr=False)
    accept_token_types: tuple[str, ...] = setting(
        (), c.to_token_types, "other token types (typ) taken as access tokens, such as ID",
        flask=False,
        none="default", split=c.ANY_SEPARATOR)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            spec: Spec = field.metadata["spec"]
            value = getattr(self, field.name)
            check_blank(field.name, spec, value)
            if value is None and spec.none == "default":
                value = field.default
            elif value is None and spec.none in ("unset", "never"):
                continue
            object.__setattr__(self, field.name, spec.convert(field.name, value))
        check_together(self)

    @classmethod
    def build(cls, **options: Any) -> Settings:
        """Convert and validate keyword options; raise :class:`ConfigError` on any problem.

        ``None`` means "the default" for the list settings and "unset" for the optional
        ones; a lifetime of ``None`` is refused (write ``False`` or ``"never"``).
        """
        return cls(**_checked(options))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (keyword options, as :meth:`build` takes them), the
        whole converted and validated again; ``None`` puts a list setting back to its
        default.

        :raises ConfigError: as :meth:`build` does.
        """
        defaults = {name: SPECS_DEFAULTS[name] for name, value in changes.items()
                    if value is None and name in SPECS and SPECS[name].none == "default"}
        return dataclasses.replace(self, **{**_checked(changes), **defaults})

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Settings:
        """Build from ``JWT_*`` keys (a Flask ``app.config``, INI or environment strings).

        Keys without the ``JWT_`` prefix are ignored; every ``JWT_`` key that
        flask-jwt-extended 4.x defines is accepted; any other ``JWT_`` key is refused.
        ``None`` means the default; a list setting written as text is JSON list text or
        items separated as :attr:`Spec.split` says.
        """
        options: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for key, value in mapping.items():
            if not isinstance(key, str) or not key.startswith("JWT_"):
                continue
            name = KEYS.get(key)
            if name is None:
                raise ConfigError(unknown(key, KEYS, "key"))
            if value is None:
                continue
            spec = SPECS[name]
            try:
                if isinstance(value, str) and spec.split is not None and value.strip():
                    value = c.split_text(name, value, spec.split)
            except SettingError as exc:
                raise exc.relabel(key) from None
            if name in options and options[name] != value:
                raise ConfigError(f"{key} disagrees with {labels[name]}, another key for the "
                                  f"same setting {name!r}")
            options[name], labels[name] = value, key
        try:
            return cls.build(**options)
        except SettingError as exc:
            if exc.setting in labels:
                raise exc.relabel(labels[exc.setting]) from None
            raise

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        return self.decode_algorithms or (self.algorithm,)


def _checked(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options as :meth:`Settings.build` takes them, each checked on its own."""
    values: dict[str, Any] = {}
    for name, value in options.items():
        spec = SPECS.get(name)
        if spec is None:
            raise ConfigError(unknown(name, SPECS, "setting"))
        if value is None and spec.none == "default":
            continue
        if value is None and spec.none == "never":
            raise SettingError(name, none_problem())
        check_blank(name, spec, value)
        if spec.none == "default" and _empty(value):
            # Given and empty: an audience list left empty by a template must not
            # drop the audience requirement (only ``()`` may mean unset, as stored).
            spec.convert(name, [] if value == () else value)
        values[name] = value
    return values


def _empty(value: Any) -> bool:
    return isinstance(value, (str, tuple, list, set, frozenset)) and not value


#: Each setting's :class:`~jwt_wsgi.fields.Spec`, by keyword name, in declaration order.
SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in dataclasses.fields(Settings)}
#: Every ``JWT_*`` key :meth:`Settings.from_mapping` reads, and the setting it sets: the
#: keyword name upper-cased, and flask-jwt-extended's own name where it differs.
#: Each setting's default, by keyword name.
SPECS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}
KEYS: dict[str, str] = {
    **{"JWT_" + name.upper(): name for name in SPECS},
    **{spec.flask: name for name, spec in SPECS.items() if isinstance(spec.flask, str)},
}


class ReferenceRow(NamedTuple):
    """One line of the settings reference."""

    keyword: str  #: the keyword argument of JWTManager
    key: str  #: the JWT_* key of the mapping form (flask-jwt-extended's where it has one)
    default: str  #: the default, as text
    doc: str  #: one line saying what it does


def reference_rows() -> list[ReferenceRow]:
    """The settings reference: ``(keyword, JWT_* key, default, doc)`` for every setting.

    The documentation's settings table is generated from these rows; whether
    flask-jwt-extended defines a key is :attr:`Spec.flask` in :data:`SPECS`.
    """
    rows = []
    for field in dataclasses.fields(Settings):
        spec = SPECS[field.name]
        rows.append(ReferenceRow(field.name, spec.key(field.name),
                                 spec.shown_default(field.default), spec.doc))
    return rows
