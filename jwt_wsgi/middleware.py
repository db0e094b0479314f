"""JWTMiddleware: the WSGI callable. Each request: route, token, verify, environ, app."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .body import BODY_KEY
from .compat import app_context_of, respond_in
from .context import (
    CLAIMS,
    HEADER,
    IDENTITY,
    LOCATION,
    MANAGER,
    METHOD_OVERRIDES,
    USER,
    methods_of,
)
from .csrf import CSRFCheck
from .errors import (
    ConfigError,
    InternalError,
    InvalidRequestError,
    JWTWSGIError,
    NoTokenError,
    UserLookupError,
)
from .locations import FoundToken, TokenFinder
from .manager import JWTManager
from .policy import Policy, merge
from .routes import MAX_PATH_SIZE, RouteTable
from .tokens import Token, make_token
from .verdicts import Verdicts
from .wiring import check_app, reentry_message

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from werkzeug.routing.converters import BaseConverter

logger = logging.getLogger("jwt_wsgi")


class JWTMiddleware:
    """Protect a WSGI app with JSON Web Tokens according to a routes table.

    :param app: the WSGI application to protect.
    :param manager: the :class:`JWTManager` with settings, keys and loaders.
    :param routes: ``{"[METHODS ]PATTERN": policy}``; see :class:`~jwt_wsgi.routes.RouteTable`.
    :param default: the policy for paths no rule matches; ``"required"`` denies by default.
    :param cors_preflight: let CORS preflights (OPTIONS with ``Origin`` and
        ``Access-Control-Request-Method``) reach the app without a token, so a CORS layer
        inside it can answer; on a protected route only the app's status and headers are
        sent back, never its body. A request with a method-override header is no preflight.
    :param remote_user: set ``REMOTE_USER`` to the identity (and remove any other value).
    :param converters: extra werkzeug converters for the patterns.
    :param max_path_size: the longest ``PATH_INFO`` read (8 KiB, as nginx and Apache take in
        a request line); a longer path is refused with a 414 ``path_too_long`` before any
        of it is read, so no path costs more than a few milliseconds.
    :param on_outcome: called as ``on_outcome(outcome, environ)`` once per request, for
        metrics: ``"public"`` (no token needed), ``"preflight"`` (a CORS preflight),
        ``"anonymous"`` (optional route, no token),
        ``"authenticated"`` (a valid token), or the refusal's code (``"missing_token"``,
        ``"token_expired"``, ... see :mod:`jwt_wsgi.errors`). It runs before the app or the
        responder; an exception it raises is logged and ignored.

    ::

        app.wsgi_app = JWTMiddleware(app.wsgi_app, jwt, routes={"/api/*": "required"})
    """

    def __init__(self, app: WSGIApplication, manager: JWTManager,
                 routes: Mapping[str, Any] | None = None,
                 default: str | Mapping[str, Any] = "public", *,
                 cors_preflight: bool = True, remote_user: bool = True,
                 converters: Mapping[str, type[BaseConverter]] | None = None,
                 max_path_size: int = MAX_PATH_SIZE,
                 on_outcome: Callable[[str, WSGIEnvironment], object] | None = None) -> None:
        check_app(app, JWTManager)
        if not isinstance(manager, JWTManager):
            raise ConfigError("manager must be a JWTManager")
        self.app = app
        self.manager = manager
        # Wrapping a Flask app's bound wsgi_app: loaders run in its app context (compat).
        self._app_context = app_context_of(app)
        # An app that builds on the manager's settings (the reverse proxy: cookie and
        # parameter names to hide, max_body_size) says so with ``use_manager``; the core
        # knows no add-on by name.
        use_manager = getattr(app, "use_manager", None)
        if callable(use_manager) and getattr(app, "manager", None) is None:
            use_manager(manager)
        self.routes = RouteTable(routes or {}, default, converters, max_path_size)
        self.finder = TokenFinder(manager.settings)
        self.csrf = CSRFCheck(manager.settings)
        self.cors_preflight = cors_preflight
        self.remote_user = remote_user
        if on_outcome is not None and not callable(on_outcome):
            raise ConfigError("on_outcome must be a callable (outcome, environ)")
        self.on_outcome = on_outcome
        # ids of the environs whose request is inside self.app now: seeing one again means
        # the app called this middleware back (``app.wsgi_app = JWTMiddleware(app, ...)``).
        self._within: set[int] = set()
        # What _scrub removes (checked at once: the usual request has none of them).
        self._scrubbed = frozenset({CLAIMS, HEADER, IDENTITY, LOCATION, USER, BODY_KEY,
                                    *(("REMOTE_USER",) if remote_user else ())})
        # What makes a request unusual: our keys to scrub, a method override, a preflight.
        self._unusual = self._scrubbed.union(METHOD_OVERRIDES,
                                             ("HTTP_ACCESS_CONTROL_REQUEST_METHOD",))
        # The route table's memo of resolved (method, path) pairs, read here directly.
        self._resolved = self.routes.memo
        #: Verdicts of tokens seen on a route before (see :mod:`jwt_wsgi.verdicts`).
        self.verdicts = Verdicts(manager)
        self._locations = manager.settings.token_location
        self._find = self.finder.find
        self._verify = manager.verify
        self._identity_claim = manager.settings.identity_claim
        for rule in self.routes.rules:
            self._check_locations(rule.policy, rule.key)
        self._check_locations(self.routes.default, "default")

    def _check_locations(self, policy: Policy, where: str) -> None:
        if policy.locations and not set(policy.locations) <= set(self._locations):
            raise ConfigError(f"route {where!r}: locations {list(policy.locations)} must be "
                              f"among the manager's token_location {list(self._locations)}")

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if id(environ) in self._within:
            return self._reentered(environ, start_response)
        try:
            # The usual request carries none of our keys, no method override and is no
            # preflight (one check); then a (method, path) resolved before needs no more.
            usual = environ.keys().isdisjoint(self._unusual)
            if not usual:
                self._scrub(environ)
            policy = self._resolved.get(
                (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))  # type: ignore[arg-type]
            if not usual:
                policy = self._policy(environ)  # also refuses malformed paths
                if self._is_preflight(environ):
                    self._report("preflight", environ)
                    if not policy.protected:  # nothing to hide: the app answers untouched
                        return self._call_app(environ, start_response)
                    return _headers_only(self._call_app, environ, start_response)
            elif policy is None:  # a path not seen before, and no method override
                policy = self.routes.resolve(_method(environ), environ.get("PATH_INFO", ""))
            outcome = self._authenticate(environ, policy) if policy.protected else "public"
        except JWTWSGIError as error:
            return self.refuse(error, environ, start_response)
        except Exception:
            logger.exception("unexpected error in jwt_wsgi; answering 500")
            return self.refuse(InternalError(), environ, start_response)
        if self.on_outcome is not None:
            self._report(outcome, environ)
        return self._call_app(environ, start_response)

    def _call_app(self, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
        # A proxy further down hides this manager's token names, whatever sits between.
        environ[MANAGER] = self.manager
        key = id(environ)
        self._within.add(key)
        try:
            return self.app(environ, start_response)
        finally:
            self._within.discard(key)

    def _reentered(self, environ: WSGIEnvironment,
                   start_response: StartResponse) -> Iterable[bytes]:
        """The app called this middleware again for the request it is serving: answer 500
        now, before the loop reaches Python's recursion limit."""
        logger.error("%s", reentry_message(self.app, self))
        return self.refuse(InternalError(), environ, start_response)

    def _report(self, outcome: str, environ: WSGIEnvironment) -> None:
        hook = self.on_outcome
        if hook is None:
            return
        try:
            hook(outcome, environ)
        except Exception:
            logger.exception("on_outcome hook raised; ignored")

    def _scrub(self, environ: WSGIEnvironment) -> None:
        """Nothing but a verified token may set our environ keys or REMOTE_USER."""
        for key in self._scrubbed:
            environ.pop(key, None)

    def _is_preflight(self, environ: WSGIEnvironment) -> bool:
        # With a method-override header it is not a preflight (a browser never sends one
        # in a preflight): an app behind an override middleware would run that method.
        return (self.cors_preflight and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
                and "HTTP_ORIGIN" in environ
                and str(environ.get("REQUEST_METHOD", "")).upper() == "OPTIONS"
                and environ.keys().isdisjoint(METHOD_OVERRIDES))

    def _policy(self, environ: WSGIEnvironment) -> Policy:
        policy = self.routes.resolve(_method(environ), environ.get("PATH_INFO", ""))
        if environ.keys().isdisjoint(METHOD_OVERRIDES):  # the usual request, decided fast
            return policy
        # An app behind a method-override middleware acts on the overriding method: the
        # request must satisfy the rules of every method it may be taken for.
        path = environ.get("PATH_INFO", "")
        return merge([policy, *(self.routes.resolve(other, path)
                                for other in methods_of(environ)[1:])])

    def _authenticate(self, environ: WSGIEnvironment, policy: Policy) -> str:
        try:
            found = self._find(environ, policy.locations or self._locations, policy.refresh)
        except NoTokenError:
            if policy.require == "optional":
                return "anonymous"
            raise
        if policy.ambiguous:
            raise InvalidRequestError("Ambiguous request path")
        # The same token on the same policy as before, with nothing changed since: its
        # verdict stands (see jwt_wsgi.verdicts); otherwise the whole way, which says why.
        copies = self.verdicts.recall(found, policy)
        if copies is not None:
            header, claims = copies
        else:
            header, claims = self._verified(environ, found, policy)
        user_loader = self.manager.lookup_user  # registered late still counts
        if user_loader is not None:
            try:
                environ[USER] = self._look_up_user(user_loader, header, claims)
            except JWTWSGIError as error:
                raise error.with_token(header, claims) from None
        identity = claims.get(self._identity_claim)
        environ[CLAIMS] = claims
        environ[HEADER] = header
        environ[IDENTITY] = identity
        environ[LOCATION] = found.location
        if self.remote_user:
            environ["REMOTE_USER"] = identity if isinstance(identity, str) else _as_text(identity)
        return "authenticated"

    def _verified(self, environ: WSGIEnvironment, found: FoundToken,
                  policy: Policy) -> Token:
        """The whole way: verify the token, check CSRF and the route's policy, and keep
        the verdict when it may be kept."""
        # Taken before verifying: a verdict never claims keys newer than the token saw.
        state = self.manager.key_state
        generation = state.keys.generation
        admitted = self.verdicts.admits(found.token)
        header, claims = self._verify(found.token)
        try:
            if found.location == "cookies":  # the only tokens CSRFCheck.applies to
                self.csrf.check(environ, found, claims)
            policy.check(claims, self.manager.clock(), environ)
        except JWTWSGIError as error:
            raise error.with_token(header, claims) from None
        if admitted:
            self.verdicts.keep(state, generation, found, policy, header, claims)
        return make_token(header, claims)

    def _look_up_user(self, loader: Callable[[dict[str, Any], dict[str, Any]], Any],
                      header: dict[str, Any], claims: dict[str, Any]) -> Any:
        try:
            user = loader(header, claims)
        except Exception:
            logger.exception("user_lookup_loader raised; answering 500")
            raise InternalError() from None
        if user is None:
            identity = claims.get(self._identity_claim)
            raise UserLookupError(f"Error loading the user {_as_text(identity)}"
                                  if not isinstance(identity, str)
                                  else f"Error loading the user {identity}")
        return user

    def refuse(self, error: JWTWSGIError, environ: WSGIEnvironment,
               start_response: StartResponse) -> Iterable[bytes]:
        """Answer a refusal through the responders (logged and reported as ``error.code``)."""
        jti = error.jwt_payload.get("jti") if error.jwt_payload else None
        # Method, path and jti are the client's: each is cut, so a 256 KiB request line
        # cannot turn into a 256 KiB log line.
        logger.info("refused %.16r %.200r: %s%s", environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO", ""), error.code,
                    f" jti={jti[:64]!r}" if isinstance(jti, str) else "")
        self._report(error.code, environ)
        responders = self.manager.responders
        if self._app_context is None or not responders.has_loader(error):
            return responders.respond(error, environ)(environ, start_response)
        return respond_in(self._app_context, responders, error, environ)(environ, start_response)


def _method(environ: WSGIEnvironment) -> str:
    return str(environ.get("REQUEST_METHOD", "GET")).upper()


def _as_text(identity: Any) -> str:
    """A non-string identity (``identity_claim`` other than ``sub``) as compact JSON text:
    ``42``, ``true``, ``{"id":1}``, never a Python repr."""
    return json.dumps(identity, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _headers_only(app: WSGIApplication, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
    """Run the app for a CORS preflight, but send only its status and headers.

    A preflight carries no token, and a view that ignores the method (a plain WSGI function,
    a Django view without ``require_http_methods``) would answer it like a GET: the CORS layer
    inside the app still sets its ``Access-Control-*`` headers, but no protected body leaves.
    """
    def start(status: str, headers: list[tuple[str, str]],
              exc_info: Any = None) -> Callable[[bytes], object]:
        kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
        start_response(status, [*kept, ("Content-Length", "0")], exc_info)
        return _discard

    result = app(environ, start)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return []


def _discard(data: bytes) -> None:
    """The ``write`` callable handed to the app for a preflight: the body goes nowhere."""

