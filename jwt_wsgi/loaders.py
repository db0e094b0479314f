"""Registering loaders on a manager: the responders, and the loaders that shape tokens.

Mixed into :class:`~jwt_wsgi.JWTManager`; each decorator checks the function's signature
once, when it is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .handlers import Responders, Signature
from .wiring import init_app_message, loader_function, unknown_loader_message

F = TypeVar("F", bound=Callable[..., Any])


class Loaders:
    """The loader decorators of :class:`~jwt_wsgi.JWTManager` (flask-jwt-extended's names)."""

    responders: Responders
    _blocklist_loader: Callable[[dict[str, Any], dict[str, Any]], bool] | None
    _claims_loader: Callable[[Any], Mapping[str, Any]] | None
    _headers_loader: Callable[[Any], Mapping[str, Any]] | None
    _identity_loader: Callable[[Any], Any] | None
    lookup_user: Callable[[dict[str, Any], dict[str, Any]], Any] | None

    def _responder(name: str) -> Callable[[Loaders, F], F]:  # type: ignore[misc]
        def register(self: Loaders, func: F | None = None) -> F:
            func = loader_function(name, func)
            self.responders.register(name, func)
            return func

        register.__name__ = name
        register.__doc__ = f"Register the ``{name}`` responder (a decorator)."
        return register

    unauthorized_loader = _responder("unauthorized_loader")
    invalid_token_loader = _responder("invalid_token_loader")
    invalid_request_loader = _responder("invalid_request_loader")
    expired_token_loader = _responder("expired_token_loader")
    needs_fresh_token_loader = _responder("needs_fresh_token_loader")
    revoked_token_loader = _responder("revoked_token_loader")
    csrf_error_loader = _responder("csrf_error_loader")
    insufficient_scope_loader = _responder("insufficient_scope_loader")
    service_unavailable_loader = _responder("service_unavailable_loader")
    user_lookup_error_loader = _responder("user_lookup_error_loader")
    refresh_token_reused_loader = _responder("refresh_token_reused_loader")
    del _responder

    def token_in_blocklist_loader(self, func: F | None = None) -> F:
        """Register ``func(jwt_header, jwt_payload) -> bool``: True means revoked."""
        func = loader_function("token_in_blocklist_loader", func)
        Signature(func, (("jwt_header", "jwt_payload"),), "token_in_blocklist_loader")
        self._blocklist_loader = func
        return func

    def user_lookup_loader(self, func: F | None = None) -> F:
        """Register ``func(jwt_header, jwt_payload) -> user`` (flask-jwt-extended 4.x's name).

        It runs once per authenticated request, after the route's policy passed; the user
        is put in ``environ["jwt_wsgi.user"]`` (read it with
        :func:`~jwt_wsgi.context.get_current_user`). ``None`` answers through
        ``user_lookup_error_loader`` (401); an exception is a 500 and the app is not
        called. Nothing is cached between requests: wrap the function in a cache of your
        own if looking users up is costly and a stale user is acceptable.
        """
        func = loader_function("user_lookup_loader", func)
        Signature(func, (("jwt_header", "jwt_payload"),), "user_lookup_loader")
        self.lookup_user = func
        return func

    def user_claims_loader(self, func: F | None = None) -> F:
        """Register ``func(identity) -> dict`` of extra claims for every minted token."""
        func = loader_function("user_claims_loader", func)
        Signature(func, (("identity",),), "user_claims_loader")
        self._claims_loader = func
        return func

    additional_claims_loader = user_claims_loader

    def additional_headers_loader(self, func: F | None = None) -> F:
        """Register ``func(identity) -> dict`` of extra JOSE header fields for minted tokens."""
        func = loader_function("additional_headers_loader", func)
        Signature(func, (("identity",),), "additional_headers_loader")
        self._headers_loader = func
        return func

    def user_identity_loader(self, func: F | None = None) -> F:
        """Register ``func(user) -> identity``: turns what you pass to ``create_*`` into ``sub``."""
        func = loader_function("user_identity_loader", func)
        Signature(func, (("user",),), "user_identity_loader")
        self._identity_loader = func
        return func

    def register_loaders(self, loaders: Mapping[str, Callable[..., Any]]) -> None:
        """Register loaders by name: ``{"expired_token_loader": func, ...}``."""
        for name, func in loaders.items():
            method = getattr(self, name, None)
            if not name.endswith("_loader") or method is None:
                raise TypeError(unknown_loader_message(name, (
                    known for known in dir(self) if known.endswith("_loader")
                    and not known.startswith("_"))))
            method(func)

    def init_app(self, app: object, *args: object, **kwargs: object) -> None:
        """Not jwt_wsgi's form: raises a TypeError that shows the middleware line to write.

        flask-jwt-extended's ``jwt.init_app(app)`` hooks into Flask; jwt_wsgi wraps the
        app's ``wsgi_app`` with :class:`~jwt_wsgi.JWTMiddleware` and a routes table.
        """
        raise TypeError(init_app_message())
