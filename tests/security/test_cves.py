"""Known vulnerability shapes in JOSE libraries, and python-jose 3.5.0's leniencies.

- CVE-2024-33663 (python-jose < 3.4): algorithm confusion with OpenSSH ECDSA keys, which
  the PEM check missed, so a public key became an HMAC secret.
- CVE-2024-33664 (python-jose < 3.4): a JWE with ``zip: DEF`` decompressed without a limit.
  jwt_wsgi refuses JWE outright (five segments, or ``enc``/``zip`` in a JWS header).
- CVE-2022-21449 (Java, "psychic signatures"): an ECDSA signature of r = s = 0 verified.
- The leniencies are what ``jose.jwt.decode`` 3.5.0 accepts and jwt_wsgi refuses.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from typing import Any

import jose
import jose.jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from jwt_wsgi import ConfigError, JWTManager
from tests.harness import NOW, SECRET, Recorder, b64, bearer_call, keys, manager, sign, sign_hs256, wrap

CLAIMS = {"sub": "alice", "iat": NOW, "jti": "j-1", "type": "access", "fresh": False,
          "exp": NOW + 600}
JOSE_350 = jose.__version__ == "3.5.0"


def refused(jwt: JWTManager, token: str) -> bool:
    app = Recorder()
    answer = bearer_call(wrap(app, jwt), token)
    assert answer.status != 500 and token not in answer.body.decode("latin-1")
    return answer.status == 401 and app.calls == 0


# -- CVE-2024-33663: OpenSSH (and other non-PEM) public keys as HMAC secrets -----------------------

def _ssh_key(kind: str) -> bytes:
    private: Any
    if kind.startswith("ecdsa"):
        curve = {"ecdsa-p256": ec.SECP256R1(), "ecdsa-p384": ec.SECP384R1(),
                 "ecdsa-p521": ec.SECP521R1()}[kind]
        private = keys().ec_private if kind == "ecdsa-p256" else ec.generate_private_key(curve)
    elif kind == "rsa":
        private = keys().rsa_private
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH)


def _key_text(shape: str) -> bytes:
    ssh = _ssh_key("ecdsa-p256")
    k = keys()
    if shape.startswith("ssh-"):
        return _ssh_key(shape[4:])
    if shape == "ssh-with-comment":
        return ssh + b" user@host"
    if shape == "authorized-keys-options":
        return b'from="10.0.0.0/8",no-pty ' + ssh + b" user@host"
    if shape == "rfc4716-ssh2":
        body = ssh.split()[1].decode()
        return ("---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"victim\"\n"
                + "\n".join(body[i:i + 70] for i in range(0, len(body), 70))
                + "\n---- END SSH2 PUBLIC KEY ----\n").encode()
    if shape == "openssh-private":
        return k.ec_private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.OpenSSH,
                                          serialization.NoEncryption())
    if shape == "pem-body-without-armor":
        return b"".join(k.public("ec", "pem").splitlines()[1:-1])
    if shape == "der-base64":
        return base64.b64encode(k.public("rsa", "der"))
    if shape == "jwks-document":
        from jwt_wsgi.keys import public_jwk
        return json.dumps({"keys": [public_jwk(k.ec_private.public_key(), "k1", "ES256")]}).encode()
    raise AssertionError(shape)


KEY_SHAPES = ["ssh-ecdsa-p256", "ssh-ecdsa-p384", "ssh-ecdsa-p521", "ssh-rsa", "ssh-ed25519",
              "ssh-with-comment", "authorized-keys-options", "rfc4716-ssh2", "openssh-private",
              "pem-body-without-armor", "der-base64", "jwks-document"]


@pytest.mark.parametrize("shape", KEY_SHAPES)
def test_cve_2024_33663_key_text_is_not_an_hmac_secret(shape: str) -> None:
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        JWTManager(secret_key=_key_text(shape))
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        JWTManager.from_mapping({"JWT_SECRET_KEY": _key_text(shape).decode()})


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_cve_2024_33663_hs_token_signed_with_ssh_key_at_es256_manager(alg: str) -> None:
    jwt = manager(algorithm="ES256", public_key=keys().public("ec", "pem"))
    for shape in ("ssh-ecdsa-p256", "ssh-with-comment"):
        token = sign({"alg": alg, "typ": "JWT"}, CLAIMS, _key_text(shape))
        assert refused(jwt, token), shape


def test_cve_2024_33663_ssh_key_is_not_a_public_key_setting() -> None:
    with pytest.raises(ConfigError):
        JWTManager(algorithm="ES256", public_key=_key_text("ssh-ecdsa-p256"))


# -- CVE-2024-33664: JWE and compression are refused before any decompression ---------------------

def _deflate_bomb(size: int = 5_000_000) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(b"\x00" * size) + compressor.flush()


def _jwe_token(header: dict[str, Any]) -> str:
    bomb = _deflate_bomb()
    return ".".join([b64(json.dumps(header).encode()), "", b64(b"\x00" * 12), b64(bomb),
                     b64(b"\x00" * 16)])


JWE_CASES = [
    pytest.param(lambda: _jwe_token({"alg": "dir", "enc": "A128GCM", "zip": "DEF"}),
                 id="jwe-dir-deflate-bomb-five-segments"),
    pytest.param(lambda: _jwe_token({"alg": "HS256", "enc": "A128GCM", "zip": "DEF"}).replace("..", ".A."),
                 id="jwe-with-jws-alg-five-segments"),
    pytest.param(lambda: ".".join([b64(b'{"alg":"RSA-OAEP","enc":"A256GCM"}')] + ["AAAA"] * 4),
                 id="jwe-rsa-oaep-five-segments"),
    pytest.param(lambda: sign_hs256({"alg": "HS256", "zip": "DEF"}, _deflate_bomb(100_000)),
                 id="jws-with-zip-header-and-deflated-payload"),
    pytest.param(lambda: sign_hs256({"alg": "HS256", "enc": "A128GCM"}, CLAIMS), id="jws-with-enc-header"),
    pytest.param(lambda: sign_hs256({"alg": "dir", "enc": "A128GCM"}, CLAIMS), id="alg-dir"),
    pytest.param(lambda: sign_hs256({"alg": "A128KW"}, CLAIMS), id="alg-key-wrap"),
]


@pytest.mark.parametrize("make", JWE_CASES)
def test_cve_2024_33664_jwe_is_refused_outright(make: Any) -> None:
    token = make()
    for size in (8192, 10 * 1024 * 1024):
        assert refused(manager(max_token_size=size), token)


def test_jwe_message_names_no_decryption() -> None:
    app = Recorder()
    answer = bearer_call(wrap(app, manager(max_token_size=1 << 20)),
                         _jwe_token({"alg": "dir", "enc": "A128GCM", "zip": "DEF"}))
    assert answer.json == {"msg": "Invalid token format"}


# -- CVE-2022-21449: "psychic signatures" (r = s = 0) and other degenerate ECDSA values -----------

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.mark.parametrize(
    "signature",
    [pytest.param(b"\x00" * 64, id="r-and-s-zero"),
     pytest.param(P256_ORDER.to_bytes(32, "big") * 2, id="r-and-s-equal-curve-order"),
     pytest.param(b"\x00" * 31 + b"\x01" + b"\x00" * 31 + b"\x01", id="r-and-s-one"),
     pytest.param(b"\xff" * 64, id="r-and-s-all-ones"),
     pytest.param(b"\x00" * 63, id="one-byte-short"),
     pytest.param(b"", id="empty-but-encoded")],
)
def test_psychic_ecdsa_signatures_are_refused(signature: bytes) -> None:
    jwt = manager(algorithm="ES256", public_key=keys().public("ec", "pem"))
    head = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    token = f"{head}.{b64(json.dumps(CLAIMS).encode())}.{b64(signature) or 'A'}"
    assert refused(jwt, token)


def test_rsa_signature_of_zero_is_refused() -> None:
    jwt = manager(algorithm="RS256", public_key=keys().public("rsa", "pem"))
    head = b64(json.dumps({"alg": "RS256"}).encode())
    for signature in (b"\x00" * 256, b"\x00" * 255 + b"\x01", b"\x01"):
        assert refused(jwt, f"{head}.{b64(json.dumps(CLAIMS).encode())}.{b64(signature)}")


def test_token_signed_by_another_rsa_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwt = manager(algorithm="RS256", public_key=keys().public("rsa", "pem"))
    assert refused(jwt, sign({"alg": "RS256"}, CLAIMS, other))


# -- python-jose 3.5.0 leniencies: jose.jwt.decode accepts (or crashes), jwt_wsgi refuses ----------

def _real_time_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "jti": "j", "type": "access", "exp": now + 600, **changes}


def _leniency(case: str) -> str:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    if case == "exp-as-string":
        return sign_hs256(header, _real_time_claims(exp=str(now + 600)))
    if case == "exp-1e300":
        return sign_hs256(header, _real_time_claims(exp=1e300))
    if case == "iat-in-the-future":
        return sign_hs256(header, _real_time_claims(iat=now + 3600))
    if case == "unknown-crit":
        return sign_hs256({**header, "crit": ["x-must-understand"], "x-must-understand": 1},
                          _real_time_claims())
    if case == "duplicate-claims-last-wins":
        text = json.dumps(_real_time_claims(sub="alice"))[:-1] + ', "sub": "admin"}'
        return sign_hs256(json.dumps(header), text)
    if case == "padded-signature":
        return sign_hs256(header, _real_time_claims()) + "="
    if case == "nbf-as-list-raw-typeerror":
        return sign_hs256(header, _real_time_claims(nbf=[now]))
    raise AssertionError(case)


LENIENCIES = ["exp-as-string", "exp-1e300", "iat-in-the-future", "unknown-crit",
              "duplicate-claims-last-wins", "padded-signature", "nbf-as-list-raw-typeerror"]


@pytest.mark.parametrize("case", LENIENCIES)
def test_python_jose_leniency_is_refused(case: str) -> None:
    token = _leniency(case)
    if JOSE_350:  # documents the library's behaviour this suite was written against
        if case == "nbf-as-list-raw-typeerror":
            with pytest.raises(TypeError):
                jose.jwt.decode(token, SECRET, algorithms=["HS256"])
        else:
            assert jose.jwt.decode(token, SECRET, algorithms=["HS256"])["sub"] in ("alice", "admin")
    jwt = JWTManager(secret_key=SECRET)
    assert refused(jwt, token)


def test_python_jose_empty_hmac_key_on_encode_is_refused() -> None:
    if JOSE_350:
        assert jose.jwt.encode({"sub": "a"}, "", algorithm="HS256").count(".") == 2
    for empty in ("", b""):
        with pytest.raises(ConfigError, match="empty"):
            JWTManager(secret_key=empty)
    token = sign({"alg": "HS256"}, CLAIMS, b"")
    assert refused(manager(), token)
