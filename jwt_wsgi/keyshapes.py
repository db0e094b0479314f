"""Recognising key material in any of the shapes people paste it in.

An HMAC secret that is really a public key is the classic algorithm-confusion hole
(RFC 8725 section 2.1; CVE-2024-33663 was an OpenSSH ECDSA key that a PEM-only check let
through): whoever knows the public key can sign tokens. :func:`looks_like_key` is asked
once, when a manager is built. It reads the secret the ways a deployment may have wrapped
it: as text (PEM or RFC 4716 armour, an OpenSSH line, a JWK or JWKS in JSON, YAML, TOML or
a Python ``repr``), and then again inside every layer of encoding it finds (base64,
base64url, hex with or without ``0x`` and separators, percent-encoding, JSON string
escapes, UTF-16), down to binary forms (DER, X.509, an OpenSSH blob, an uncompressed EC
point). A random secret in the usual shapes (``secrets.token_hex``, ``token_urlsafe``,
``token_bytes``, base64 of random bytes) never matches.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Armour of PEM and RFC 4716 ("---- BEGIN SSH2 PUBLIC KEY ----"), in any letter case.
_ARMOR = re.compile(rb"-{3,5} ?BEGIN [A-Z0-9 ]*(?:KEY|CERTIFICATE)", re.IGNORECASE)
# The key type names OpenSSH writes before a key (also inside authorized_keys options and
# for certificates), and which its binary blobs start with.
_SSH_TYPES = (rb"ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|"
              rb"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com")
_SSH_LINE = re.compile(rb"(?:^|[\s\"'=,])(?:" + _SSH_TYPES
                       + rb")(?:-cert-v01@openssh\.com)?\s+AAAA")
_SSH_BLOB_TYPE = re.compile(rb"(?:" + _SSH_TYPES + rb")(?:-cert-v01@openssh\.com)?")
# A JWK member in JSON, a repr, YAML, TOML or a JS object: "kty": , 'kty': , kty: , kty = .
_JWK_MEMBER = re.compile(rb"""(?:^|[\s{,;"'(\[])kty["']?\s*[:=]""", re.MULTILINE)
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{40,}={0,2}")
_HEX_RUN = re.compile(rb"(?:0[xX])?((?:[0-9A-Fa-f]{2}[:\-]?){32,})")
# Line breaks as people escape them in one-line settings: \n, \\n, \r, \u000a, <br>.
_ESCAPED_BREAK = re.compile(rb"(?:\\+[rn]|\\u000[aAdD]|<br\s*/?>)")
_JSON_ESCAPE = re.compile(rb"\\u([0-9A-Fa-f]{4})")
_COMPRESSED = {33: (ec.SECP256R1(), ec.SECP256K1()), 49: (ec.SECP384R1(),),
               67: (ec.SECP521R1(),)}
_UNCOMPRESSED = {2 * size - 1: curves for size, curves in _COMPRESSED.items()}
# A compressed point written the way web3 tools print keys: 0x02... / 0x03...
_PREFIXED_POINT = re.compile(rb"0[xX](0[23](?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96}|[0-9A-Fa-f]{130}))")
_DEPTH = 3


def looks_like_key(raw: bytes) -> bool:
    """True when ``raw`` holds a public key, certificate or JWK in any usual shape."""
    return _looks_like_key(raw, _DEPTH)


def _looks_like_key(raw: bytes, depth: int) -> bool:
    for text in _texts(raw):
        if _ARMOR.search(text) or _SSH_LINE.search(text) or _JWK_MEMBER.search(text):
            return True
        if (point := _PREFIXED_POINT.fullmatch(text)) and _is_compressed_point(
                bytes.fromhex(point.group(1).decode("ascii"))):
            return True
        for data in _decodings(text):
            if _is_binary_key(data) or (depth and data != raw and _looks_like_key(data, depth - 1)):
                return True
    return _is_binary_key(raw) or _is_binary_key(raw.strip())


def _texts(raw: bytes) -> Iterator[bytes]:
    """``raw`` as text: as given and normalised (BOM, quotes, escapes), and as UTF-16."""
    bom = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    if bom or (len(raw) > 8 and raw[1::2].count(0) * 2 >= len(raw) - 2):
        with contextlib.suppress(UnicodeDecodeError):
            raw = raw.decode("utf-16" if bom else "utf-16-le").encode("utf-8")
    yield raw
    text = raw.strip().removeprefix(b"\xef\xbb\xbf").strip()
    text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"),
                            text)
    text = _ESCAPED_BREAK.sub(b"\n", text).replace(b'\\"', b'"').replace(b"\\/", b"/")
    while len(text) >= 2 and text[:1] == text[-1:] and text[:1] in (b'"', b"'", b"`"):
        text = text[1:-1].strip()
    yield text


def _decodings(text: bytes) -> Iterator[bytes]:
    """What the encoded runs inside ``text`` decode to: base64 and base64url runs (also
    a PEM body split over lines), hex runs, and the percent-decoded text."""
    compact = re.sub(rb"\s+", b"", text)
    for run in dict.fromkeys([*_BASE64_RUN.findall(compact), *_BASE64_RUN.findall(text)]):
        standard = run.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
        try:
            yield base64.b64decode(standard + b"=" * (-len(standard) % 4), validate=True)
        except (ValueError, binascii.Error):
            continue
    for digits in _HEX_RUN.findall(compact):
        yield bytes.fromhex(re.sub(rb"[:\-]", b"", digits).decode("ascii"))
    if b"%" in text:
        decoded = unquote_to_bytes(text)
        if decoded != text:
            yield decoded


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
    """An uncompressed SEC 1 point on a JOSE curve (or secp256k1), with or without its
    ``04`` prefix.

    Compressed points are left out here on purpose: about one random 33-byte string in
    200 is a valid compressed P-256 point, so counting them would refuse random secrets,
    while an uncompressed point (both coordinates on the curve) is never random.
    """
    if len(data) + 1 in _UNCOMPRESSED:
        data = b"\x04" + data
    if not data or data[0] != 4:
        return False
    return _on_a_curve(data, _UNCOMPRESSED.get(len(data), ()))


def _is_compressed_point(data: bytes) -> bool:
    """A compressed point; asked only of ``0x``-prefixed text (see :func:`_is_ec_point`)."""
    return _on_a_curve(data, _COMPRESSED.get(len(data), ()))


def _on_a_curve(data: bytes, curves: tuple[ec.EllipticCurve, ...]) -> bool:
    for curve in curves:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
        except ValueError:
            continue
        return True
    return False
