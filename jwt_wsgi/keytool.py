"""``jwt-wsgi keys``: make a new signing key, and print the public JWKS of a configuration.

::

    jwt-wsgi keys generate --algorithm ES256 --out next.pem     # a new private key, mode 0600
    jwt-wsgi keys generate --algorithm RS256 --format jwk       # the same as a private JWK
    jwt-wsgi keys generate --algorithm HS256                    # a random HMAC secret
    jwt-wsgi keys jwks --config jwt.toml                        # what to publish
    jwt-wsgi keys jwks --key-file next.pem --key-file old.pem   # the same from key files
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .algorithms import ALGORITHMS, EC_CURVES, HMAC_ALGORITHMS, RSA_ALGORITHMS
from .errors import ConfigError
from .jwk import private_jwk, public_jwk, thumbprint
from .keys import load_private_pem, load_public_pem

_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}
_HMAC_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def add_commands(commands: Any) -> None:
    """Add ``keys generate`` and ``keys jwks`` to the CLI's subcommands."""
    keys = commands.add_parser("keys", help="make a signing key; print a configuration's JWKS")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    generate = actions.add_parser("generate", help="a new private key (or HMAC secret)")
    generate.add_argument("--algorithm", default="ES256", choices=sorted(ALGORITHMS),
                          help="the algorithm the key is for (default ES256)")
    generate.add_argument("--bits", type=int, default=3072, help="RSA key size (default 3072)")
    generate.add_argument("--format", choices=("pem", "jwk"), default="pem",
                          help="PEM (PKCS#8; for HMAC the secret itself) or a private JWK")
    generate.add_argument("--out", metavar="FILE",
                          help="write the key to FILE, readable by its owner only")
    jwks = actions.add_parser("jwks", help="the public JWKS to publish for a configuration")
    source = jwks.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="a TOML file with a [jwt] table")
    source.add_argument("--key-file", action="append", metavar="PEM",
                        help="a private or public PEM key; repeatable, signing key first")
    jwks.add_argument("--algorithm", help="the algorithm of --key-file keys (default: from "
                                          "the key: RS256, ES256/384/512 or EdDSA)")


def run(args: argparse.Namespace) -> int:
    if args.keys_command == "generate":
        return _generate(args)
    return _jwks(args)


def _generate(args: argparse.Namespace) -> int:
    algorithm = args.algorithm
    if algorithm in HMAC_ALGORITHMS:
        raw = secrets.token_bytes(_HMAC_BYTES[algorithm])
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if args.format == "jwk":
            text = json.dumps({"kty": "oct", "alg": algorithm, "k": text}, indent=2)
        return _emit(text + "\n", args.out)
    key = _new_key(algorithm, args.bits)
    if args.format == "jwk":
        jwk = private_jwk(key, "", algorithm)
        jwk["kid"] = thumbprint(jwk)
        return _emit(json.dumps(jwk, indent=2) + "\n", args.out)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return _emit(pem, args.out)


def _new_key(algorithm: str, bits: int) -> Any:
    if algorithm in RSA_ALGORITHMS:
        if not 2048 <= bits <= 8192:
            raise ConfigError("--bits must be between 2048 and 8192")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if algorithm in EC_CURVES:
        return ec.generate_private_key(_CURVES[EC_CURVES[algorithm]])
    if algorithm == "Ed448":
        return ed448.Ed448PrivateKey.generate()
    return ed25519.Ed25519PrivateKey.generate()  # EdDSA, Ed25519


def _emit(text: str, out: str | None) -> int:
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        # Created owner-only, never widened after the fact; an existing file is not replaced.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{out} exists; choose another file (a key is never overwritten)") \
            from None
    except OSError as exc:
        raise ConfigError(f"cannot write {out} ({exc.strerror})") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"jwt-wsgi: wrote {out} (mode 0600)", file=sys.stderr)
    return 0


def _jwks(args: argparse.Namespace) -> int:
    if args.config:
        from .config import load_config

        manager = load_config(args.config).manager
        try:
            document = manager.jwks()
        except RuntimeError as exc:
            raise ConfigError(str(exc)) from None
    else:
        document = {"keys": [_public(path, args.algorithm) for path in args.key_file]}
    print(json.dumps(document, indent=2))
    return 0


def _public(path: str, algorithm: str | None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            material = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})") from None
    if "PRIVATE KEY" in material:
        public: Any = load_private_pem(material).public_key()
    else:
        public = load_public_pem(material, path)
    alg = algorithm or _default_algorithm(public)
    jwk = public_jwk(public, "", alg)
    jwk["kid"] = thumbprint(jwk)
    return jwk


def _default_algorithm(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {v: k for k, v in EC_CURVES.items()}[key.curve.name]
    return "EdDSA"
