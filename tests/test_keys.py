"""Keys (jwt_wsgi.keys): secrets and PEM keys checked once, and KeySet, which picks the key
a token's ``alg`` and ``kid`` may use.

The KeySet cases build real keys and real signatures (tests.harness.sign), then ask the
set which verifier it hands out for a header and whether that verifier takes the token's
signature: a key that is found but cannot verify would pass ``find`` and fail later, so
both are checked.
"""

from __future__ import annotations

import datetime
import re
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from jwt_wsgi import ConfigError, SecurityWarning
from jwt_wsgi.keys import (
    MIN_HMAC_BYTES,
    NO_HMAC_KEY_MESSAGE,
    KeySet,
    check_algorithms,
    check_key_fits,
    hmac_secret,
    load_private_pem,
    load_public_pem,
    public_jwk,
    verifier,
)
from tests.harness import SECRET, keys, segment, sign

MESSAGE = f"{segment({'alg': 'RS256'})}.{segment({'sub': 'alice'})}".encode()


def _pem(key: Any) -> bytes:
    data: bytes = key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def _private_pem(key: Any, password: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    data: bytes = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
    return data


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1)
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


def _signature(token: str) -> tuple[bytes, bytes]:
    """The signing input and the raw signature of a compact token."""
    import base64

    head, _, sig = token.rpartition(".")
    return head.encode(), base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))


# -- HMAC secrets ------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "message"), [
    pytest.param(None, re.escape(NO_HMAC_KEY_MESSAGE), id="missing"),
    pytest.param("", "is empty", id="empty"),
    pytest.param("   \n", "is empty", id="blank"),
    pytest.param(b"", "is empty", id="empty-bytes"),
    pytest.param("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
                 "looks like a public or private key", id="pem-public-key"),
    pytest.param("ssh-rsa AAAAB3NzaC1yc2E user@host", "looks like a public or private key",
                 id="ssh-public-key"),
])
def test_an_hmac_secret_that_cannot_work_is_refused(secret: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        hmac_secret(secret)


def test_a_real_public_key_is_no_hmac_secret() -> None:
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        hmac_secret(keys().public("rsa", "pem"))


@pytest.mark.parametrize(("secret", "warns"), [
    pytest.param("s" * (MIN_HMAC_BYTES - 1), True, id="one-byte-short"),
    pytest.param("s" * MIN_HMAC_BYTES, False, id="exactly-enough"),
    pytest.param("é" * (MIN_HMAC_BYTES // 2), False, id="counted-in-utf8-bytes"),
    pytest.param(b"\x00" * MIN_HMAC_BYTES, False, id="bytes"),
])
def test_a_short_secret_warns_and_never_shows_itself(secret: str | bytes, warns: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = hmac_secret(secret)
    assert raw == (secret.encode() if isinstance(secret, str) else secret)
    found = [w for w in caught if issubclass(w.category, SecurityWarning)]
    assert bool(found) is warns
    assert all(str(secret) not in str(w.message) for w in found)


# -- PEM keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519", "certificate"])
def test_a_public_pem_loads(kind: str) -> None:
    pair = keys()
    data = {"rsa": lambda: _pem(pair.rsa_private.public_key()),
            "ec": lambda: _pem(pair.ec_private.public_key()),
            "ed25519": lambda: _pem(ed25519.Ed25519PrivateKey.generate().public_key()),
            "certificate": lambda: _certificate(pair.rsa_private)}[kind]()
    key = load_public_pem(data)
    if kind == "certificate":
        assert key.public_numbers() == pair.rsa_private.public_key().public_numbers()  # type: ignore[union-attr]
    assert load_public_pem(data.decode()) is not None  # text works as bytes do


@pytest.mark.parametrize(("make", "message"), [
    pytest.param(lambda: b"not a key", "not a PEM public key", id="garbage"),
    pytest.param(lambda: _private_pem(keys().rsa_private), "not a PEM public key",
                 id="a-private-key"),
    pytest.param(lambda: keys().public("rsa", "der"), "not a PEM public key", id="der"),
    pytest.param(lambda: _pem(dsa.generate_private_key(1024).public_key()),
                 "must be an RSA, EC, Ed25519 or Ed448 key", id="dsa"),
])
def test_a_public_pem_that_cannot_work_is_refused(make: Any, message: str) -> None:
    data = make()
    with pytest.raises(ConfigError, match=message) as raised:
        load_public_pem(data, "public_key")
    assert data.decode("latin-1") not in str(raised.value)  # no key material in the message
    # the library's own exception (which may quote the input) is not chained on
    error = raised.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


@pytest.mark.parametrize(("make", "message"), [
    pytest.param(lambda: _private_pem(keys().rsa_private, b"pw"),
                 "not an unencrypted PEM private key", id="encrypted"),
    pytest.param(lambda: keys().public("rsa", "pem"), "not an unencrypted PEM private key",
                 id="a-public-key"),
    pytest.param(lambda: _private_pem(dsa.generate_private_key(1024)),
                 "must be an RSA, EC, Ed25519 or Ed448 key", id="dsa"),
])
def test_a_private_pem_that_cannot_work_is_refused(make: Any, message: str) -> None:
    data = make()
    with pytest.raises(ConfigError, match=message) as raised:
        load_private_pem(data)
    assert "PRIVATE KEY" not in str(raised.value) and data.decode() not in str(raised.value)


def test_a_private_pem_loads_and_signs_what_its_public_half_verifies() -> None:
    private = load_private_pem(_private_pem(keys().ec_private))
    token = sign({"alg": "ES256"}, {"sub": "a"}, private)
    public = load_public_pem(keys().public("ec", "pem"))
    assert verifier(public, "ES256").verify(*_signature(token))


# -- which key fits which algorithm --------------------------------------------------------


@pytest.mark.parametrize(("key", "algorithm", "message"), [
    pytest.param("rsa", "ES256", "is an RSA key; ES256 needs an EC key", id="rsa-for-ec"),
    pytest.param("ec", "RS256", "is an EC key; RS256 needs an RSA key", id="ec-for-rsa"),
    pytest.param("ec", "ES384", "is on curve secp256r1; ES384 needs secp384r1",
                 id="wrong-curve"),
    pytest.param("ec", "EdDSA", "is an EC key; EdDSA needs an Ed25519 or Ed448 key",
                 id="ec-for-eddsa"),
    pytest.param("rsa", "HS256", "is an RSA key; HS256 is HMAC and needs secret_key",
                 id="rsa-for-hmac"),
])
def test_a_key_that_does_not_fit_its_algorithm_is_refused(key: str, algorithm: str,
                                                          message: str) -> None:
    public = (keys().rsa_private if key == "rsa" else keys().ec_private).public_key()
    with pytest.raises(ConfigError, match=message):
        check_key_fits(public, algorithm, "public_key")


def test_a_small_rsa_key_warns() -> None:
    with pytest.warns(SecurityWarning, match="1024-bit RSA key"):
        check_key_fits(rsa.generate_private_key(65537, 1024).public_key(), "RS256", "key")


@pytest.mark.parametrize(("algorithms", "message"), [
    pytest.param(["none"], "'none' algorithm is never allowed", id="none"),
    pytest.param(["RS256", " NONE "], "'none' algorithm is never allowed", id="none-spelt"),
    pytest.param(["HS256", "RS256"], "HMAC and public-key algorithms", id="hmac-and-rsa"),
    pytest.param(["ES256", "HS512"], "HMAC and public-key algorithms", id="ec-and-hmac"),
    pytest.param(["RS257"], "unsupported algorithm 'RS257'", id="unknown"),
])
def test_algorithm_lists_that_cannot_be_safe_are_refused(algorithms: list[str],
                                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_algorithms(algorithms)


# -- KeySet: which key a token gets ------------------------------------------------------


def _rsa_set() -> tuple[KeySet, dict[str, Any]]:
    """Two RSA keys with kids (a JWKS) and one HMAC secret without a kid."""
    first = keys().rsa_private
    second = rsa.generate_private_key(65537, 2048)
    key_set = KeySet()
    added = key_set.add_jwks({"keys": [public_jwk(first.public_key(), "one", "RS256"),
                                       public_jwk(second.public_key(), "two", "RS256")]},
                             ["RS256"])
    assert added == 2
    return key_set, {"one": first, "two": second}


@pytest.mark.parametrize(("kid", "signed_by", "found", "verifies"), [
    pytest.param("one", "one", True, True, id="kid-names-its-key"),
    pytest.param("two", "two", True, True, id="the-other-kid"),
    pytest.param("two", "one", True, False, id="kid-of-another-key"),
    pytest.param("three", "one", False, False, id="unknown-kid"),
    pytest.param(None, "one", False, False, id="no-kid-with-two-keys"),
    pytest.param(7, "one", False, False, id="kid-not-a-string"),
])
def test_a_jwks_key_is_found_by_its_kid_only(kid: Any, signed_by: str, found: bool,
                                             verifies: bool) -> None:
    key_set, private = _rsa_set()
    token = sign({"alg": "RS256"}, {"sub": "a"}, private[signed_by])
    key = key_set.find("RS256", kid)
    assert (key is not None) is found
    assert bool(key and key.verify(*_signature(token))) is verifies


def test_a_token_without_kid_uses_the_only_key_of_its_algorithm() -> None:
    key_set = KeySet()
    key_set.add_jwks({"keys": [public_jwk(keys().ec_private.public_key(), "ec", "ES256")]},
                     ["ES256", "RS256"])
    token = sign({"alg": "ES256"}, {"sub": "a"}, keys().ec_private)
    only = key_set.find("ES256", None)
    assert only is not None and only.verify(*_signature(token))
    assert key_set.find("RS256", None) is None  # no key bound to that algorithm


def test_a_key_without_kid_serves_every_kid_of_its_algorithm_only() -> None:
    key_set = KeySet()
    key_set.add(verifier(SECRET.encode(), "HS256"), "HS256")
    token = sign({"alg": "HS256"}, {"sub": "a"})
    for kid in (None, "anything", 3):
        key = key_set.find("HS256", kid)
        assert key is not None and key.verify(*_signature(token))
    assert key_set.find("HS384", None) is None


@pytest.mark.parametrize(("jwk", "allowed"), [
    pytest.param({"use": "enc"}, ["RS256"], id="encryption-key"),
    pytest.param({"key_ops": ["encrypt"]}, ["RS256"], id="key-ops-without-verify"),
    pytest.param({"key_ops": "verify"}, ["RS256"], id="key-ops-not-a-list"),
    pytest.param({"kid": 5}, ["RS256"], id="kid-not-a-string"),
    pytest.param({"alg": "RS512"}, ["RS256"], id="alg-not-allowed"),
    pytest.param({}, ["ES256"], id="kty-not-allowed"),
    pytest.param({"n": "!!"}, ["RS256"], id="malformed-modulus"),
])
def test_a_jwk_that_cannot_sign_for_us_is_left_out(jwk: dict[str, Any],
                                                   allowed: list[str]) -> None:
    usable = public_jwk(keys().rsa_private.public_key(), "k", "RS256")
    key_set = KeySet()
    assert key_set.add_jwks({"keys": [{**usable, **jwk}]}, allowed) == 0
    assert key_set.find("RS256", "k") is None and not key_set


@pytest.mark.parametrize("jwks", [
    pytest.param({}, id="no-keys-member"),
    pytest.param({"keys": "x"}, id="keys-not-a-list"),
    pytest.param({"keys": [1, None, "k"]}, id="members-not-objects"),
])
def test_a_malformed_jwks_adds_nothing_and_raises_nothing(jwks: dict[str, Any]) -> None:
    assert KeySet().add_jwks(jwks, ["RS256"]) == 0


def test_a_jwk_verifies_only_under_the_algorithm_it_was_added_for() -> None:
    """An RSA key published for RS256 is no PS256 or RS512 key, even where both are allowed."""
    key_set = KeySet()
    key_set.add_jwks({"keys": [public_jwk(keys().rsa_private.public_key(), "k", "RS256")]},
                     ["RS256", "PS256", "RS512"])
    assert key_set.find("RS256", "k") is not None
    assert key_set.find("PS256", "k") is None and key_set.find("RS512", "k") is None


# -- KeySet: generations ------------------------------------------------------------------


def test_every_change_moves_the_generation_here_and_in_the_parent() -> None:
    parent, child = KeySet(), KeySet()
    child.parent = parent
    seen = [(child.generation, parent.generation)]
    child.add(verifier(SECRET.encode(), "HS256"), "HS256")
    seen.append((child.generation, parent.generation))
    child.add_jwks({"keys": [public_jwk(keys().ec_private.public_key(), "e", "ES256")]},
                   ["ES256"])
    seen.append((child.generation, parent.generation))
    child.replace_fetched({"keys": []}, ["ES256"])
    seen.append((child.generation, parent.generation))
    assert [c for c, _ in seen] == sorted({c for c, _ in seen})  # strictly growing
    assert [p for _, p in seen] == sorted({p for _, p in seen})


def test_a_fetched_set_replaces_the_last_one_whole() -> None:
    """A key the provider withdraws stops verifying at the next fetch, even when the new
    set holds no usable key at all."""
    first = public_jwk(keys().rsa_private.public_key(), "old", "RS256")
    second = public_jwk(rsa.generate_private_key(65537, 2048).public_key(), "new", "RS256")
    key_set = KeySet()
    assert key_set.replace_fetched({"keys": [first]}, ["RS256"]) == 1
    assert key_set.find("RS256", "old") is not None
    assert key_set.replace_fetched({"keys": [second]}, ["RS256"]) == 1
    assert key_set.find("RS256", "old") is None and key_set.find("RS256", "new") is not None
    assert key_set.replace_fetched({"keys": [{**second, "use": "enc"}]}, ["RS256"]) == 0
    assert key_set.find("RS256", "new") is None and not key_set


def test_static_keys_outlive_a_fetch() -> None:
    key_set = KeySet()
    key_set.add_jwks({"keys": [public_jwk(keys().ec_private.public_key(), "s", "ES256")]},
                     ["ES256"])
    key_set.replace_fetched({"keys": []}, ["ES256"])
    assert key_set.find("ES256", "s") is not None and key_set


def test_a_kid_in_both_groups_is_the_static_key() -> None:
    static = keys().ec_private
    fetched = ec.generate_private_key(ec.SECP256R1())
    key_set = KeySet()
    key_set.add_jwks({"keys": [public_jwk(static.public_key(), "same", "ES256")]}, ["ES256"])
    key_set.replace_fetched({"keys": [public_jwk(fetched.public_key(), "same", "ES256")]},
                            ["ES256"])
    key = key_set.find("ES256", "same")
    assert key is not None
    assert key.verify(*_signature(sign({"alg": "ES256"}, {"sub": "a"}, static)))
    assert not key.verify(*_signature(sign({"alg": "ES256"}, {"sub": "a"}, fetched)))


def test_a_verifier_never_raises_on_a_bad_signature() -> None:
    """Whatever the signature bytes, a verifier answers False (the codec turns that into
    one message); cryptography's exceptions stay inside."""
    public = keys().rsa_private.public_key()
    for algorithm in ("RS256", "PS256"):
        check = verifier(public, algorithm)
        for signature in (b"", b"\x00", b"\xff" * 512, b"x" * 256):
            assert check.verify(MESSAGE, signature) is False
    ec_check = verifier(keys().ec_private.public_key(), "ES256")
    for signature in (b"", b"\x00" * 64, b"\xff" * 64, b"x" * 63):
        assert ec_check.verify(MESSAGE, signature) is False
