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
    BodyTooLargeError,
    ConfigError,
    CSRFError,
    ExpiredTokenError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    JWTWSGIError,
    NoTokenError,
    RefreshTokenReusedError,
    RevokedTokenError,
    SecurityWarning,
    ServiceUnavailableError,
    UserLookupError,
    WrongTokenTypeError,
)
from .manager import JWTManager
from .middleware import JWTMiddleware
from .policy import Policy
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "CSRFError",
    "BodyTooLargeError",
    "ConfigError",
    "ExpiredTokenError",
    "FreshTokenRequiredError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidTokenError",
    "JWTManager",
    "JWTMiddleware",
    "JWTWSGIError",
    "MemoryBlocklist",
    "NoTokenError",
    "Policy",
    "RedisBlocklist",
    "RefreshTokenReusedError",
    "RevokedTokenError",
    "SecurityWarning",
    "ServiceUnavailableError",
    "Settings",
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
