"""ForwardAuth: the auth service a proxy asks before it forwards (nginx ``auth_request``,
Traefik and Caddy ``forward_auth``, Envoy ``ext_authz`` over HTTP).

The proxy sends a subrequest that describes the original request: its method and URI in
``X-Forwarded-Method``/``X-Forwarded-Uri`` (Traefik, Caddy) or ``X-Original-Method``/
``X-Original-URI`` (the usual nginx configuration), or, for Envoy, the original path after
a configured ``path_prefix`` with the request's own method; the client's headers (token,
cookies, CSRF header) come along. ForwardAuth rewrites a copy of the environ into the
original request, as a WSGI server would have delivered it (PATH_INFO percent-decoded,
latin-1 text), and hands it to a :class:`~jwt_wsgi.JWTMiddleware` built with the same
routes table: every path reading, policy, CSRF check and responder is the middleware's
own. Behind it, a tiny app answers 200 with the chosen claims as headers.

Those headers are believed only from ``trusted_proxies`` (``REMOTE_ADDR``): any other
peer gets a 403 and its request is never judged.

::

    auth = ForwardAuth(jwt, routes={"/api/*": "required"},
                       trusted_proxies=["127.0.0.1/32"], claim_headers={"sub": "X-Auth-User"})
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from .context import CLAIMS
from .errors import (
    ConfigError,
    InvalidRequestError,
    JWTWSGIError,
    PathTooLongError,
    SecurityWarning,
)
from .handlers import json_response
from .manager import JWTManager
from .middleware import JWTMiddleware
from .proxy import check_claim_headers, header_value
from .routes import MAX_PATH_SIZE
from .settings import HTTP_TOKEN

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from werkzeug.routing.converters import BaseConverter

logger = logging.getLogger("jwt_wsgi")

DEFAULT_CLAIM_HEADERS: Mapping[str, str] = {"sub": "X-Auth-User"}
#: The header forms a proxy may describe the original request with, as environ keys.
FORMS: Mapping[str, tuple[str, str]] = {
    "x-forwarded": ("HTTP_X_FORWARDED_METHOD", "HTTP_X_FORWARDED_URI"),
    "x-original": ("HTTP_X_ORIGINAL_METHOD", "HTTP_X_ORIGINAL_URI"),
}
#: ``form=`` values: one header form, either (``auto``), or Envoy's path form.
FORM_CHOICES = ("auto", "x-forwarded", "x-original", "envoy")
# Headers that frame or govern the auth answer itself: a claim may not take their place.
_RESERVED = frozenset({
    "connection", "content-length", "content-type", "cache-control", "transfer-encoding",
    "www-authenticate", "set-cookie", "location", "keep-alive", "upgrade", "trailer",
    "authorization", "cookie", "host"})
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_NO_BODY = b""


class ForwardAuth:
    """A WSGI app that answers a proxy's question "may this request go through?".

    :param manager: the :class:`JWTManager` with settings, keys and loaders.
    :param routes: the routes table, exactly as for :class:`~jwt_wsgi.JWTMiddleware`.
    :param default: the policy where no rule matches.
    :param trusted_proxies: CIDRs (``"127.0.0.1/32"``, ``"10.0.0.0/8"``, ``"::1/128"``) of
        the proxies allowed to ask; ``REMOTE_ADDR`` must fall in one, or the answer is 403.
    :param claim_headers: ``{claim: header name}`` sent back on success; a string claim as
        is, any other value (or a string that would not survive as a header) as ASCII JSON.
    :param form: how the original request is described: ``"auto"`` (either header form; if
        both are present they must agree), ``"x-forwarded"``, ``"x-original"`` (only that
        form is read, any other is ignored) or ``"envoy"`` (the original path follows
        ``path_prefix``; the method is the request's own).
    :param path_prefix: Envoy ext_authz's ``path_prefix``; setting it implies ``"envoy"``.
    :param cors_preflight, converters, max_path_size, on_outcome: as for :class:`~jwt_wsgi.JWTMiddleware`.
    :raises ConfigError: for a bad CIDR, header name or form, or for ``"json"`` among the
        token locations (an auth subrequest carries no body).
    """

    def __init__(self, manager: JWTManager, routes: Mapping[str, Any] | None = None,
                 default: str | Mapping[str, Any] = "public", *,
                 trusted_proxies: Sequence[str] = ("127.0.0.1/32",),
                 claim_headers: Mapping[str, str] | None = None,
                 form: str = "auto", path_prefix: str | None = None,
                 cors_preflight: bool = True,
                 converters: Mapping[str, type[BaseConverter]] | None = None,
                 max_path_size: int = MAX_PATH_SIZE,
                 on_outcome: Callable[[str, WSGIEnvironment], object] | None = None) -> None:
        self.middleware = JWTMiddleware(self._allow, manager, routes, default,
                                        cors_preflight=cors_preflight, remote_user=False,
                                        converters=converters, max_path_size=max_path_size,
                                        on_outcome=on_outcome)
        self._refuse_json_tokens(manager)
        self.trusted_proxies = _networks(trusted_proxies)
        self.claim_headers = _claim_headers(
            DEFAULT_CLAIM_HEADERS if claim_headers is None else claim_headers)
        if path_prefix is not None and form == "auto":
            form = "envoy"
        if form not in FORM_CHOICES:
            raise ConfigError(f"form must be one of {', '.join(FORM_CHOICES)}, not {form!r}")
        if (form == "envoy") != (path_prefix is not None):
            raise ConfigError("form 'envoy' goes with path_prefix (Envoy ext_authz's "
                              "path_prefix, such as '/ext-authz'), and path_prefix with it")
        if path_prefix is not None and (
                not re.fullmatch(r"(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+", path_prefix)
                or re.search(r"/\.\.?(?:/|$)", path_prefix)):
            raise ConfigError(f"path_prefix must be a plain path such as '/ext-authz' (no "
                              f"trailing slash, dot segments or encoding), not {path_prefix!r}")
        self.form = form
        self.path_prefix = path_prefix
        self._forms = [FORMS[form]] if form in FORMS else list(FORMS.values())
        self._message_key = manager.settings.error_message_key

    def _refuse_json_tokens(self, manager: JWTManager) -> None:
        policies = [rule.policy for rule in self.middleware.routes.rules]
        policies.append(self.middleware.routes.default)
        if "json" in manager.settings.token_location or any(
                "json" in (policy.locations or ()) for policy in policies):
            raise ConfigError("forward auth cannot read a token from a JSON body: an auth "
                              "subrequest carries no body; remove 'json' from token_location")

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if not self._trusted(environ.get("REMOTE_ADDR")):
            logger.warning("forward auth asked by untrusted peer %r; refused",
                           environ.get("REMOTE_ADDR"))
            return json_response({self._message_key: "Not a trusted proxy"}, 403,
                                 [])(environ, start_response)
        try:
            original = self._original(environ)
        except JWTWSGIError as error:
            return self.middleware.refuse(error, environ, start_response)
        return self.middleware(original, start_response)

    def _trusted(self, remote_addr: object) -> bool:
        if not isinstance(remote_addr, str) or not remote_addr:
            return False
        try:
            address = ipaddress.ip_address(remote_addr.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted_proxies)

    def _original(self, environ: WSGIEnvironment) -> WSGIEnvironment:
        """A copy of ``environ`` that is the original request, as a server would deliver it.

        :raises InvalidRequestError: for missing, conflicting or malformed descriptions.
        """
        if self.form == "envoy":
            method = str(environ.get("REQUEST_METHOD", ""))
            path_info, query = self._envoy_path(environ), str(environ.get("QUERY_STRING", ""))
            target = None
        else:
            method, target = self._described(environ)
            path_info, query = _split_target(target, self.middleware.routes.max_path_size)
        if not HTTP_TOKEN.fullmatch(method):
            raise InvalidRequestError("Invalid original method")
        original = dict(environ)
        original.update({
            "REQUEST_METHOD": method.upper(), "PATH_INFO": path_info, "QUERY_STRING": query,
            "SCRIPT_NAME": "", "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(_NO_BODY)})
        for key in ("CONTENT_TYPE", "wsgi.input_terminated", "RAW_URI", "REQUEST_URI"):
            original.pop(key, None)
        if target is not None:
            original["REQUEST_URI"] = original["RAW_URI"] = target
        return original

    def _described(self, environ: WSGIEnvironment) -> tuple[str, str]:
        """The (method, URI) one header form gives; two forms that disagree are refused
        (a proxy sets one; the other then came from the client)."""
        found: list[tuple[str, str]] = []
        for method_key, uri_key in self._forms:
            method, uri = environ.get(method_key), environ.get(uri_key)
            if method is None and uri is None:
                continue
            if not method or not uri:
                raise InvalidRequestError("Incomplete description of the original request")
            found.append((str(method).strip(), str(uri).strip()))
        if not found:
            names = " or ".join(f"{m[5:].replace('_', '-').title()}/"
                                f"{u[5:].replace('_', '-').title()}" for m, u in self._forms)
            raise InvalidRequestError(f"Missing {names}".replace("Uri", "URI"))
        if any(other != found[0] for other in found[1:]):
            raise InvalidRequestError("Conflicting descriptions of the original request")
        return found[0]

    def _envoy_path(self, environ: WSGIEnvironment) -> str:
        assert self.path_prefix is not None
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        if path == self.path_prefix:
            return "/"
        if not path.startswith(self.path_prefix + "/"):
            raise InvalidRequestError("Path outside the forward auth path_prefix")
        return path[len(self.path_prefix):]

    def _allow(self, environ: WSGIEnvironment,
               start_response: StartResponse) -> Iterable[bytes]:
        """The app behind the middleware: a request that got here may go through."""
        claims = environ.get(CLAIMS) or {}
        headers = [("Cache-Control", "no-store"), ("Content-Length", "0")]
        headers += [(header, header_value(claims[claim]))
                    for claim, header in self.claim_headers.items() if claim in claims]
        start_response("200 OK", headers)
        return []


def _split_target(target: str, max_path_size: int) -> tuple[str, str]:
    """PATH_INFO and QUERY_STRING of a request target, as a WSGI server makes them.

    The path is percent-decoded once into latin-1 text of its bytes (PEP 3333); the query
    is kept as sent. An absolute-form target counts by its path. A ``#`` is refused: no
    client sends a fragment, and proxies cut the path at it or not. A path that could not
    decode to ``max_path_size`` or less is refused before it is decoded.
    """
    if "#" in target:
        raise InvalidRequestError("Fragment in the original URI")
    absolute = None if target.startswith("/") else _ABSOLUTE_FORM.match(target)
    if absolute is not None:
        target = target[absolute.end():]
        if not target.startswith("/"):
            target = "/" + target
    path, _, query = target.partition("?")
    if len(path) > 3 * max_path_size:  # "%xx" is the most text one byte can take
        raise PathTooLongError()
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:  # a server that handed over real Unicode
        raw = path.encode("utf-8", "surrogateescape")
    return unquote_to_bytes(raw).decode("latin-1"), query


def _networks(cidrs: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    if isinstance(cidrs, str) or not isinstance(cidrs, Sequence) or not cidrs:
        raise ConfigError("trusted_proxies must be a non-empty list of CIDRs, such as "
                          "['127.0.0.1/32']")
    networks = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr).strip(), strict=True)
        except ValueError as exc:
            raise ConfigError(f"trusted_proxies: {cidr!r} is not a CIDR ({exc})") from None
        if network.prefixlen == 0:
            warnings.warn(f"trusted_proxies {cidr!r} trusts every address: any client that "
                          "reaches the auth service may describe its own request",
                          SecurityWarning, stacklevel=3)
        networks.append(network)
    return tuple(networks)


def _claim_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return check_claim_headers(headers, _RESERVED, "frames the auth answer itself")
