"""The error tree: configuration errors and the refusals the middleware answers with.

Every refusal carries its HTTP status, the RFC 6750 error code (``None`` where the
request carried no credentials at all), the loader that may customise the answer, and
a short human message. Messages are fixed strings chosen here: they never contain the
token, key material or the text of a library exception.
"""

from __future__ import annotations

from typing import ClassVar


class ConfigError(ValueError):
    """A setting that cannot work; raised when the object is built, never per request."""


class SecurityWarning(UserWarning):
    """A legal but weak choice, such as an HMAC secret shorter than the hash output."""


class JWTWSGIError(Exception):
    """Base of every refusal the middleware can answer.

    :cvar status: the HTTP status of the default answer.
    :cvar error: the RFC 6750 ``error`` code, or ``None`` for a request without credentials.
    :cvar loader: the name of the loader that can replace the default answer.
    :cvar code: a stable machine code used in logs and metrics.
    """

    status: ClassVar[int] = 401
    error: ClassVar[str | None] = "invalid_token"
    loader: ClassVar[str] = "invalid_token_loader"
    code: ClassVar[str] = "invalid_token"
    default_message: ClassVar[str] = "Invalid token"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        #: The token's header and claims, when the token was read far enough to know them.
        self.jwt_header: dict[str, object] | None = None
        self.jwt_payload: dict[str, object] | None = None
        super().__init__(self.message)

    def with_token(self, header: dict[str, object], payload: dict[str, object]) -> JWTWSGIError:
        """Attach the token's header and claims (for loaders that take them)."""
        self.jwt_header, self.jwt_payload = header, payload
        return self


class NoTokenError(JWTWSGIError):
    """No token where the route requires one (RFC 6750 3.1: no error code)."""

    error = None
    loader = "unauthorized_loader"
    code = "missing_token"
    default_message = "Missing Authorization Header"


class InvalidRequestError(JWTWSGIError):
    """A malformed request: two tokens, a bad path, an unreadable or oversized body."""

    status = 400
    error = "invalid_request"
    loader = "invalid_request_loader"
    code = "invalid_request"
    default_message = "Bad request"


class BodyTooLargeError(InvalidRequestError):
    """A request body over ``max_body_size``, refused before any of it is read."""

    status = 413
    code = "body_too_large"
    default_message = "Request body too large"


class PathTooLongError(InvalidRequestError):
    """A request path over the middleware's ``max_path_size``, refused before it is read."""

    status = 414
    code = "path_too_long"
    default_message = "Request path too long"


class InvalidTokenError(JWTWSGIError):
    """Bad signature, malformed token, wrong algorithm, audience, issuer or type.

    The subclasses below name the cause (their ``code``, for logs and metrics); they all
    answer as this class does, through ``invalid_token_loader`` with a 401 and
    ``error="invalid_token"``, so catching :class:`InvalidTokenError` still catches them all.
    """


class TokenMalformedError(InvalidTokenError):
    """Not the RFC 7515 compact form, or a part that is not base64url JSON."""

    code = "token_malformed"
    default_message = "Invalid token format"


class TokenTooLargeError(InvalidTokenError):
    """Longer than ``max_token_size``; refused before any parsing."""

    code = "token_too_large"
    default_message = "Token is too large"


class HeaderInvalidError(InvalidTokenError):
    """A JOSE header parameter that is malformed or asks for processing we refuse
    (``crit``, ``enc``, ``zip``, ``b64``, a ``kid`` that is not a string)."""

    code = "header_invalid"
    default_message = "Invalid header"


class AlgorithmNotAllowedError(InvalidTokenError):
    """An ``alg`` that is not among the accepted algorithms."""

    code = "algorithm_not_allowed"
    default_message = "The specified alg value is not allowed"


class KeyUnknownError(InvalidTokenError):
    """No key of the issuer fits the token's ``alg`` and ``kid``."""

    code = "key_unknown"
    default_message = "No key matches the token"


class SignatureInvalidError(InvalidTokenError):
    """The signature does not verify with the key the token names."""

    code = "signature_invalid"
    default_message = "Signature verification failed"


class TokenTypeInvalidError(InvalidTokenError):
    """A token an identity provider marks as something other than an access token: an ID,
    refresh, logout or offline token (header or payload ``typ``, ID-token hashes)."""

    code = "token_type_invalid"
    default_message = "Unsupported token type"


class ClaimInvalidError(InvalidTokenError):
    """A claim that is missing where it is required, or of the wrong JSON type.

    :ivar claim: the claim's name, when the cause is one claim.
    """

    code = "claim_invalid"
    default_message = "Invalid claim"

    def __init__(self, message: str | None = None, claim: str | None = None) -> None:
        super().__init__(message)
        self.claim = claim


class AudienceInvalidError(ClaimInvalidError):
    """An ``aud`` that names no accepted audience, is missing where one is configured, or
    is present where none is (RFC 7519 4.1.3)."""

    code = "audience_invalid"
    default_message = "Invalid audience"


class IssuerInvalidError(ClaimInvalidError):
    """An ``iss`` that is not the configured issuer, names no known issuer, or is not
    accepted on the route."""

    code = "issuer_invalid"
    default_message = "Invalid issuer"


class TokenNotYetValidError(InvalidTokenError):
    """An ``nbf`` after now, or an ``iat`` in the future (leeway included)."""

    code = "token_not_yet_valid"
    default_message = "The token is not yet valid (nbf)"


class TokenLifetimeTooLongError(InvalidTokenError):
    """An access token whose ``exp - iat`` is over ``max_token_lifetime`` (or that lacks
    one of them while the bound is set)."""

    code = "token_lifetime_too_long"
    default_message = "Token lifetime too long"


class WrongTokenTypeError(InvalidTokenError):
    """A refresh token used as an access token, or the reverse."""

    code = "wrong_token_type"


class ExpiredTokenError(JWTWSGIError):
    """The token's ``exp`` has passed (leeway included)."""

    loader = "expired_token_loader"
    code = "token_expired"
    default_message = "Token has expired"


class FreshTokenRequiredError(JWTWSGIError):
    """A non-fresh token on a route that requires a fresh one."""

    loader = "needs_fresh_token_loader"
    code = "fresh_token_required"
    default_message = "Fresh token required"


class RevokedTokenError(JWTWSGIError):
    """The token's ``jti`` is in the blocklist."""

    loader = "revoked_token_loader"
    code = "token_revoked"
    default_message = "Token has been revoked"


class UserLookupError(JWTWSGIError):
    """The ``user_lookup_loader`` found no user for a valid token (it returned ``None``)."""

    loader = "user_lookup_error_loader"
    code = "user_lookup_failed"
    default_message = "Error loading the user"


class RefreshTokenReusedError(JWTWSGIError):
    """A refresh token that was already rotated came back: its whole family is revoked."""

    loader = "refresh_token_reused_loader"
    code = "refresh_token_reused"
    default_message = "Refresh token has already been used"


class CSRFError(JWTWSGIError):
    """A cookie token on a state-changing request without the matching CSRF value."""

    loader = "csrf_error_loader"
    code = "csrf_failed"
    default_message = "CSRF double submit tokens do not match"


class InsufficientScopeError(JWTWSGIError):
    """A valid token that lacks a scope or claim the route requires (RFC 6750 3.1)."""

    status = 403
    error = "insufficient_scope"
    loader = "insufficient_scope_loader"
    code = "insufficient_scope"
    default_message = "Insufficient scope"

    def __init__(self, message: str | None = None, scope: str = "") -> None:
        super().__init__(message)
        self.scope = scope


class ServiceUnavailableError(JWTWSGIError):
    """A dependency of the decision (blocklist, key set) cannot answer: fail closed."""

    status = 503
    error = None
    loader = "service_unavailable_loader"
    code = "service_unavailable"
    default_message = "Authentication service unavailable"


class InternalError(JWTWSGIError):
    """Anything unexpected inside the middleware; the answer says nothing of the cause."""

    status = 500
    error = None
    loader = "internal_error_loader"
    code = "internal_error"
    default_message = "Internal server error"


def refusals() -> list[type[JWTWSGIError]]:
    """Every refusal class (the subclasses of :class:`JWTWSGIError`), each before its
    own subclasses: the rows of an errors table in the docs.

    ::

        for error in refusals():
            print(error.code, error.status, error.loader, error.default_message)
    """
    found: list[type[JWTWSGIError]] = [JWTWSGIError]
    for cls in found:  # grows while it is walked: breadth first, no recursion
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found[1:]  # the base itself is never raised


def error_table() -> list[dict[str, object]]:
    """One row per refusal: class name, machine code, HTTP status, RFC 6750 error, loader
    and default message; the table the documentation prints."""
    return [{"name": cls.__name__, "code": cls.code, "status": cls.status,
             "error": cls.error, "loader": cls.loader, "message": cls.default_message,
             "doc": (cls.__doc__ or "").strip().split("\n")[0]} for cls in refusals()]
