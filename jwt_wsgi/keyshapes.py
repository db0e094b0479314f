"""Recognising key material in any of the shapes people paste it in.

An HMAC secret that is really a public key is the classic algorithm-confusion hole
(RFC 8725 section 2.1; CVE-2024-33663 was an OpenSSH ECDSA key that a PEM-only check let
through): whoever knows the public key can sign tokens. :func:`looks_like_key` is asked
once, when a manager is built, and errs on the side of refusing: a random secret never
matches, but a key in PEM or RFC 4716 armour, an OpenSSH line or bare blob, DER (raw,
base64, base64url or hex), an X.509 certificate, a raw EC point, or a JWK/JWKS (JSON, a
JSON list, a Python ``repr``) does, also behind a byte-order mark, quotes, or line
breaks written as a literal ``\\n``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Armour of PEM and RFC 4716 ("---- BEGIN SSH2 PUBLIC KEY ----").
_ARMOR = re.compile(rb"-{4,5} ?BEGIN ")
# The key type names OpenSSH writes before a key (also inside authorized_keys options and
# for certificates), and which its binary blobs start with.
_SSH_TYPES = (rb"ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|"
              rb"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com")
_SSH_LINE = re.compile(rb"(?:^|\s)(?:" + _SSH_TYPES + rb")(?:-cert-v01@openssh\.com)?\s+AAAA")
_SSH_BLOB_TYPE = re.compile(rb"(?:" + _SSH_TYPES + rb")(?:-cert-v01@openssh\.com)?")
# A JWK member name in JSON or a Python repr: {"kty": ...} or {'kty': ...}.
_JWK_MEMBER = re.compile(rb"""["']kty["']\s*:""")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/_\-=]{40,}")
_HEX_TEXT = re.compile(rb"(?:[0-9A-Fa-f]{2}:?){32,}")
_CURVES = (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1(), ec.SECP256K1())


def looks_like_key(raw: bytes) -> bool:
    """True when ``raw`` holds a public key, certificate or JWK in any usual shape."""
    text = _normalised(raw)
    if (_ARMOR.search(text) or _SSH_LINE.search(text) or _JWK_MEMBER.search(text)
            or text.startswith((b"ssh-", b"ecdsa-sha2-", b"sk-"))):
        return True
    return any(_is_binary_key(data) for data in _binary_readings(raw, text))


def _normalised(raw: bytes) -> bytes:
    """Without a byte-order mark, surrounding quotes and blanks; escaped line breaks undone."""
    text = raw.strip()
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    text = text.replace(b"\\r", b"\r").replace(b"\\n", b"\n").strip()
    while len(text) >= 2 and text[:1] == text[-1:] and text[:1] in (b'"', b"'"):
        text = text[1:-1].strip()
    return text


def _binary_readings(raw: bytes, text: bytes) -> Iterator[bytes]:
    """The bytes themselves, and what base64, base64url or hex text decodes to."""
    yield raw
    compact = re.sub(rb"\s+", b"", text)
    if _BASE64_TEXT.fullmatch(compact):
        standard = compact.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
        try:
            decoded = base64.b64decode(standard + b"=" * (-len(standard) % 4))
        except (ValueError, binascii.Error):
            decoded = b""
        yield decoded
    if _HEX_TEXT.fullmatch(compact):
        yield bytes.fromhex(compact.replace(b":", b"").decode("ascii"))


def _is_binary_key(data: bytes) -> bool:
    if _is_ssh_blob(data) or _is_ec_point(data):
        return True
    for loader in (serialization.load_der_public_key, x509.load_der_x509_certificate):
        try:
            loader(data)
        except Exception:  # noqa: BLE001, S112 - not this format
            continue
        return True
    return False


def _is_ssh_blob(data: bytes) -> bool:
    """The OpenSSH wire format: a 4-byte length, then the key type name."""
    if len(data) < 11:
        return False
    length = int.from_bytes(data[:4], "big")
    return 7 <= length <= 64 and _SSH_BLOB_TYPE.fullmatch(data[4:4 + length]) is not None


def _is_ec_point(data: bytes) -> bool:
    """An SEC 1 point on a curve JOSE uses (uncompressed or compressed)."""
    if len(data) not in (33, 49, 65, 67, 97, 133) or data[0] not in (2, 3, 4):
        return False
    for curve in _CURVES:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
        except ValueError:
            continue
        return True
    return False
