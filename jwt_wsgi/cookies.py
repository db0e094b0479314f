"""Setting and unsetting the JWT and CSRF cookies on whatever response an app returns.

Each helper takes a webob ``Response``, a werkzeug (or Flask) ``Response``, or a plain
list of ``(name, value)`` header tuples as a WSGI app hands to ``start_response``, adds
``Set-Cookie`` headers to it and returns it. The names, paths, ``Secure``, ``SameSite``
and ``Domain`` come from the manager's settings (flask-jwt-extended 4.x names). The JWT
cookies are ``HttpOnly``: no script can read the token. The CSRF cookies are not: the
page's own script reads them to send the ``X-CSRF-TOKEN`` header.

::

    response = webob.Response(json={"login": True})
    set_access_cookies(response, jwt.create_access_token("alice"), manager=jwt)
    set_refresh_cookies(response, jwt.create_refresh_token("alice"), manager=jwt)
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.http import dump_cookie

from .conversions import check_cookie_domain
from .errors import ConfigError, JWTWSGIError

if TYPE_CHECKING:
    from .manager import JWTManager

R = TypeVar("R")
logger = logging.getLogger("jwt_wsgi")

#: The lifetime of a persistent cookie (``session_cookie=False``), as flask-jwt-extended:
#: a year. The token inside still expires on its own ``exp``.
PERSISTENT_MAX_AGE = 31_540_000


def set_access_cookies(response: R, encoded_access_token: str, max_age: int | None = None,
                       domain: str | None = None, *, manager: JWTManager) -> R:
    """Set the access token cookie and, with CSRF protection on, its CSRF cookie.

    :param max_age: seconds; default none (a session cookie) or a year when
        ``session_cookie=False``.
    :param domain: overrides ``cookie_domain``.
    :raises ValueError: ``domain`` is not a host name or ``max_age`` not whole seconds
        (nothing is added to the response then).
    """
    s = manager.settings
    return _set_pair(response, manager, encoded_access_token, max_age, domain,
                     (s.access_cookie_name, s.access_cookie_path),
                     (s.access_csrf_cookie_name, s.access_csrf_cookie_path))


def set_refresh_cookies(response: R, encoded_refresh_token: str, max_age: int | None = None,
                        domain: str | None = None, *, manager: JWTManager) -> R:
    """Set the refresh token cookie and, with CSRF protection on, its CSRF cookie."""
    s = manager.settings
    return _set_pair(response, manager, encoded_refresh_token, max_age, domain,
                     (s.refresh_cookie_name, s.refresh_cookie_path),
                     (s.refresh_csrf_cookie_name, s.refresh_csrf_cookie_path))


def unset_jwt_cookies(response: R, domain: str | None = None, *, manager: JWTManager) -> R:
    """Expire the access and refresh cookies and their CSRF cookies (logout)."""
    unset_access_cookies(response, domain, manager=manager)
    return unset_refresh_cookies(response, domain, manager=manager)


def unset_access_cookies(response: R, domain: str | None = None, *,
                         manager: JWTManager) -> R:
    """Expire the access cookie and its CSRF cookie."""
    s = manager.settings
    return _expire_pair(response, manager, domain, (s.access_cookie_name, s.access_cookie_path),
                        (s.access_csrf_cookie_name, s.access_csrf_cookie_path))


def unset_refresh_cookies(response: R, domain: str | None = None, *,
                          manager: JWTManager) -> R:
    """Expire the refresh cookie and its CSRF cookie."""
    s = manager.settings
    return _expire_pair(response, manager, domain, (s.refresh_cookie_name, s.refresh_cookie_path),
                        (s.refresh_csrf_cookie_name, s.refresh_csrf_cookie_path))


def _expire_pair(response: R, manager: JWTManager, domain: str | None,
                 jwt_cookie: tuple[str, str], csrf_cookie: tuple[str, str]) -> R:
    """Expire a JWT cookie (HttpOnly) and, when CSRF cookies are in use, its CSRF cookie."""
    _domain(domain, None)  # checked before any header is added
    _expire(response, manager, domain, *jwt_cookie, True)
    if manager.settings.cookie_csrf_protect and manager.settings.csrf_in_cookies:
        _expire(response, manager, domain, *csrf_cookie, False)
    return response


def add_header(response: R, name: str, value: str) -> R:
    """Add a header to a webob or werkzeug response, or a list of header tuples."""
    _check_response(response)
    if isinstance(response, list):
        response.append((name, value))
    else:
        response.headers.add(name, value)  # type: ignore[attr-defined]
    return response


def _set_pair(response: R, manager: JWTManager, token: str, max_age: int | None,
              domain: str | None, jwt_cookie: tuple[str, str],
              csrf_cookie: tuple[str, str]) -> R:
    s = manager.settings
    max_age = _max_age(max_age)
    if max_age is None and not s.session_cookie:
        max_age = PERSISTENT_MAX_AGE
    # Checked before any header is added: a wrong token or domain must not leave half a
    # login behind.
    _domain(domain, None)
    csrf = _csrf_value(manager, token) if s.cookie_csrf_protect and s.csrf_in_cookies else None
    _cookie(response, manager, jwt_cookie, token, max_age, domain, httponly=True)
    if csrf is not None:
        _cookie(response, manager, csrf_cookie, csrf, max_age, domain, httponly=False)
    return response


def _csrf_value(manager: JWTManager, token: str) -> str | None:
    """The token's ``csrf`` claim (the token is verified: it must be one of ours)."""
    claims = manager.decode_token(token, allow_expired=True)
    value = claims.get("csrf")
    return value if isinstance(value, str) else None


def _cookie(response: Any, manager: JWTManager, name_path: tuple[str, str], value: str,
            max_age: int | None, domain: str | None, *, httponly: bool) -> None:
    s = manager.settings
    name, path = name_path
    add_header(response, "Set-Cookie", dump_cookie(
        name, value, max_age=max_age, path=path, domain=_domain(domain, s.cookie_domain),
        secure=s.cookie_secure, httponly=httponly, samesite=s.cookie_samesite))


def _expire(response: Any, manager: JWTManager, domain: str | None, name: str, path: str,
            httponly: bool) -> None:
    s = manager.settings
    add_header(response, "Set-Cookie", dump_cookie(
        name, "", max_age=0, expires=0, path=path, domain=_domain(domain, s.cookie_domain),
        secure=s.cookie_secure, httponly=httponly, samesite=s.cookie_samesite))


def _domain(given: str | None, configured: str | None) -> str | None:
    """The ``domain=`` argument, checked as ``cookie_domain`` is: werkzeug writes it into
    the header as it is, so a ``;`` or CR/LF in it would add attributes or headers."""
    if given is None:
        return configured
    try:
        return check_cookie_domain("domain", given)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _max_age(max_age: Any) -> int | None:
    if max_age is None:
        return None
    if isinstance(max_age, datetime.timedelta):
        max_age = max_age.total_seconds()
    if isinstance(max_age, float) and max_age.is_integer():
        max_age = int(max_age)
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
        raise ValueError(f"max_age must be a whole number of seconds, 0 or more, not "
                         f"{max_age!r}")
    return max_age


def refresh_expiring_access_cookie(environ: Any, response: R, *,
                                   manager: JWTManager,
                                   within: datetime.timedelta = datetime.timedelta(minutes=5),
                                   max_session: datetime.timedelta | None = None) -> R:
    """Implicit refresh: re-issue the access cookie when the one this request used is
    about to expire.

    Call it on the app's response after the middleware let a request through. It acts
    only when the request's access token came from the access cookie, expires within
    ``within``, and was signed by this manager (a token of another ``issuers=`` entry is
    never renewed). The new token is the old one with a new ``iat``, ``nbf``, ``exp`` and
    ``jti``: every other claim is kept, ``refresh_jti`` included, and it stays fresh no
    longer than the old one did. See :mod:`jwt_wsgi.renewal`.

    A session is renewed up to ``max_session`` after its first token was issued (default
    ``refresh_token_expires``); then the token expires on its own. Anything that stops a
    renewal (a revoked token, a revocation store that cannot answer, a token that is not
    ours) leaves the response as it was: this helper never raises for the token's sake.

    :param environ: the request's environ (or a request object with ``.environ``).
    :raises TypeError: ``response`` is not a response this module can add a cookie to
        (checked on every call, not only when a token is renewed).
    """
    from .context import _environ, get_jwt, get_jwt_request_location
    from .locations import parse_cookie_header
    from .renewal import NotRenewable, renew_access_token

    _check_response(response)
    claims = get_jwt(environ)
    exp = claims.get("exp")
    if (get_jwt_request_location(environ) != "cookies" or claims.get("type") != "access"
            or not isinstance(exp, (int, float))):
        return response
    if exp - manager.clock() > within.total_seconds():
        return response
    s = manager.settings
    header = _environ(environ).get("HTTP_COOKIE")
    values = parse_cookie_header(header, (s.access_cookie_name,)).get(
        s.access_cookie_name, []) if isinstance(header, str) else []
    if len(values) != 1:
        return response
    try:
        token = renew_access_token(manager, values[0], max_session=max_session)
    except NotRenewable as why:
        logger.debug("access cookie not renewed: %s", why)
        return response
    except JWTWSGIError as error:
        logger.info("access cookie not renewed: %s", error.code)
        return response
    except Exception as exc:  # noqa: BLE001 - never into the server: the request succeeded
        logger.warning("access cookie not renewed: unexpected %s", type(exc).__name__)
        return response
    return set_access_cookies(response, token, manager=manager)


def _check_response(response: Any) -> None:
    if isinstance(response, list):
        return
    headers = getattr(response, "headers", None)
    if headers is None or not callable(getattr(headers, "add", None)):
        raise TypeError("response must be a webob or werkzeug Response or a list of "
                        f"(name, value) header tuples, not {type(response).__name__}")
