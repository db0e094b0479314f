"""Keys (jwt_wsgi.keys): secrets and PEM keys checked once, and KeySet, which picks the key
a token's ``alg`` and ``kid`` may use.

The KeySet cases build real keys and real signatures (tests.harness.sign), then ask the
set which verifier it hands out for a header and whether that verifier takes the token's
signature: a key that is found but cannot verify would pass ``find`` and fail later, so
both are checked.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import traceback
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from jwt_wsgi import ConfigError, InvalidTokenError, JWTManager, SecurityWarning
from jwt_wsgi.jwk import private_jwk
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
    public_key_from_jwk,
    signer,
    thumbprint,
    verifier,
)
from tests.harness import NOW, SECRET, Clock, keys, segment, sign

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


# -- which key verifies which algorithm -----------------------------------------------------


def _ed25519() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _ed448() -> ed448.Ed448PrivateKey:
    return ed448.Ed448PrivateKey.generate()


@pytest.mark.parametrize(("algorithm", "private", "other"), [
    pytest.param("HS256", lambda: SECRET.encode(), "HS512", id="hs256-not-hs512"),
    pytest.param("RS256", lambda: keys().rsa_private, "RS512", id="rs256-not-rs512"),
    pytest.param("RS256", lambda: keys().rsa_private, "PS256", id="rs256-not-ps256"),
    pytest.param("PS384", lambda: keys().rsa_private, "PS256", id="ps384-not-ps256"),
    pytest.param("PS256", lambda: keys().rsa_private, "RS256", id="ps256-not-rs256"),
    pytest.param("ES256", lambda: keys().ec_private, None, id="es256"),
    pytest.param("EdDSA", _ed25519, None, id="eddsa-ed25519"),
    pytest.param("Ed448", _ed448, None, id="ed448"),
])
def test_a_signature_verifies_under_its_own_algorithm_only(algorithm: str, private: Any,
                                                           other: str | None) -> None:
    key = private()
    public = key if isinstance(key, bytes) else key.public_key()
    signature = signer(key, algorithm).sign(MESSAGE)
    check = verifier(public, algorithm)
    assert check.verify(MESSAGE, signature) is True
    assert check.verify(MESSAGE + b"x", signature) is False
    if other is not None:
        assert verifier(public, other).verify(MESSAGE, signature) is False


@pytest.mark.parametrize(("key", "algorithm", "message"), [
    pytest.param(lambda: keys().rsa_private.public_key(), "PS512", None, id="rsa-for-ps512"),
    pytest.param(lambda: keys().ec_private, "ES256", None, id="p256-private-for-es256"),
    pytest.param(lambda: _ed25519().public_key(), "EdDSA", None, id="ed25519-for-eddsa"),
    pytest.param(lambda: _ed25519().public_key(), "Ed25519", None, id="ed25519-for-ed25519"),
    pytest.param(lambda: _ed448().public_key(), "EdDSA", None, id="ed448-for-eddsa"),
    pytest.param(lambda: _ed448(), "Ed448", None, id="ed448-private-for-ed448"),
    pytest.param(lambda: _ed25519().public_key(), "Ed448", "is an Ed25519 key; Ed448 needs an "
                 "Ed448 key", id="ed25519-for-ed448"),
    pytest.param(lambda: _ed448().public_key(), "Ed25519", "is an Ed448 key; Ed25519 needs an "
                 "Ed25519 key", id="ed448-for-ed25519"),
    pytest.param(lambda: keys().rsa_private.public_key(), "EdDSA", "is an RSA key; EdDSA "
                 "needs an Ed25519 or Ed448 key", id="rsa-for-eddsa"),
    pytest.param(lambda: _ed25519().public_key(), "ES256", "is an Ed25519 key; ES256 needs an "
                 "EC key", id="ed25519-for-es256"),
    pytest.param(lambda: _ed25519().public_key(), "HS256", "is an Ed25519 key; HS256 is HMAC "
                 "and needs secret_key", id="ed25519-for-hmac"),
])
def test_which_key_fits_which_algorithm(key: Any, algorithm: str, message: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fitting key of a good size warns of nothing
        if message is None:
            check_key_fits(key(), algorithm, "public_key")
        else:
            with pytest.raises(ConfigError, match=re.escape("public_key " + message)):
                check_key_fits(key(), algorithm, "public_key")


@pytest.mark.parametrize("algorithm", ["HS256", "HS512", "ES256", "PS256", "RS512", "EdDSA"])
def test_a_jwk_is_found_under_no_algorithm_of_another_family(algorithm: str) -> None:
    key_set = KeySet()
    key_set.add_jwks({"keys": [public_jwk(keys().rsa_private.public_key(), "k", "RS256")]},
                     ["RS256"])
    assert key_set.find("RS256", "k") is not None
    assert key_set.find(algorithm, "k") is None and key_set.find(algorithm, None) is None


@pytest.mark.parametrize(("allowed", "added"), [
    pytest.param(["RS256", "PS256"], 0, id="oct-beside-public-key-algorithms"),
    pytest.param(["HS256"], 1, id="oct-for-hmac"),
])
def test_an_oct_jwk_is_an_hmac_key_and_nothing_else(allowed: list[str], added: int) -> None:
    oct_key = {"kty": "oct", "kid": "s", "k": base64.urlsafe_b64encode(SECRET.encode()).decode()}
    key_set = KeySet()
    assert key_set.add_jwks({"keys": [oct_key]}, allowed) == added
    token = sign({"alg": "HS256", "kid": "s"}, {"sub": "a"})
    found = key_set.find("HS256", "s")
    assert (found is not None and found.verify(*_signature(token))) is bool(added)
    assert all(key_set.find(alg, "s") is None for alg in allowed if alg != "HS256")


def test_an_hmac_secret_beside_a_public_key_algorithm_verifies_nothing() -> None:
    """The secret is ignored by an RS256 manager (as flask-jwt-extended ignores
    JWT_SECRET_KEY then): neither it nor the public key makes an HS256 token pass."""
    jwt = JWTManager(algorithm="RS256", public_key=keys().public("rsa", "pem"),
                     secret_key=SECRET, clock=Clock())
    claims = {"sub": "alice", "iat": NOW, "exp": NOW + 60, "jti": "j", "type": "access",
              "fresh": False}
    assert jwt.verify(sign({"alg": "RS256"}, claims, keys().rsa_private)).claims["sub"] == "alice"
    for secret in (SECRET, keys().public("rsa", "pem")):
        with pytest.raises(InvalidTokenError):
            jwt.verify(sign({"alg": "HS256"}, claims, secret))


# -- kid selection among a manager's own keys (keyring) -----------------------------------


def _ring() -> tuple[JWTManager, dict[str, Any]]:
    """A manager signing with a new EC key, its previous key (keys().ec_private) listed
    as a public key; returns the kids by name and the private keys."""
    current = ec.generate_private_key(ec.SECP256R1())
    jwt = JWTManager(algorithm="ES256", clock=Clock(), signing_keys=[
        _private_pem(current), _pem(keys().ec_private.public_key())])
    kids = [jwk["kid"] for jwk in jwt.jwks()["keys"]]
    return jwt, {"current": current, "previous": keys().ec_private,
                 "stranger": ec.generate_private_key(ec.SECP256R1()),
                 "kid:current": kids[0], "kid:previous": kids[1]}


@pytest.mark.parametrize(("signed_by", "kid", "accepted"), [
    pytest.param("current", "kid:current", True, id="current-key-its-kid"),
    pytest.param("previous", "kid:previous", True, id="previous-key-its-kid"),
    pytest.param("previous", None, True, id="no-kid-tries-each-key"),
    pytest.param("previous", "unknown", True, id="a-kid-no-key-has-tries-each-key"),
    pytest.param("previous", "kid:current", False, id="a-kid-binds-its-key"),
    pytest.param("stranger", "unknown", False, id="a-stranger-with-any-kid"),
    pytest.param("stranger", None, False, id="a-stranger-without-kid"),
])
def test_signing_keys_choose_by_kid_then_try_each(signed_by: str, kid: str | None,
                                                   accepted: bool) -> None:
    jwt, ring = _ring()
    header: dict[str, Any] = {"alg": "ES256"}
    if kid is not None:
        header["kid"] = ring.get(kid, kid)
    claims = {"sub": "alice", "iat": NOW, "exp": NOW + 60, "jti": "j", "type": "access",
              "fresh": False}
    token = sign(header, claims, ring[signed_by])
    if accepted:
        assert jwt.verify(token).claims["sub"] == "alice"
    else:
        with pytest.raises(InvalidTokenError):
            jwt.verify(token)


def test_minted_tokens_name_the_signing_key_by_its_thumbprint() -> None:
    jwt, ring = _ring()
    header, _ = jwt.verify(jwt.create_access_token("alice"))
    assert header["kid"] == ring["kid:current"] == thumbprint(
        public_jwk(ring["current"].public_key(), "", "ES256"))


# -- generations ---------------------------------------------------------------------------


def test_the_only_key_for_kidless_tokens_follows_every_change() -> None:
    first, second = keys().ec_private, ec.generate_private_key(ec.SECP256R1())
    token = sign({"alg": "ES256"}, {"sub": "a"}, first)
    key_set = KeySet()
    generations = [key_set.generation]
    key_set.add_jwks({"keys": [public_jwk(first.public_key(), "one", "ES256")]}, ["ES256"])
    generations.append(key_set.generation)
    only = key_set.find("ES256", None)
    assert only is not None and only.verify(*_signature(token))
    key_set.replace_fetched({"keys": [public_jwk(second.public_key(), "two", "ES256")]},
                            ["ES256"])
    generations.append(key_set.generation)
    assert key_set.find("ES256", None) is None  # two keys fit now: a kid must choose
    key_set.replace_fetched({"keys": []}, ["ES256"])
    generations.append(key_set.generation)
    again = key_set.find("ES256", None)
    assert again is not None and again.verify(*_signature(token))
    assert generations == sorted(set(generations))


def test_a_replaced_key_set_starts_past_the_old_generation_and_drops_the_old_key() -> None:
    jwt = JWTManager(algorithm="ES256", private_key=_private_pem(keys().ec_private),
                     clock=Clock())
    old_token = jwt.create_access_token("alice")
    old_keys = jwt.keys
    old_keys.bump()
    old_keys.bump()
    jwt.replace_keys(private_key=_private_pem(ec.generate_private_key(ec.SECP256R1())))
    assert jwt.keys is not old_keys and jwt.keys.generation == old_keys.generation + 1
    with pytest.raises(InvalidTokenError):
        jwt.verify(old_token)
    assert jwt.verify(jwt.create_access_token("bob")).claims["sub"] == "bob"


# -- PEM and JWK inputs ----------------------------------------------------------------------


def _traditional(key: Any) -> bytes:
    data: bytes = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    return data


@pytest.mark.parametrize(("options", "signed_with"), [
    pytest.param(lambda: {"public_key": keys().public("rsa", "pem")}, "rsa", id="spki-bytes"),
    pytest.param(lambda: {"public_key": keys().public("rsa", "pem").decode()}, "rsa",
                 id="spki-text"),
    pytest.param(lambda: {"public_key": b"\n  " + keys().public("rsa", "pem") + b"\n\n"}, "rsa",
                 id="spki-padded"),
    pytest.param(lambda: {"public_key": keys().public("rsa", "pkcs1")}, "rsa", id="pkcs1-public"),
    pytest.param(lambda: {"public_key": _certificate(keys().rsa_private)}, "rsa",
                 id="x509-certificate"),
    pytest.param(lambda: {"private_key": _traditional(keys().rsa_private).decode()}, "rsa",
                 id="pkcs1-private-text"),
    pytest.param(lambda: {"algorithm": "ES256", "private_key": _traditional(keys().ec_private)},
                 "ec", id="sec1-ec-private"),
    pytest.param(lambda: {"jwks": json.dumps({"keys": [public_jwk(
        keys().rsa_private.public_key(), "k", "RS256")]})}, "rsa", id="jwks-json-text"),
])
def test_key_inputs_in_their_usual_forms_verify(options: Any, signed_with: str) -> None:
    built = {"algorithm": "RS256", **options()}
    jwt = JWTManager(clock=Clock(), **built)
    private = keys().rsa_private if signed_with == "rsa" else keys().ec_private
    header = {"alg": built["algorithm"], **({"kid": "k"} if "jwks" in built else {})}
    claims = {"sub": "alice", "iat": NOW, "exp": NOW + 60, "jti": "j", "type": "access",
              "fresh": False}
    assert jwt.verify(sign(header, claims, private)).claims["sub"] == "alice"
    stranger = rsa.generate_private_key(65537, 2048) if signed_with == "rsa" \
        else ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidTokenError):
        jwt.verify(sign(header, claims, stranger))


@pytest.mark.parametrize(("make", "algorithm"), [
    pytest.param(lambda: keys().rsa_private, "RS256", id="rsa"),
    pytest.param(lambda: keys().ec_private, "ES256", id="p256"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), "ES512", id="p521"),
    pytest.param(_ed25519, "EdDSA", id="ed25519"),
    pytest.param(_ed448, "Ed448", id="ed448"),
])
def test_a_public_jwk_round_trips_and_its_thumbprint_ignores_kid_alg_and_use(
        make: Any, algorithm: str) -> None:
    private = make()
    jwk = public_jwk(private.public_key(), "one", algorithm)
    assert "d" not in jwk
    loaded = public_key_from_jwk(jwk)
    assert _pem(loaded) == _pem(private.public_key())
    renamed = {**jwk, "kid": "two", "use": "enc", "alg": "none"}
    assert thumbprint(renamed) == thumbprint(jwk)
    signature = signer(private, algorithm).sign(MESSAGE)
    assert verifier(loaded, algorithm).verify(MESSAGE, signature)


# -- key material never shown ----------------------------------------------------------------


FALLBACK = "fallback-secret-" + "f" * 40
ISSUER_SECRET = "issuer-secret-" + "i" * 40


def _pem_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if "-----" not in line]


@pytest.mark.parametrize(("build", "material"), [
    pytest.param(lambda: JWTManager(secret_key=SECRET, secret_key_fallbacks=[FALLBACK]),
                 lambda: [SECRET, FALLBACK, SECRET.encode().hex()[:32]], id="hmac-and-fallback"),
    pytest.param(lambda: JWTManager(algorithm="RS256", private_key=keys().rsa_private_pem()),
                 lambda: _pem_lines(keys().rsa_private_pem()), id="private-key"),
    pytest.param(lambda: JWTManager(algorithm="ES256", signing_keys=[
        keys().ec_private_pem().decode()]), lambda: _pem_lines(keys().ec_private_pem()),
        id="signing-keys"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, issuers={
        "https://idp.example": {"secret_key": ISSUER_SECRET}}),
        lambda: [SECRET, ISSUER_SECRET], id="issuer-secret"),
])
def test_no_repr_or_str_of_a_manager_shows_its_keys(build: Any, material: Any) -> None:
    jwt = build()
    shown = "".join(repr(part) + str(part) for part in (
        jwt, jwt.settings, jwt.key_state, jwt.keys, jwt.codec, jwt.key_state.signer,
        jwt.own_codec, jwt.issuers))
    leaked = [piece for piece in material() if piece in shown]
    assert leaked == []


HIDDEN = "c2VjcmV0LW1hdGVyaWFs"  # stands for key material in inputs that are refused


@pytest.mark.parametrize(("options", "material"), [
    pytest.param(lambda: {"secret_key": SECRET, "secret_key_fallbacks": [SECRET]}, SECRET,
                 id="fallback-repeating-the-secret"),
    pytest.param(lambda: {"algorithm": "RS256", "private_key": "-----BEGIN PRIVATE KEY-----\n"
                          + HIDDEN + "\n-----END PRIVATE KEY-----\n"}, HIDDEN,
                 id="unreadable-private-key"),
    pytest.param(lambda: {"algorithm": "RS256", "public_key": HIDDEN + "-not-a-key"}, HIDDEN,
                 id="unreadable-public-key"),
    pytest.param(lambda: {"algorithm": "ES256", "signing_keys": [
        keys().ec_private_pem().decode(), HIDDEN + "-not-a-key"]}, HIDDEN,
        id="unreadable-second-signing-key"),
    pytest.param(lambda: {"algorithm": "RS256", "jwks": '{"keys": [{"d": "' + HIDDEN + '"'},
                 HIDDEN, id="jwks-text-not-json"),
])
def test_a_refused_key_is_not_quoted_in_the_error_or_its_chain(options: Any,
                                                               material: str) -> None:
    with pytest.raises(ConfigError) as raised:
        JWTManager(**options())
    text = "".join(traceback.format_exception(raised.value))
    assert material not in text
    assert "PRIVATE KEY" not in str(raised.value)


def test_a_private_jwk_given_as_jwks_is_never_shown() -> None:
    private = private_jwk(keys().rsa_private, "k", "RS256")
    try:
        jwt = JWTManager(algorithm="RS256", jwks={"keys": [private]})
    except ConfigError as refused:  # refusing it is a fix too
        shown = "".join(traceback.format_exception(refused))
    else:
        shown = repr(jwt.settings) + repr(jwt.key_state)
    assert [member for member in ("d", "p", "q") if private[member] in shown] == []
