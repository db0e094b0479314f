"""Tokens: strict RFC 7515 compact parsing, signature checks and RFC 7519 claim rules.

python-jose's key objects do the cryptography; everything around them (the compact
form, base64url, JSON, the header, the claims) is checked here, more strictly than
``jose.jwt.decode`` does: the token is parsed once, time claims must be JSON numbers,
``crit`` and encrypted tokens are refused, an unexpected ``aud`` is refused, and every
failure becomes one of the errors in :mod:`jwt_wsgi.errors` with a fixed message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeGuard

from .errors import (
    AlgorithmNotAllowedError,
    AudienceInvalidError,
    ClaimInvalidError,
    ExpiredTokenError,
    HeaderInvalidError,
    IssuerInvalidError,
    JWTWSGIError,
    KeyUnknownError,
    SignatureInvalidError,
    TokenLifetimeTooLongError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenTypeInvalidError,
)
from .keys import Signer, Verifier
from .settings import Settings

# RFC 7515 7.1: three base64url segments, no padding, nothing else (fullmatch only). What
# passes TokenCodec.verify matches it by construction; it chooses the message of a refusal.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The latest NumericDate we accept: 9999-12-31T23:59:59Z. Larger values are nonsense or overflow bait.
MAX_NUMERIC_DATE = 253402300799
TIME_CLAIMS = ("exp", "nbf", "iat")
# RFC 8725 3.11: explicit typing. A token typed as something else is not an access token.
#: The types that mean "access token" wherever a token states one: the JOSE header
#: ``typ`` (RFC 7519 ``JWT``, RFC 9068 ``at+jwt``) and the payload ``typ`` some identity
#: providers set (Keycloak: ``Bearer``; its ``ID``, ``Refresh``, ``Offline``, ``Logout``
#: and action tokens are refused). Compared lower-cased, without ``application/``.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "bearer"})
#: Claims OpenID Connect defines for ID tokens only (Core 3.1.3.6, 3.3.2.11; FAPI s_hash):
#: a token holding one is an ID token, of type ``id``. ``nonce`` is not among them: some
#: providers copy it into access tokens.
ID_TOKEN_CLAIMS = ("at_hash", "c_hash", "s_hash")
#: How revocation stores name what is not a token (:mod:`jwt_wsgi.rotation`): a revoked
#: family, a used refresh token. A ``jti`` spelled so would revoke them, so no token with
#: one verifies (ours are UUIDs).
RESERVED_JTI_PREFIXES = ("family:", "consumed:")
# Header parameters that would change how the token must be processed; we implement none.
_REFUSED_HEADERS = ("crit", "enc", "zip", "b64")
RESERVED_ENCODE_HEADERS = frozenset({"alg", *_REFUSED_HEADERS})

KeyLookup = Callable[[str, Any], "Verifier | None"]


class Token(NamedTuple):
    """A verified token: its JOSE header and its claims, dicts owned by whoever got them.

    A tuple still, so ``header, claims = manager.verify(token)`` reads as it always did.
    """

    header: dict[str, Any]
    claims: dict[str, Any]


#: Builds a :class:`Token` without NamedTuple's keyword-handling ``__new__`` (the cached
#: path makes one per request).
_new_tuple = tuple.__new__


def make_token(header: dict[str, Any], claims: dict[str, Any]) -> Token:
    return _new_tuple(Token, (header, claims))


def token_type(value: str) -> str:
    """A ``typ`` value as compared: lower-cased, without an ``application/`` prefix
    (RFC 7515 4.1.9)."""
    return value.strip().lower().removeprefix("application/")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


# Duplicate member names are refused everywhere (RFC 7515 5.2 allows either refusal or
# last-wins; refusal closes the gap between parsers that pick different duplicates).
_JSON = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_no_constant)
_SCAN: Callable[[str, int], tuple[Any, int]] = _JSON.scan_once  # type: ignore[attr-defined]


# base64url -> base64 for binascii; '+', '/' and '=' are not base64url, so they become a
# character that binascii's strict mode refuses.
_URLSAFE = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"", b"==", b"=")
# With 2 or 3 characters in the last quantum, the unused low bits of the last one must be 0.
_CANONICAL_LAST = ("", "", "AQgw", "AEIMQUYcgkosw048")


def b64decode(segment: str) -> bytes:
    """Strict base64url: no padding, no stray characters, canonical trailing bits."""
    rest = len(segment) % 4
    if rest == 1:
        raise ValueError("impossible base64url length")
    if rest and segment[-1] not in _CANONICAL_LAST[rest]:
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(segment.encode("ascii").translate(_URLSAFE) + _PADDING[rest],
                               strict_mode=True)


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


#: The deepest nesting of objects and arrays taken in a header or payload, the outer object
#: being level 1. Real tokens use two or three levels; a limit far below the recursion limit
#: means no recursive walk of the claims (the token cache's copies, a blocklist loader's
#: copies, the app's own code) can fail on a token that verified.
MAX_JSON_DEPTH = 32
_CONTAINERS = (dict, list)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether decoded JSON nests more than ``limit`` levels (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) in _CONTAINERS:
                stack.append((child, depth + 1))
    return False


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """UTF-8 JSON text holding one object, with unique member names and no NaN, nested
    at most :data:`MAX_JSON_DEPTH` levels."""
    text = raw.decode("utf-8")
    try:
        # The decoder's scanner straight away: the usual token has no whitespace around
        # its object. Anything else goes to the full decoder, which says what is wrong.
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        value = _JSON.decode(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    # Deeper nesting needs more opening brackets than the limit; counting them is a C loop,
    # so the walk runs only for the rare text that has that many (strings included).
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError("JSON nested too deeply")
    return value


def is_numeric_date(value: Any) -> TypeGuard[float]:
    """A JSON number usable as an RFC 7519 NumericDate (0 to :data:`MAX_NUMERIC_DATE`)."""
    kind = type(value)
    # The range test refuses NaN and infinities, and unlike math.isfinite(value)
    # it cannot overflow on a 400-digit integer.
    return (kind is int or kind is float) and 0 <= value <= MAX_NUMERIC_DATE


class TokenCodec:
    """Encode and decode tokens for one manager's settings and keys."""

    def __init__(
        self,
        settings: Settings,
        find_key: KeyLookup,
        signing_key: Signer | None,
        signing_headers: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._find_key = find_key
        self._signing_key = signing_key
        self._signing_headers = dict(signing_headers or {})
        self._allowed = frozenset(settings.allowed_algorithms)
        self._audience = frozenset(settings.audience)
        self._issuer = settings.issuer
        self._identity_claim = settings.identity_claim
        self._max_size = settings.max_token_size
        self._types = ACCESS_TOKEN_TYPES | {token_type(t) for t in settings.accept_token_types}
        self._id_tokens_accepted = "id" in self._types
        #: The clock used for every time rule (``JWTManager(clock=...)``).
        self.clock = clock

    # -- reading ------------------------------------------------------------------

    def verify(self, token: str) -> Token:
        """Parse and verify a token; check every rule that does not depend on the clock.

        :return: the header and claims, fresh dicts owned by the caller.
        :raises InvalidTokenError: for any defect, with a fixed message.
        """
        if len(token) > self._max_size:
            raise TokenTooLargeError()
        try:
            return self._verify(token)
        except JWTWSGIError:
            # The compact form is judged only once something failed: a token that passes
            # has two dots and three non-empty segments that strict base64url decoding took
            # (no other character gets through it), so the regex could refuse none. It
            # keeps the answer a token not in compact form always got, whatever failed.
            if not _COMPACT.fullmatch(token):
                raise TokenMalformedError("Not enough segments" if token.count(".") < 2
                                          else "Invalid token format") from None
            raise

    def _verify(self, token: str) -> Token:
        segments = token.split(".")
        if len(segments) != 3 or not token.isascii() or not all(segments):
            raise TokenMalformedError("Invalid token format")
        header_b64, payload_b64, signature_b64 = segments
        try:
            header = parse_json_object(b64decode(header_b64))
        except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
            raise TokenMalformedError("Invalid header") from None
        verifier = self._check_header(header)
        try:
            signature = b64decode(signature_b64)
        except (ValueError, binascii.Error):
            raise TokenMalformedError("Invalid signature encoding") from None
        signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
        if not verifier.verify(signing_input, signature):
            raise SignatureInvalidError()
        try:
            claims = parse_json_object(b64decode(payload_b64))
        except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
            raise TokenMalformedError("Invalid payload") from None
        self._check_claims(claims)
        return make_token(header, claims)

    def _check_header(self, header: dict[str, Any]) -> Verifier:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._allowed:
            raise AlgorithmNotAllowedError()
        for name in _REFUSED_HEADERS:
            if name in header:
                raise HeaderInvalidError(f"Unsupported header parameter: {name}")
        # Present means checked: a JSON null is not the same as an absent parameter.
        typ = header.get("typ")
        if "typ" in header and (not isinstance(typ, str) or token_type(typ) not in self._types):
            raise TokenTypeInvalidError()
        kid = header.get("kid")
        if "kid" in header and not isinstance(kid, str):
            raise HeaderInvalidError("Invalid key id")
        verifier = self._find_key(alg, kid)
        if verifier is None:
            raise KeyUnknownError()
        return verifier

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """``max_token_lifetime`` (see :func:`lifetime_problem`), whoever minted the token."""
        bound = self.settings.max_token_lifetime
        if bound is not None:
            problem = lifetime_problem(claims, bound.total_seconds())
            if problem is not None:
                raise TokenLifetimeTooLongError(problem)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        for name in TIME_CLAIMS:
            if name in claims and not is_numeric_date(claims[name]):
                raise ClaimInvalidError(f"Invalid claim: {name} must be a NumericDate", name)
        if "exp" not in claims and self.settings.require_exp:
            raise ClaimInvalidError("Missing claim: exp", "exp")
        if claims.get(self._identity_claim) is None:
            raise ClaimInvalidError(f"Missing claim: {self._identity_claim}",
                                    self._identity_claim)
        # RFC 7519 4.1.2 makes sub a string; another identity claim may hold any JSON value
        # (flask-jwt-extended's JWT_VERIFY_SUB checks sub only, wherever the identity is).
        if self.settings.verify_sub and not isinstance(claims.get("sub", ""), str):
            raise ClaimInvalidError("Invalid claim: sub must be a string", "sub")
        for name in ("jti", "type", "csrf", "scope"):
            if name in claims and not isinstance(claims[name], str):
                raise ClaimInvalidError(f"Invalid claim: {name} must be a string", name)
        if "jti" in claims and claims["jti"].startswith(RESERVED_JTI_PREFIXES):
            raise ClaimInvalidError("Invalid claim: jti", "jti")
        # Present means checked, as for the header: "scp": null is not an absent scp, and a
        # route's scope check must never meet a value it cannot read.
        scp = claims.get("scp")
        if "scp" in claims and not (isinstance(scp, str) or (
                isinstance(scp, list) and all(isinstance(s, str) for s in scp))):
            raise ClaimInvalidError("Invalid claim: scp must be a list of strings or a string",
                                    "scp")
        self._check_type(claims)
        self._check_lifetime(claims)
        fresh = claims.get("fresh", False)
        if not (isinstance(fresh, bool) or is_numeric_date(fresh)):
            raise ClaimInvalidError("Invalid claim: fresh", "fresh")
        self._check_audience(claims)
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise IssuerInvalidError("Invalid issuer", "iss")

    def _check_type(self, claims: dict[str, Any]) -> None:
        """Refuse what an identity provider issued for another purpose (an ID, refresh,
        logout or offline token): its audience may well be ours, its purpose is not."""
        typ = claims.get("typ")
        if "typ" in claims and (not isinstance(typ, str) or token_type(typ) not in self._types):
            raise TokenTypeInvalidError()
        if not self._id_tokens_accepted:
            for name in ID_TOKEN_CLAIMS:
                if name in claims:
                    raise TokenTypeInvalidError("ID tokens are not access tokens")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if "aud" not in claims:
            if self._audience:
                raise AudienceInvalidError("Missing claim: aud", "aud")
            return
        if not self._audience:
            # RFC 7519 4.1.3: a token meant for someone must not be taken by a party that is not named.
            raise AudienceInvalidError("Invalid audience", "aud")
        aud = claims["aud"]
        names = [aud] if isinstance(aud, str) else aud
        if not isinstance(names, list) or not names or not all(isinstance(a, str) for a in names):
            raise AudienceInvalidError("Invalid claim: aud", "aud")
        if self._audience.isdisjoint(names):
            raise AudienceInvalidError("Invalid audience", "aud")

    def check_times(self, claims: Mapping[str, Any], now: float | None = None,
                    allow_expired: bool = False) -> None:
        """RFC 7519 4.1.4-4.1.6 against the clock, with the configured leeway."""
        now = self.clock() if now is None else now
        leeway = self.settings.leeway
        exp = claims.get("exp")
        if exp is not None and not allow_expired and now >= exp + leeway:
            raise ExpiredTokenError()
        nbf = claims.get("nbf")
        if nbf is not None and nbf - leeway > now:
            raise TokenNotYetValidError("The token is not yet valid (nbf)")
        iat = claims.get("iat")
        if iat is not None and iat - leeway > now:
            raise TokenNotYetValidError("The token was issued in the future (iat)")

    # -- writing ------------------------------------------------------------------

    def encode(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign claims with the manager's private key or secret."""
        if self._signing_key is None:
            raise RuntimeError("this manager has no signing key: set secret_key or private_key")
        header: dict[str, Any] = {"alg": self.settings.algorithm, "typ": "JWT",
                                  **self._signing_headers}
        for name, value in (headers or {}).items():
            if name in RESERVED_ENCODE_HEADERS:
                raise ValueError(f"additional_headers may not set {name!r}")
            header[name] = value
        signing_input = (b64encode(_dumps(header)) + "." + b64encode(_dumps(claims))).encode()
        signature = self._signing_key.sign(signing_input)
        return signing_input.decode("ascii") + "." + b64encode(signature)


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"token content is not JSON-serializable: {exc}") from None


def lifetime_problem(claims: Mapping[str, Any], bound: float) -> str | None:
    """Why an access token's claims break ``max_token_lifetime`` (``None``: they keep it).

    As Kong's ``maximum_expiration``, an access token may not be valid for longer than
    ``bound`` seconds: ``exp - iat`` at most. Without ``exp`` or ``iat`` the lifetime is
    unknown (a token without ``iat`` could have been minted any time before its ``exp``),
    so such a token breaks the bound too. Refresh tokens (``type: refresh``) are bounded
    by ``refresh_token_expires`` instead, and never reach an access route.
    """
    if claims.get("type") == "refresh":
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not (is_numeric_date(exp) and is_numeric_date(iat)):
        return "Token lifetime unknown (exp and iat required)"
    if exp - iat > bound:
        return "Token lifetime too long"
    return None


def new_jti() -> str:
    return str(uuid.uuid4())
