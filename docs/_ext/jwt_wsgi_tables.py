"""Tables the documentation generates from the code, so that nothing is written twice.

``.. jwt-settings::`` lists every field of :class:`jwt_wsgi.Settings` (keyword, mapping
key, default, meaning); ``.. jwt-errors::`` lists every refusal class of
:mod:`jwt_wsgi.errors` with its status, codes and loader.

Both generators only read what the code declares. A setting's line of documentation comes
from its field metadata (``metadata={"doc": ...}``) when the settings carry one, else from
``SETTING_DOCS`` below; a setting with neither, or a line for a setting that no longer
exists, is a build warning (so ``-W`` fails) rather than a silent gap.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: One line per setting until the settings module carries its own (field metadata "doc").
SETTING_DOCS = {
    "secret_key": "HMAC secret; empty is refused, shorter than the hash output warns",
    "private_key": "PEM private key (RS*, PS*, ES*): mints tokens",
    "public_key": "PEM public key or certificate: verifies (derived from ``private_key``)",
    "algorithm": "signing algorithm; ``none`` is never allowed",
    "decode_algorithms": "accepted algorithms, one family only (empty: ``[algorithm]``)",
    "access_token_expires": "timedelta, seconds, ``\"15m\"``, or ``False`` / ``\"never\"``",
    "refresh_token_expires": "as ``access_token_expires``",
    "token_location": "ordered subset of headers, cookies, query_string, json",
    "location_conflict": "a token in two locations: ``reject`` (400) or ``first_location``",
    "header_name": "header holding the token",
    "header_type": "scheme (case-insensitive); ``\"\"`` for a bare token",
    "audience": "accepted ``aud`` values; unset refuses tokens that carry ``aud``",
    "issuer": "required ``iss``",
    "encode_audience": "``aud`` put in minted tokens (default: ``audience``)",
    "encode_issuer": "``iss`` put in minted tokens (default: ``issuer``)",
    "leeway": "seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``",
    "identity_claim": "claim holding the identity",
    "error_message_key": "key of the message in default JSON answers",
    "encode_nbf": "put ``nbf`` in minted tokens",
    "verify_sub": "``sub`` must be a string",
    "require_exp": "refuse tokens without ``exp``",
    "max_token_size": "bytes; a larger token is refused before it is parsed",
    "max_body_size": "bytes of request body read for the ``json`` location (413 above)",
    "realm": "``realm`` in ``WWW-Authenticate``",
    "json_key": "JSON body member holding an access token",
    "refresh_json_key": "JSON body member holding a refresh token",
    "query_string_name": "query parameter holding the token",
    "query_string_value_prefix": "prefix before the token in the query parameter",
    "access_cookie_name": "cookie holding the access token",
    "access_cookie_path": "``Path`` of the access cookie",
    "access_csrf_cookie_name": "cookie holding the access token's CSRF value",
    "access_csrf_cookie_path": "``Path`` of the access CSRF cookie",
    "access_csrf_field_name": "form field for the CSRF value (``csrf_check_form``)",
    "access_csrf_header_name": "header carrying the CSRF value",
    "refresh_cookie_name": "cookie holding the refresh token",
    "refresh_cookie_path": "``Path`` of the refresh cookie",
    "refresh_csrf_cookie_name": "cookie holding the refresh token's CSRF value",
    "refresh_csrf_cookie_path": "``Path`` of the refresh CSRF cookie",
    "refresh_csrf_field_name": "form field for the refresh CSRF value",
    "refresh_csrf_header_name": "header carrying the refresh CSRF value",
    "cookie_csrf_protect": "double-submit CSRF check for cookie tokens",
    "cookie_domain": "``Domain`` of the cookies",
    "cookie_samesite": "``SameSite`` of the cookies: Lax, Strict, None or unset",
    "cookie_secure": "``Secure`` cookies (required with ``SameSite=None``)",
    "csrf_check_form": "also accept the CSRF value from a form field",
    "csrf_in_cookies": "set the CSRF cookies beside the token cookies",
    "csrf_methods": "methods that need the CSRF value",
    "session_cookie": "session cookies; ``False``: they last a year",
    "jwks_url": "URL of the key set that verifies tokens (by ``kid``)",
    "jwks": "a key set (dict, or its JSON text)",
    "jwks_cache_seconds": "how long a fetched key set is used",
    "jwks_refetch_seconds": "least time between refetches (unknown ``kid``, failed fetch)",
    "jwks_timeout": "seconds for one whole JWKS fetch",
    "token_cache_size": "verified tokens kept; 0 turns the cache off",
    "accept_token_types": "token types (``typ``) accepted besides access tokens, such as an "
                          "identity provider's ID tokens",
    "issuers": "more issuers: ``{iss: {keys, audience, algorithms}}`` (JSON text in a mapping)",
}


def setting_fields() -> list[dataclasses.Field[Any]]:
    from jwt_wsgi.settings import Settings

    return list(dataclasses.fields(Settings))


def render_default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if value is None or value == ():
        return "none"
    if value == "":
        return '``""``'
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
            if seconds % size == 0:
                return f"{seconds // size} {unit}"
        return f"{seconds} seconds"
    if isinstance(value, bool):
        return "``true``" if value else "``false``"
    if isinstance(value, tuple):
        return "``" + ", ".join(value) + "``"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"``{value}``"


def settings_rows(docname: str) -> Iterator[list[str]]:
    known = set()
    for field in setting_fields():
        known.add(field.name)
        doc = field.metadata.get("doc") or SETTING_DOCS.get(field.name)
        if not doc:
            logger.warning("setting %r has no line of documentation", field.name,
                           location=docname)
            doc = ""
        yield [f"``{field.name}``", f"``JWT_{field.name.upper()}``", render_default(field), doc]
    for stale in sorted(set(SETTING_DOCS) - known):
        logger.warning("SETTING_DOCS documents %r, which is no setting", stale, location=docname)


def error_classes() -> Iterator[tuple[int, type[Any]]]:
    """Every refusal class, depth first from :class:`JWTWSGIError`, with its depth."""
    from jwt_wsgi.errors import JWTWSGIError

    def walk(cls: type[Any], depth: int) -> Iterator[tuple[int, type[Any]]]:
        yield depth, cls
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("jwt_wsgi"):
                yield from walk(sub, depth + 1)

    yield from walk(JWTWSGIError, 0)


def error_rows() -> Iterator[list[str]]:
    import jwt_wsgi

    for depth, cls in error_classes():
        public = cls.__name__ in jwt_wsgi.__all__
        name = f":class:`~jwt_wsgi.{cls.__name__}`" if public else f"``{cls.__name__}``"
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        yield [
            "\u2003" * depth + name,
            str(cls.status),
            f"``{cls.code}``",
            f"``{cls.error}``" if cls.error else "--",
            f"``{cls.loader}``",
            f"{cls.default_message}",
            summary,
        ]


def list_table(header: list[str], rows: Iterator[list[str]], widths: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines.append(("   * - " if i == 0 else "     - ") + (cell or " "))
    return lines


def _source(module: str) -> str:
    """The file a table is generated from: a change to it rebuilds the page."""
    import importlib

    return str(importlib.import_module(f"jwt_wsgi.{module}").__file__)


class _TableDirective(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        source = self.get_source_info()[0]
        self.state.nested_parse(StringList(self.lines(), source=source), self.content_offset,
                                container)
        return container.children


class SettingsTable(_TableDirective):
    """``.. jwt-settings::``: the settings reference, from :class:`jwt_wsgi.Settings`."""

    def lines(self) -> list[str]:
        self.env.note_dependency(_source("settings"))
        return list_table(["keyword", "mapping key", "default", "meaning"],
                          settings_rows(self.env.docname), "20 26 14 40")


class ErrorsTable(_TableDirective):
    """``.. jwt-errors::``: every refusal with its status, codes and loader."""

    def lines(self) -> list[str]:
        self.env.note_dependency(_source("errors"))
        return list_table(["class", "status", "code", "RFC 6750 error", "loader",
                           "default message", "when"], error_rows(), "18 6 14 12 18 14 18")


def _lookup(dotted: str) -> bool:
    """Whether ``dotted`` names an object that exists in the code."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def resolve_in_package(app: Sphinx, env: Any, node: Any, contnode: nodes.Node) -> Any:
    """References from docstrings to jwt_wsgi's own names.

    Docstrings name objects where they are defined (``jwt_wsgi.context.get_jwt``), the
    reference documents the public ones where users import them (``jwt_wsgi.get_jwt``):
    such a reference links to the public entry. A reference to an internal name (a private
    helper, a module constant) that exists in the code is shown as code without a link; a
    reference to a name the code no longer has stays a warning, so ``-n -W`` fails.
    """
    import jwt_wsgi

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    scopes = [node.get("py:class"), node.get("py:module")]
    source = str(node.source or "")
    if "docstring of " in source:
        owner = source.rsplit("docstring of ", 1)[1].split(":")[0]
        scopes += [owner.rsplit(".", n)[0] for n in range(owner.count(".") + 1)]
    candidates = [target] + [f"{scope}.{target}" for scope in scopes if scope]
    domain = env.get_domain("py")
    for candidate in candidates:
        if not candidate.startswith("jwt_wsgi") or not _lookup(candidate):
            continue
        parts = candidate.split(".")
        documented = [candidate] + ["jwt_wsgi." + ".".join(parts[i:])
                                    for i, part in enumerate(parts) if part in jwt_wsgi.__all__]
        for name in documented:
            if name in domain.objects:
                new = node.deepcopy()
                new["reftarget"] = name
                return domain.resolve_xref(env, node["refdoc"], app.builder,
                                           node["reftype"], name, new, contnode)
        return contnode  # exists, but internal: code, no link
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_in_package)
    app.add_directive("jwt-settings", SettingsTable)
    app.add_directive("jwt-errors", ErrorsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
