"""RFC 8725 (JWT Best Current Practices): algorithms, keys, kid, key URLs, issuer, audience, type.

Each table names the attack it tries. Refusals are checked through the whole middleware
(401, the app never called) or at construction (``ConfigError``) where the unsafe choice
is a setting.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import urllib.parse
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jwt_wsgi import ConfigError, JWTManager
from jwt_wsgi.errors import SecurityWarning
from jwt_wsgi.keys import public_jwk
from tests.harness import NOW, SECRET, Clock, Recorder, Upstream, bearer_call, keys, manager, sign, wrap

CLAIMS = {"sub": "alice", "iat": NOW, "jti": "j-1", "type": "access", "fresh": False,
          "exp": NOW + 600}
SECRET_BYTES = SECRET.encode()


def outcome(jwt: JWTManager, token: str, routes: dict[str, Any] | None = None,
            path: str = "/p") -> tuple[int, int]:
    app = Recorder()
    answer = bearer_call(wrap(app, jwt, routes), token, path)
    assert token not in answer.body.decode("latin-1")
    return answer.status, app.calls


_ATTACKER: dict[str, Any] = {}


def attacker_rsa() -> rsa.RSAPrivateKey:
    if "rsa" not in _ATTACKER:
        _ATTACKER["rsa"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key: rsa.RSAPrivateKey = _ATTACKER["rsa"]
    return key


def rsa_manager(**options: Any) -> JWTManager:
    return manager(algorithm="RS256", public_key=keys().public("rsa", "pem"), **options)


def ec_manager(**options: Any) -> JWTManager:
    return manager(algorithm="ES256", public_key=keys().public("ec", "pem"), **options)


# -- algorithm allowlist (RFC 8725 3.1, 2.1) -------------------------------------------------------

def _alg_token(case: str) -> tuple[JWTManager, str, bool]:
    k = keys()
    if case == "hs256-baseline":
        return manager(), sign({"alg": "HS256"}, CLAIMS, SECRET_BYTES), True
    if case == "hs384-same-secret":
        return manager(), sign({"alg": "HS384"}, CLAIMS, SECRET_BYTES), False
    if case == "hs512-same-secret":
        return manager(), sign({"alg": "HS512"}, CLAIMS, SECRET_BYTES), False
    if case == "hs384-allowed-by-decode-algorithms":
        return (manager(decode_algorithms=["HS256", "HS384"]),
                sign({"alg": "HS384"}, CLAIMS, SECRET_BYTES), True)
    if case == "rs256-baseline":
        return rsa_manager(), sign({"alg": "RS256"}, CLAIMS, k.rsa_private), True
    if case == "rs256-token-at-hs256-manager":
        return manager(), sign({"alg": "RS256"}, CLAIMS, k.rsa_private), False
    if case == "ps256-same-rsa-key-not-allowed":
        return rsa_manager(), sign({"alg": "PS256"}, CLAIMS, k.rsa_private), False
    if case == "rs384-same-rsa-key-not-allowed":
        return rsa_manager(), sign({"alg": "RS384"}, CLAIMS, k.rsa_private), False
    if case == "es256-token-at-rs256-manager":
        return rsa_manager(), sign({"alg": "ES256"}, CLAIMS, k.ec_private), False
    if case == "es256-baseline":
        return ec_manager(), sign({"alg": "ES256"}, CLAIMS, k.ec_private), True
    if case == "es384-header-on-p256-key":
        return ec_manager(), sign({"alg": "ES384"}, CLAIMS, k.ec_private, "ES256"), False
    if case == "alg-lowercase-hs256":
        return manager(), sign({"alg": "hs256"}, CLAIMS, SECRET_BYTES, "HS256"), False
    if case == "alg-with-space":
        return manager(), sign({"alg": "HS256 "}, CLAIMS, SECRET_BYTES, "HS256"), False
    if case == "alg-list":
        return manager(), sign({"alg": ["HS256"]}, CLAIMS, SECRET_BYTES, "HS256"), False
    if case == "alg-missing":
        return manager(), sign({"typ": "JWT"}, CLAIMS, SECRET_BYTES, "HS256"), False
    if case == "alg-null":
        return manager(), sign({"alg": None}, CLAIMS, SECRET_BYTES, "HS256"), False
    if case == "alg-unknown-EdDSA":
        return manager(), sign({"alg": "EdDSA"}, CLAIMS, SECRET_BYTES, "HS256"), False
    raise AssertionError(case)


ALG_CASES = ["hs256-baseline", "hs384-same-secret", "hs512-same-secret",
             "hs384-allowed-by-decode-algorithms", "rs256-baseline", "rs256-token-at-hs256-manager",
             "ps256-same-rsa-key-not-allowed", "rs384-same-rsa-key-not-allowed",
             "es256-token-at-rs256-manager", "es256-baseline", "es384-header-on-p256-key",
             "alg-lowercase-hs256", "alg-with-space", "alg-list", "alg-missing", "alg-null",
             "alg-unknown-EdDSA"]


@pytest.mark.parametrize("case", ALG_CASES)
def test_algorithm_allowlist(case: str) -> None:
    jwt, token, accepted = _alg_token(case)
    assert outcome(jwt, token) == ((200, 1) if accepted else (401, 0))


# -- "none" in every spelling (RFC 8725 3.1; RFC 7518 3.6) ----------------------------------------

NONE_SPELLINGS = ["none", "None", "NONE", "nOnE", "none ", " none", "none\u0000", "NoNe"]


def _unsigned(alg: str, signature: str) -> str:
    def enc(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': alg, 'typ': 'JWT'})}.{enc(CLAIMS)}.{signature}"


@pytest.mark.parametrize("alg", [pytest.param(a, id=f"token-alg-{a!r}") for a in NONE_SPELLINGS])
@pytest.mark.parametrize("signature", [pytest.param("", id="no-signature"),
                                       pytest.param("AAAA", id="junk-signature")])
def test_none_algorithm_tokens(alg: str, signature: str) -> None:
    assert outcome(manager(), _unsigned(alg, signature)) == (401, 0)


@pytest.mark.parametrize(
    "options",
    [pytest.param({"algorithm": a}, id=f"algorithm-{a!r}") for a in ("none", "NONE", "None", " none")]
    + [pytest.param({"decode_algorithms": ["HS256", a]}, id=f"decode-algorithms-{a!r}")
       for a in ("none", "NONE", "nOnE", "none ")]
    + [pytest.param({"decode_algorithms": "HS256,none"}, id="decode-algorithms-ini-string")],
)
def test_none_algorithm_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        JWTManager(secret_key=SECRET, **options)


# -- key confusion: a public key used as an HMAC secret (RFC 8725 2.1, 3.1) ------------------------

def _cert(kind: str, encoding: serialization.Encoding) -> bytes:
    private = keys().rsa_private if kind == "rsa" else keys().ec_private
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "victim")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .sign(private, hashes.SHA256()))
    return cert.public_bytes(encoding)


def _key_form(form: str) -> bytes:
    k = keys()
    kind, _, encoding = form.partition("-")
    if encoding == "jwk":
        key = k.rsa_private.public_key() if kind == "rsa" else k.ec_private.public_key()
        return json.dumps(public_jwk(key, "k1", "RS256" if kind == "rsa" else "ES256")).encode()
    if encoding == "cert-pem":
        return _cert(kind, serialization.Encoding.PEM)
    if encoding == "cert-der":
        return _cert(kind, serialization.Encoding.DER)
    if encoding == "private-pem":
        return k.rsa_private_pem() if kind == "rsa" else k.ec_private_pem()
    return k.public(kind, encoding)


KEY_FORMS = ["rsa-pem", "rsa-pkcs1", "rsa-der", "rsa-ssh", "rsa-jwk", "rsa-cert-pem",
             "rsa-cert-der", "rsa-private-pem", "ec-pem", "ec-der", "ec-ssh", "ec-jwk",
             "ec-cert-pem", "ec-cert-der", "ec-private-pem"]


# DER is binary and has no text form, so it is tried as bytes only.
@pytest.mark.parametrize(("form", "as_text"),
                         [pytest.param(f, False, id=f"{f}-bytes") for f in KEY_FORMS]
                         + [pytest.param(f, True, id=f"{f}-str-padded") for f in KEY_FORMS
                            if not f.endswith("der")])
def test_public_key_as_hmac_secret_is_a_config_error(form: str, as_text: bool) -> None:
    material = _key_form(form)
    secret: str | bytes = "  " + material.decode() + "\n" if as_text else material
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        JWTManager(secret_key=secret)


def _pasted(shape: str) -> bytes:
    """A public key as people paste it into a setting or an environment variable."""
    k = keys()
    rsa_public, ec_public = k.rsa_private.public_key(), k.ec_private.public_key()
    jwk = public_jwk(rsa_public, "k1", "RS256")
    pem = k.public("rsa", "pem")
    body = pem.splitlines()[1:-1]
    der = k.public("rsa", "der")
    point = ec_public.public_bytes(serialization.Encoding.X962,
                                   serialization.PublicFormat.UncompressedPoint)
    compressed = ec_public.public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.CompressedPoint)
    ssh_blob = k.public("rsa", "ssh").split()[1]
    shapes = {
        "jwk-with-bom": b"\xef\xbb\xbf" + json.dumps(jwk).encode(),
        "jwk-in-a-json-list": json.dumps([jwk]).encode(),
        "jwk-as-python-repr": str(jwk).encode(),
        "jwk-pretty-printed": json.dumps(jwk, indent=2).encode(),
        "ssh-blob-without-type": ssh_blob,
        "ec-ssh-blob-without-type": k.public("ec", "ssh").split()[1],
        "pem-body-escaped-newlines": b"\\n".join(body),
        "pem-body-one-line": b"".join(body),
        "pem-escaped-newlines": pem.replace(b"\n", b"\\n"),
        "pem-in-double-quotes": b'"' + pem.replace(b"\n", b"\\n") + b'"',
        "base64-der-in-quotes": b"'" + base64.b64encode(der) + b"'",
        "base64url-der": base64.urlsafe_b64encode(der).rstrip(b"="),
        "hex-der": der.hex().encode(),
        "hex-der-with-colons": der.hex(":").encode(),
        "ec-point-raw": point,
        "ec-point-compressed-0x-hex": b"0x" + compressed.hex().encode(),
        "ec-point-base64": base64.b64encode(point),
        "ec-point-hex": point.hex().encode(),
        "ec-point-0x-hex": b"0x" + point.hex().encode(),
        "ec-coordinates-without-04": point[1:],
        "base64-of-pem-file": base64.b64encode(pem),
        "base64-of-ssh-line": base64.b64encode(k.public("rsa", "ssh")),
        "base64url-of-jwks": base64.urlsafe_b64encode(json.dumps({"keys": [jwk]}).encode()),
        "jwk-double-encoded-json-string": json.dumps(json.dumps(jwk)).encode(),
        "jwk-with-unicode-escape": json.dumps(jwk).replace('"kty"', '"\\u006bty"').encode(),
        "jwk-as-yaml": f"kty: RSA\nn: {jwk['n']}\ne: AQAB\n".encode(),
        "jwk-as-toml": f'kty = "RSA"\nn = "{jwk["n"]}"\n'.encode(),
        "jwk-as-js-object": f'{{kty: "RSA", n: "{jwk["n"]}"}}'.encode(),
        "url-encoded-pem": urllib.parse.quote(pem.decode(), safe="").encode(),
        "base64-der-trailing-comma": base64.b64encode(der) + b",",
        "base64-der-with-name-prefix": b"JWT_KEY=" + base64.b64encode(der),
        "base64-der-in-json-object": json.dumps({"public_key": base64.b64encode(der).decode()}).encode(),
        "pem-lowercase-armour": pem.lower().replace(b"public key", b"public key"),
        "pem-body-double-escaped": b"\\\\n".join(body),
        "pem-body-br-joined": b"<br>".join(body),
        "pem-utf16": pem.decode().encode("utf-16"),
        "ssh-utf16-le": k.public("rsa", "ssh").decode().encode("utf-16-le"),
        "der-trailing-newline": der + b"\n",
    }
    return shapes[shape]


PASTED_SHAPES = ["jwk-with-bom", "jwk-in-a-json-list", "jwk-as-python-repr", "jwk-pretty-printed",
                 "ssh-blob-without-type", "ec-ssh-blob-without-type", "pem-body-escaped-newlines",
                 "pem-body-one-line", "pem-escaped-newlines", "pem-in-double-quotes",
                 "base64-der-in-quotes", "base64url-der", "hex-der", "hex-der-with-colons",
                 "ec-point-raw", "ec-point-compressed-0x-hex", "ec-point-base64", "ec-point-hex",
                 "ec-point-0x-hex", "ec-coordinates-without-04", "base64-of-pem-file",
                 "base64-of-ssh-line", "base64url-of-jwks", "jwk-double-encoded-json-string",
                 "jwk-with-unicode-escape", "jwk-as-yaml", "jwk-as-toml", "jwk-as-js-object",
                 "url-encoded-pem", "base64-der-trailing-comma", "base64-der-with-name-prefix",
                 "base64-der-in-json-object", "pem-lowercase-armour", "pem-body-double-escaped",
                 "pem-body-br-joined", "pem-utf16", "ssh-utf16-le", "der-trailing-newline"]


@pytest.mark.parametrize("shape", PASTED_SHAPES)
def test_public_key_pasted_in_another_shape_is_a_config_error(shape: str) -> None:
    with pytest.raises(ConfigError, match="looks like a public or private key"):
        JWTManager(secret_key=_pasted(shape))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: secrets.token_hex(32), id="token_hex"),
    pytest.param(lambda: secrets.token_urlsafe(48), id="token_urlsafe"),
    pytest.param(lambda: base64.b64encode(secrets.token_bytes(64)).decode(), id="base64-bytes"),
    pytest.param(lambda: secrets.token_bytes(65), id="raw-bytes-65"),
    pytest.param(lambda: b"\x04" + secrets.token_bytes(64), id="raw-bytes-like-a-point"),
    # 33 and 49 bytes: the lengths of compressed P-256 and P-384 points (one random string
    # in 200 is one, so 2000 tries would find a check that counted them).
    pytest.param(lambda: secrets.token_hex(33), id="token_hex-33"),
    pytest.param(lambda: secrets.token_bytes(33), id="raw-bytes-33"),
    pytest.param(lambda: secrets.token_urlsafe(49), id="token_urlsafe-49"),
    pytest.param(lambda: "sk-" + secrets.token_urlsafe(32), id="sk-prefixed"),
    pytest.param(lambda: "ssh-deploy-" + secrets.token_hex(32), id="ssh-prefixed-name"),
])
def test_random_secrets_in_usual_shapes_are_accepted(make: Any) -> None:
    # The shape checks must not refuse what key generators print.
    from jwt_wsgi.keyshapes import looks_like_key

    for _ in range(2000):
        value = make()
        assert not looks_like_key(value.encode() if isinstance(value, str) else value), value
    for _ in range(20):
        secret = make()
        jwt = JWTManager(secret_key=secret)
        assert jwt.decode_token(jwt.create_access_token("alice"))["sub"] == "alice"


@pytest.mark.parametrize("form", KEY_FORMS)
@pytest.mark.parametrize("victim", ["rs256", "es256"])
def test_hs256_token_signed_with_public_key_is_refused(form: str, victim: str) -> None:
    jwt = rsa_manager() if victim == "rs256" else ec_manager()
    for alg in ("HS256", "HS384", "HS512"):
        token = sign({"alg": alg, "typ": "JWT"}, CLAIMS, _key_form(form))
        assert outcome(jwt, token) == (401, 0), alg


def test_hmac_and_public_key_algorithms_cannot_be_mixed() -> None:
    with pytest.raises(ConfigError, match="cannot be accepted together"):
        JWTManager(algorithm="RS256", public_key=keys().public("rsa", "pem"),
                   decode_algorithms=["RS256", "HS256"])
    with pytest.raises(ConfigError):
        JWTManager(secret_key=SECRET, decode_algorithms=["HS256", "ES256"])


def test_jwks_oct_key_is_not_used_for_public_key_algorithms() -> None:
    oct_key = {"kty": "oct", "kid": "k1", "k": base64.urlsafe_b64encode(SECRET_BYTES).decode()}
    with pytest.raises(ConfigError):
        JWTManager(algorithm="RS256", jwks={"keys": [oct_key]})


# -- empty and weak keys ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "secret",
    [pytest.param(None, id="none"), pytest.param("", id="empty-str"), pytest.param(b"", id="empty-bytes"),
     pytest.param("   \t\n", id="whitespace")],
)
def test_empty_secret_is_a_config_error(secret: Any) -> None:
    with pytest.raises(ConfigError):
        JWTManager(secret_key=secret)


def test_short_secret_warns() -> None:
    with pytest.warns(SecurityWarning):
        JWTManager(secret_key="short")


def test_empty_jwks_and_missing_public_key_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        JWTManager(algorithm="RS256", jwks={"keys": []})
    with pytest.raises(ConfigError):
        JWTManager(algorithm="RS256")
    with pytest.raises(ConfigError):
        JWTManager(algorithm="RS256", jwks={"keys": [{"kty": "oct", "k": ""}]})


# -- kid is an exact lookup, never a path, query or URL (RFC 8725 3.10) ----------------------------

def jwks_manager() -> JWTManager:
    k = keys()
    attacker = attacker_rsa().public_key()
    jwks = {"keys": [public_jwk(k.rsa_private.public_key(), "k1", "RS256"),
                     public_jwk(attacker, "other", "RS256")]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return manager(algorithm="RS256", jwks=jwks)


KID_CASES = [
    pytest.param("k1", True, id="exact-kid-baseline"),
    pytest.param("K1", False, id="case-changed"),
    pytest.param("k1 ", False, id="trailing-space"),
    pytest.param("k1\u0000", False, id="nul-suffix"),
    pytest.param("other", False, id="kid-of-another-key"),
    pytest.param("../../../../etc/passwd", False, id="path-traversal"),
    pytest.param("/dev/null", False, id="absolute-path"),
    pytest.param("' OR '1'='1' --", False, id="sql-injection"),
    pytest.param("k1' UNION SELECT 'secret", False, id="sql-union"),
    pytest.param("{url}/jwks.json", False, id="http-url"),
    pytest.param("file:///etc/passwd", False, id="file-url"),
    pytest.param("${jndi:ldap://127.0.0.1/a}", False, id="template-string"),
    pytest.param("k" * 5000, False, id="very-long"),
    pytest.param("", False, id="empty-string"),
]


@pytest.mark.parametrize(("kid", "accepted"), KID_CASES)
def test_kid_is_an_exact_lookup(kid: str, accepted: bool, upstream: Upstream) -> None:
    kid = kid.replace("{url}", upstream.url)
    token = sign({"alg": "RS256", "kid": kid}, CLAIMS, keys().rsa_private)
    assert outcome(jwks_manager(), token) == ((200, 1) if accepted else (401, 0))
    assert upstream.requests == []


def test_kidless_token_is_refused_when_several_keys_could_fit() -> None:
    token = sign({"alg": "RS256"}, CLAIMS, keys().rsa_private)
    assert outcome(jwks_manager(), token) == (401, 0)


# -- jku, x5u, jwk, x5c are never followed or trusted (RFC 8725 3.10) ------------------------------

def _attacker_parts(upstream: Upstream) -> dict[str, Any]:
    attacker = attacker_rsa()
    jwk = public_jwk(attacker.public_key(), "k1", "RS256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(attacker.public_key()).serial_number(2).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650)).sign(attacker, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return {"jku": upstream.url + "/jwks.json", "x5u": upstream.url + "/cert.pem", "jwk": jwk,
            "x5c": [der]}


@pytest.mark.parametrize("parameter", ["jku", "x5u", "jwk", "x5c"])
@pytest.mark.parametrize("signer", [pytest.param("attacker", id="attacker-signed"),
                                    pytest.param("victim", id="victim-signed-still-valid")])
def test_key_location_headers_are_ignored(parameter: str, signer: str, upstream: Upstream) -> None:
    header = {"alg": "RS256", "kid": "k1", parameter: _attacker_parts(upstream)[parameter]}
    key = attacker_rsa() if signer == "attacker" else keys().rsa_private
    jwt = manager(algorithm="RS256", jwks={"keys": [public_jwk(keys().rsa_private.public_key(),
                                                               "k1", "RS256")]})
    expected = (401, 0) if signer == "attacker" else (200, 1)
    assert outcome(jwt, sign(header, CLAIMS, key)) == expected
    assert upstream.requests == []


# -- issuer ---------------------------------------------------------------------------------------

ISSUER_CASES = [
    pytest.param({"iss": "https://idp"}, True, id="exact-issuer"),
    pytest.param({}, False, id="missing-iss"),
    pytest.param({"iss": "https://idp/"}, False, id="trailing-slash"),
    pytest.param({"iss": "https://IDP"}, False, id="case-changed"),
    pytest.param({"iss": ["https://idp"]}, False, id="list"),
    pytest.param({"iss": None}, False, id="null"),
    pytest.param({"iss": "https://idp.evil"}, False, id="prefix-match"),
]


@pytest.mark.parametrize(("changes", "accepted"), ISSUER_CASES)
def test_issuer(changes: dict[str, Any], accepted: bool) -> None:
    token = sign({"alg": "RS256"}, {**CLAIMS, **changes}, keys().rsa_private)
    assert outcome(rsa_manager(issuer="https://idp"), token) == ((200, 1) if accepted else (401, 0))


# -- audience (RFC 7519 4.1.3, RFC 8725 3.9) -----------------------------------------------------

AUDIENCE_CASES = [
    pytest.param("api", {"aud": "api"}, True, id="string-match"),
    pytest.param("api", {"aud": ["other", "api"]}, True, id="list-contains"),
    pytest.param("api", {}, False, id="missing-aud-with-audience-set"),
    pytest.param("api", {"aud": "API"}, False, id="case-changed"),
    pytest.param("api", {"aud": "api2"}, False, id="prefix-match"),
    pytest.param("api", {"aud": ["other"]}, False, id="list-without-us"),
    pytest.param("api", {"aud": []}, False, id="empty-list"),
    pytest.param("api", {"aud": ["api", 1]}, False, id="list-with-non-string"),
    pytest.param("api", {"aud": 1}, False, id="number"),
    pytest.param("api", {"aud": None}, False, id="null"),
    pytest.param("api", {"aud": {"api": True}}, False, id="object"),
    pytest.param(None, {"aud": "api"}, False, id="aud-present-no-audience-configured"),
    pytest.param(None, {"aud": []}, False, id="empty-aud-present-no-audience-configured"),
    pytest.param(None, {}, True, id="no-aud-no-audience"),
]


@pytest.mark.parametrize(("audience", "changes", "accepted"), AUDIENCE_CASES)
def test_audience(audience: str | None, changes: dict[str, Any], accepted: bool) -> None:
    token = sign({"alg": "HS256"}, {**CLAIMS, **changes}, SECRET_BYTES)
    jwt = manager(audience=audience) if audience else manager()
    assert outcome(jwt, token) == ((200, 1) if accepted else (401, 0))


# -- token type confusion (RFC 8725 3.11) ----------------------------------------------------------

TYPE_ROUTES = {"/p": "required", "/fresh": "fresh", "/refresh": "refresh", "/opt": "optional"}
TYPE_CASES = [
    pytest.param("/p", {"type": "access"}, {}, True, id="access-at-required"),
    pytest.param("/p", {"type": "refresh"}, {}, False, id="refresh-as-access"),
    pytest.param("/opt", {"type": "refresh"}, {}, False, id="refresh-at-optional"),
    pytest.param("/fresh", {"type": "refresh", "fresh": True}, {}, False, id="refresh-claiming-fresh"),
    pytest.param("/refresh", {"type": "access"}, {}, False, id="access-as-refresh"),
    pytest.param("/refresh", {"type": None}, {}, False, id="no-type-as-refresh"),
    pytest.param("/refresh", {"type": "refresh"}, {}, True, id="refresh-at-refresh"),
    pytest.param("/refresh", {"type": "Refresh"}, {}, False, id="type-case-changed"),
    pytest.param("/p", {"type": "refresh"}, {"typ": "at+jwt"}, False, id="refresh-typed-at+jwt"),
    pytest.param("/p", {"type": "access"}, {"typ": "refresh+jwt"}, False, id="typ-refresh+jwt"),
    pytest.param("/p", {"type": "access"}, {"typ": "secevent+jwt"}, False, id="typ-security-event"),
    pytest.param("/fresh", {"fresh": 1}, {}, False, id="fresh-1-is-a-past-timestamp"),
    pytest.param("/fresh", {"fresh": NOW + 60}, {}, True, id="fresh-until-future-timestamp"),
    pytest.param("/fresh", {"fresh": "true"}, {}, False, id="fresh-string"),
]


@pytest.mark.parametrize(("path", "changes", "header", "accepted"), TYPE_CASES)
def test_token_type_confusion(path: str, changes: dict[str, Any], header: dict[str, Any],
                              accepted: bool) -> None:
    claims = {k: v for k, v in {**CLAIMS, **changes}.items() if v is not None}
    token = sign({"alg": "HS256", **header}, claims, SECRET_BYTES)
    assert outcome(manager(), token, TYPE_ROUTES, path) == ((200, 1) if accepted else (401, 0))


# -- issuer-key binding (RFC 8725 3.8): a key of one issuer never verifies another's tokens -------

API, IDP, PARTNER = "https://api.example", "https://idp.example", "https://partner.example"


def issuers_manager() -> JWTManager:
    k = keys()
    return JWTManager(secret_key=SECRET, issuer=API, issuers={
        IDP: {"jwks": {"keys": [public_jwk(k.rsa_private.public_key(), "idp-1", "RS256")]},
              "algorithms": ["RS256"]},
        PARTNER: {"public_key": k.public("ec", "pem"), "algorithms": ["ES256"]},
    }, clock=Clock())  # the manager's clock checks the time of every issuer


def _binding_token(case: str) -> tuple[str, str, bool]:
    k = keys()

    def claims(iss: Any) -> dict[str, Any]:
        return {**CLAIMS, "iss": iss} if iss is not ... else dict(CLAIMS)

    rsa_pem = k.public("rsa", "pem")
    table: dict[str, tuple[str, str, bool]] = {
        "own-issuer-own-secret": (sign({"alg": "HS256"}, claims(API), SECRET_BYTES), "/p", True),
        "idp-token-idp-key": (sign({"alg": "RS256", "kid": "idp-1"}, claims(IDP), k.rsa_private), "/p", True),
        "partner-token-partner-key": (sign({"alg": "ES256"}, claims(PARTNER), k.ec_private), "/p", True),
        "idp-iss-signed-with-our-secret": (sign({"alg": "HS256"}, claims(IDP), SECRET_BYTES), "/p", False),
        "idp-iss-hs256-with-idp-public-pem": (sign({"alg": "HS256"}, claims(IDP), rsa_pem), "/p", False),
        "our-iss-signed-by-idp-key": (sign({"alg": "RS256", "kid": "idp-1"}, claims(API), k.rsa_private),
                                      "/p", False),
        "partner-iss-signed-by-idp-key": (sign({"alg": "RS256", "kid": "idp-1"}, claims(PARTNER),
                                               k.rsa_private), "/p", False),
        "idp-iss-signed-by-partner-key": (sign({"alg": "ES256"}, claims(IDP), k.ec_private), "/p", False),
        "unknown-issuer-our-secret": (sign({"alg": "HS256"}, claims("https://evil"), SECRET_BYTES), "/p",
                                      False),
        "no-iss-when-issuer-set": (sign({"alg": "HS256"}, claims(...), SECRET_BYTES), "/p", False),
        "iss-list": (sign({"alg": "HS256"}, claims([API]), SECRET_BYTES), "/p", False),
        "iss-trailing-space": (sign({"alg": "HS256"}, claims(API + " "), SECRET_BYTES), "/p", False),
        "iss-null": (sign({"alg": "HS256"}, claims(None), SECRET_BYTES), "/p", False),
        "route-limited-to-idp-our-token": (sign({"alg": "HS256"}, claims(API), SECRET_BYTES), "/idp",
                                           False),
        "route-limited-to-idp-idp-token": (sign({"alg": "RS256", "kid": "idp-1"}, claims(IDP),
                                                k.rsa_private), "/idp", True),
    }
    return table[case]


BINDING_CASES = ["own-issuer-own-secret", "idp-token-idp-key", "partner-token-partner-key",
                 "idp-iss-signed-with-our-secret", "idp-iss-hs256-with-idp-public-pem",
                 "our-iss-signed-by-idp-key", "partner-iss-signed-by-idp-key",
                 "idp-iss-signed-by-partner-key", "unknown-issuer-our-secret", "no-iss-when-issuer-set",
                 "iss-list", "iss-trailing-space", "iss-null", "route-limited-to-idp-our-token",
                 "route-limited-to-idp-idp-token"]


@pytest.mark.parametrize("case", BINDING_CASES)
def test_issuer_key_binding(case: str) -> None:
    token, path, accepted = _binding_token(case)
    routes = {"/p": "required", "/idp": {"require": "required", "issuers": [IDP]}}
    assert outcome(issuers_manager(), token, routes, path) == ((200, 1) if accepted else (401, 0))


# -- revocation answers (fail closed; any truthy answer revokes, as redis.exists() gives 1) -------

@pytest.mark.parametrize(
    ("answer", "expected"),
    [pytest.param(True, 401, id="true-revokes"),
     pytest.param(1, 401, id="one-revokes-redis-exists-style"),
     pytest.param("yes", 401, id="truthy-string-revokes"),
     pytest.param(False, 200, id="false-passes"),
     pytest.param(0, 200, id="zero-passes"),
     pytest.param(None, 200, id="none-passes"),
     pytest.param(ConnectionError("store down"), 503, id="raising-loader-fails-closed")],
)
def test_blocklist_loader_answers(answer: Any, expected: int) -> None:
    jwt = manager()

    @jwt.token_in_blocklist_loader
    def check(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    token = sign({"alg": "HS256"}, CLAIMS, SECRET_BYTES)
    assert outcome(jwt, token) == (expected, 1 if expected == 200 else 0)


# -- key rotation: a token verified (and cached) under a key that is gone is refused ---------------

@pytest.mark.parametrize("cache_size", [pytest.param(0, id="no-cache"), pytest.param(1024, id="cache")])
def test_removed_key_stops_verifying_even_cached_tokens(cache_size: int) -> None:
    import http.server
    import threading

    k = keys()
    served = [{"keys": [public_jwk(k.rsa_private.public_key(), "k1", "RS256")]}]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(served[-1]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        jwt = manager(algorithm="RS256", jwks_url=f"http://127.0.0.1:{server.server_address[1]}/",
                      token_cache_size=cache_size)
        token = sign({"alg": "RS256", "kid": "k1"}, CLAIMS, k.rsa_private)
        assert outcome(jwt, token) == (200, 1)
        assert outcome(jwt, token) == (200, 1)  # a second time: a cache hit when there is one
        served.append({"keys": [public_jwk(attacker_rsa().public_key(), "k2", "RS256")]})
        assert jwt.jwks_fetcher is not None and jwt.jwks_fetcher.refresh()
        assert outcome(jwt, token) == (401, 0)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("cache_size", [pytest.param(0, id="no-cache"), pytest.param(1024, id="cache")])
def test_clock_rules_apply_to_every_use_of_a_cached_token(cache_size: int) -> None:
    clock = Clock()
    jwt = manager(token_cache_size=cache_size, clock=clock)
    token = sign({"alg": "HS256"}, {**CLAIMS, "nbf": NOW + 5}, SECRET_BYTES)
    app = Recorder()
    middleware = wrap(app, jwt)
    assert bearer_call(middleware, token).status == 401  # not yet valid
    clock.now = NOW + 5
    assert bearer_call(middleware, token).status == 200
    assert bearer_call(middleware, token).status == 200
    clock.now = NOW + 600  # exactly exp
    answer = bearer_call(middleware, token)
    assert (answer.status, answer.json) == (401, {"msg": "Token has expired"})
    assert app.calls == 2
