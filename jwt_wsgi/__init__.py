"""jwt_wsgi: protect any WSGI application with JSON Web Tokens."""

from .blocklist import MemoryBlocklist, RedisBlocklist
from .context import (
    get_current_user,
    get_jwt,
    get_jwt_header,
    get_jwt_identity,
    get_jwt_request_location,
)
from .cookies import (
    refresh_expiring_access_cookie,
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_jwt_cookies,
    unset_refresh_cookies,
)
from .errors import (
    AlgorithmNotAllowedError,
    AudienceInvalidError,
    BodyTooLargeError,
    ClaimInvalidError,
    ConfigError,
    CSRFError,
    ExpiredTokenError,
    FreshTokenRequiredError,
    HeaderInvalidError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    IssuerInvalidError,
    JWTWSGIError,
    KeyUnknownError,
    NoTokenError,
    RevokedTokenError,
    SecurityWarning,
    ServiceUnavailableError,
    SignatureInvalidError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenTypeInvalidError,
    UserLookupError,
    WrongTokenTypeError,
)
from .forward_auth import ForwardAuth
from .manager import JWTManager
from .middleware import JWTMiddleware
from .policy import Policy
from .settings import Settings
from .tokens import Token

__version__ = "0.1.0"

__all__ = [
    "CSRFError",
    "AlgorithmNotAllowedError",
    "AudienceInvalidError",
    "BodyTooLargeError",
    "ClaimInvalidError",
    "ConfigError",
    "ExpiredTokenError",
    "ForwardAuth",
    "FreshTokenRequiredError",
    "HeaderInvalidError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidTokenError",
    "IssuerInvalidError",
    "JWTManager",
    "JWTMiddleware",
    "JWTWSGIError",
    "KeyUnknownError",
    "MemoryBlocklist",
    "NoTokenError",
    "Policy",
    "RedisBlocklist",
    "RevokedTokenError",
    "SecurityWarning",
    "ServiceUnavailableError",
    "Settings",
    "Token",
    "SignatureInvalidError",
    "TokenMalformedError",
    "TokenNotYetValidError",
    "TokenTooLargeError",
    "TokenTypeInvalidError",
    "UserLookupError",
    "WrongTokenTypeError",
    "__version__",
    "get_current_user",
    "get_jwt",
    "get_jwt_header",
    "get_jwt_identity",
    "get_jwt_request_location",
    "refresh_expiring_access_cookie",
    "set_access_cookies",
    "set_refresh_cookies",
    "unset_access_cookies",
    "unset_jwt_cookies",
    "unset_refresh_cookies",
]
