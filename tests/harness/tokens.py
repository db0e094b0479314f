"""Token builders and key material: every token a test needs, honest or forged, comes from here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SECRET = "test-secret-" + "s" * 40
NOW = 1_800_000_000


def b64(raw: bytes | str) -> str:
    """base64url without padding (RFC 7515 2)."""
    if isinstance(raw, str):
        raw = raw.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(part: Any) -> str:
    """One token segment: bytes and text as given, anything else as its JSON."""
    if isinstance(part, (bytes, str)):
        return b64(part)
    return b64(json.dumps(part).encode())


def forge(header: Any, claims: Any, signature: bytes = b"sig") -> str:
    """A token with arbitrary header and claims and a signature that proves nothing."""
    return f"{segment(header)}.{segment(claims)}.{b64(signature)}"


def sign(header: Any, claims: Any, key: Any = SECRET, alg: str | None = None) -> str:
    """Sign header and claims (dicts, or JSON text as given) with any key, as an attacker could.

    ``key`` is a secret (text or bytes) for HS*, or a cryptography private key for RS*, PS*
    and ES*. ``alg`` is the header's unless given: give it to sign with one algorithm under a
    header that names another.
    """
    alg = alg or header["alg"]
    signing_input = f"{segment(header)}.{segment(claims)}".encode()
    bits = alg[2:]
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[bits]()
    if alg.startswith("HS"):
        secret = key.encode() if isinstance(key, str) else key
        signature = hmac.new(secret, signing_input, getattr(hashlib, "sha" + bits)).digest()
    elif alg.startswith("RS"):
        signature = key.sign(signing_input, padding.PKCS1v15(), digest)
    elif alg.startswith("PS"):
        signature = key.sign(signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size),
                             digest)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode()}.{b64(signature)}"


def sign_hs256(header: Any, claims: Any, secret: str = SECRET) -> str:
    """:func:`sign` with HS256 whatever the header says (the test secret unless given)."""
    return sign(header, claims, secret, "HS256")


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Keys:
    """One RSA and one EC (P-256) key pair in the forms an attacker might try."""

    rsa_private: rsa.RSAPrivateKey
    ec_private: ec.EllipticCurvePrivateKey

    def rsa_private_pem(self) -> bytes:
        return self.rsa_private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def ec_private_pem(self) -> bytes:
        return self.ec_private.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())

    def public(self, kind: str, encoding: str) -> bytes:
        key = (self.rsa_private if kind == "rsa" else self.ec_private).public_key()
        if encoding == "pem":
            return key.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        if encoding == "pkcs1" and kind == "rsa":
            return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        if encoding == "der":
            return key.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        if encoding == "ssh":
            return key.public_bytes(serialization.Encoding.OpenSSH,
                                    serialization.PublicFormat.OpenSSH)
        raise ValueError(encoding)


_KEYS: Keys | None = None


def keys() -> Keys:
    """Generated once per session (RSA generation is slow on a busy machine)."""
    global _KEYS
    if _KEYS is None:
        _KEYS = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                     ec.generate_private_key(ec.SECP256R1()))
    return _KEYS
