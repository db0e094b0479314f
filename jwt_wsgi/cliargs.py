"""What a person types on the ``jwt-wsgi`` command line, read and checked.

Kept apart from :mod:`jwt_wsgi.cli` (the commands): keys that do not fit the algorithm,
claims the command sets itself, ``--route PATTERN=POLICY`` items, and warnings shown as
one plain line. Every message names the option to use, never a Python setting.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .errors import ConfigError

#: The environment variable the commands read an HMAC secret from when no key is given
#: (the same name as the ``JWT_SECRET_KEY`` setting of Flask configs and ``[jwt]`` tables).
SECRET_ENV = "JWT_SECRET_KEY"  # noqa: S105 (a variable name, not a secret)

#: Claims every token gets from the command itself, and the option that sets each.
RESERVED_CLAIMS = {
    "type": "--refresh for a refresh token (access otherwise)",
    "exp": "--expires DURATION (or --expires never)",
    "fresh": "--fresh",
    "iat": "nothing: it is the minting time",
    "nbf": "nothing: it is the minting time",
    "jti": "nothing: each token gets a unique jti",
    "csrf": "nothing: each token gets its own CSRF value",
}


def check_extra_claims(claims: dict[str, Any], identity_claim: str) -> None:
    """Refuse ``--claim``/``--claims`` names that would silently replace what the command
    sets: the identity, the token type, the times, ``jti``, ``fresh``, ``csrf``.

    :raises ConfigError: naming the option that sets that claim.
    """
    for name in claims:
        if name == identity_claim:
            raise ConfigError(f"claim {name!r} is the identity; give it as the "
                              f"first argument: jwt-wsgi token IDENTITY")
        if name in RESERVED_CLAIMS:
            raise ConfigError(f"claim {name!r} is set by jwt-wsgi; use "
                              f"{RESERVED_CLAIMS[name]}")


def suggest_algorithm(material: str) -> str | None:
    """The algorithm a PEM key is for (``RS256``, ``ES256``, ``EdDSA``...), or None when
    ``material`` is no PEM key at all (an HMAC secret)."""
    if "-----BEGIN" not in material:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    data = material.encode()
    key: Any
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            return "RS256"  # a PEM we cannot read (a certificate, encrypted): name the usual
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp384r1": "ES384", "secp521r1": "ES512"}.get(key.curve.name, "ES256")
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey,
                        ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return "EdDSA"
    return "RS256"


def check_key_fits(algorithm: str, material: str, source: str) -> None:
    """A PEM key with an HMAC algorithm, or a secret with a public-key one, named in CLI terms.

    :param source: how the key was given (``--key-file k.pem``, ``JWT_SECRET_KEY``).
    """
    wanted = suggest_algorithm(material)
    if algorithm.upper().startswith("HS") and wanted is not None:
        raise ConfigError(f"{source} holds a PEM key, but --algorithm is {algorithm} (an HMAC "
                          f"secret's algorithm, the default); add --algorithm {wanted}")
    if not algorithm.upper().startswith("HS") and wanted is None:
        raise ConfigError(f"{source} holds no PEM key, but --algorithm {algorithm} needs one; "
                          f"for an HMAC secret use --algorithm HS256 (the default)")


def parse_route(item: str) -> tuple[str, Any]:
    """``--route "POST /login=public"`` or ``--route '/u/<int:id>={"require": ...}'``.

    The policy is a name or JSON object text; the pattern may hold ``=`` itself (werkzeug
    converter arguments such as ``<int(min=1):id>``), so a JSON policy is split at ``={``
    and a named one at the last ``=``.
    """
    brace = item.find("={")
    if brace >= 0:
        key, text = item[:brace], item[brace + 1:]
        try:
            policy: Any = json.loads(text)
        except ValueError:
            raise ConfigError(f"--route {item!r}: the policy after '=' is not JSON text; "
                              'write PATTERN={"require": "required", "scopes": ["a"]}') from None
    else:
        key, sep, policy = item.rpartition("=")
        if not sep:
            raise ConfigError(f"--route {item!r}: write [METHODS ]PATTERN=POLICY, such as "
                              "--route '/api/*=required' or --route 'POST /login=public'")
    key = key.strip()
    if not key:
        raise ConfigError(f"--route {item!r}: the pattern before '=' is empty")
    return key, policy.strip() if isinstance(policy, str) else policy


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the command line: one plain line, no source line."""
    print(f"jwt-wsgi: warning: {message}", file=file or sys.stderr)


def extra_claims(claims_json: str, items: Sequence[str]) -> dict[str, Any]:
    try:
        claims = json.loads(claims_json)
    except ValueError:
        raise ConfigError("--claims must be a JSON object") from None
    if not isinstance(claims, dict):
        raise ConfigError("--claims must be a JSON object")
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--claim {item!r}: write NAME=VALUE")
        try:
            claims[name] = json.loads(text)
        except ValueError:
            claims[name] = text
    return claims


def parse_expires(text: str | None) -> datetime.timedelta | bool | None:
    """``--expires``: None for the default lifetime, False for never, else a duration."""
    from .durations import to_lifetime

    if text is None:
        return None
    lifetime = to_lifetime("--expires", text)
    return False if lifetime is None else lifetime


def claim_headers(items: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        claim, sep, header = item.partition("=")
        if not sep or not claim or not header:
            raise ConfigError(f"--claim-header {item!r}: write CLAIM=Header-Name")
        headers[claim] = header
    return headers


def lifetime_text(claims: dict[str, Any]) -> str:
    """``valid 15 minutes``, ``valid 30 seconds``, ``never expires``."""
    if not isinstance(claims.get("exp"), (int, float)):
        return "never expires"
    seconds = int(claims["exp"] - claims["iat"])
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"valid {count} {unit}{'s' if count != 1 else ''}"
    return f"valid {seconds} second{'s' if seconds != 1 else ''}"
