"""oidc_issuer: the JWKS URL from a real local OpenID provider's discovery document."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware
from jwt_wsgi.discovery import discovery_url
from jwt_wsgi.jwk import public_jwk
from tests.harness import HTTPServerThread, Recorder, bearer

REALM = "/realms/shop"


class Provider:
    """A real HTTP(S) server acting as an OpenID provider whose answers a test changes."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.document: dict[str, Any] | None = None  # None: the correct document
        self.redirect_document: str | None = None
        self.trickle = 0.0  # seconds between body bytes of the document
        self.hits: dict[str, int] = {}
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits[self.path] = provider.hits.get(self.path, 0) + 1
                if self.path == REALM + "/.well-known/openid-configuration":
                    if provider.redirect_document:
                        self.send_response(302)
                        self.send_header("Location", provider.redirect_document)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = json.dumps(provider.document or provider.correct()).encode()
                elif self.path == REALM + "/certs":
                    body = json.dumps({"keys": [
                        public_jwk(key.public_key(), kid, "RS256")
                        for kid, key in provider.keys.items()]}).encode()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if provider.trickle:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(provider.trickle)
                else:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServerThread(Handler, tls)
        self.base = self.server.url
        self.issuer = self.base + REALM

    def correct(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.issuer + "/certs",
                "id_token_signing_alg_values_supported": ["RS256"]}

    def mint(self, kid: str = "k1", **claims: Any) -> str:
        pem = self.keys[kid].private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        signer = JWTManager(algorithm="RS256", private_key=pem, issuer=self.issuer)
        return signer.create_access_token("alice", additional_headers={"kid": kid},
                                          additional_claims=claims)

    def stop(self) -> None:
        self.server.close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.stop()


def _protect(issuer: str, **options: Any) -> tuple[JWTManager, Client]:
    manager = JWTManager(algorithm="RS256", oidc_issuer=issuer, **options)
    return manager, Client(JWTMiddleware(Recorder(), manager, routes={"/x": "required"}))


def test_keys_come_from_the_document(provider: Provider) -> None:
    manager, client = _protect(provider.issuer)
    assert manager.settings.issuer == provider.issuer  # iss must name the provider
    assert client.get("/x", headers=bearer(provider.mint())).status_code == 200
    assert provider.hits == {REALM + "/.well-known/openid-configuration": 1, REALM + "/certs": 1}
    # A token of the right key but another issuer is refused.
    other = JWTManager(algorithm="RS256", private_key=provider.keys["k1"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), issuer="https://elsewhere.example")
    token = other.create_access_token("alice", additional_headers={"kid": "k1"})
    assert client.get("/x", headers=bearer(token)).status_code == 401


def test_trailing_slash_issuer_still_finds_the_document() -> None:
    assert discovery_url("https://idp.example/realms/x/") == (
        "https://idp.example/realms/x/.well-known/openid-configuration")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param(lambda p: {**p.correct(), "issuer": "https://evil.example" + REALM},
                     "names another issuer", id="another-issuer"),
        pytest.param(lambda p: {**p.correct(), "issuer": p.issuer + "/"},
                     "names another issuer", id="issuer-with-trailing-slash"),
        pytest.param(lambda p: {k: v for k, v in p.correct().items() if k != "issuer"},
                     "names another issuer", id="no-issuer"),
        pytest.param(lambda p: {**p.correct(), "jwks_uri": "http://keys.example/certs"},
                     "not https", id="plain-http-jwks-uri"),
        pytest.param(lambda p: {**p.correct(), "jwks_uri": "file:///etc/passwd"},
                     "not https", id="file-jwks-uri"),
        pytest.param(lambda p: {**p.correct(), "jwks_uri": 7}, "no jwks_uri", id="bad-jwks-uri"),
        pytest.param(lambda p: ["not", "an", "object"], "JSONDecodeError|ValueError",
                     id="not-an-object"),
    ],
)
def test_untrustworthy_documents_fail_closed(provider: Provider, document: Any, reason: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    provider.document = document(provider)
    _, client = _protect(provider.issuer)
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi.jwks"):
        response = client.get("/x", headers=bearer(provider.mint()))
    assert response.status_code == 503
    assert REALM + "/certs" not in provider.hits  # no key was fetched from anywhere
    assert "unusable" in caplog.text


def test_a_slow_document_is_cut_at_the_deadline(provider: Provider) -> None:
    provider.trickle = 0.05  # a ~150-byte document over ~8 s
    _, client = _protect(provider.issuer, jwks_timeout=0.5)
    started = time.monotonic()
    assert client.get("/x", headers=bearer(provider.mint())).status_code == 503
    assert time.monotonic() - started < 2.5


def test_a_change_of_keys_is_followed(provider: Provider) -> None:
    _, client = _protect(provider.issuer, jwks_refetch_seconds=0.01)
    assert client.get("/x", headers=bearer(provider.mint())).status_code == 200
    provider.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    del provider.keys["k1"]
    time.sleep(0.05)
    assert client.get("/x", headers=bearer(provider.mint("k2"))).status_code == 200


def test_a_moved_jwks_uri_is_followed_and_a_dead_document_keeps_the_last(
        provider: Provider) -> None:
    _, client = _protect(provider.issuer, jwks_cache_seconds=0.05,
                               jwks_refetch_seconds=0.05)
    token = provider.mint()
    assert client.get("/x", headers=bearer(token)).status_code == 200
    provider.document = {**provider.correct(), "jwks_uri": provider.issuer + "/nowhere"}
    time.sleep(0.1)
    # The document moved the keys to a URL that answers 404: that fetch fails, the last
    # good set is served stale.
    assert client.get("/x", headers=bearer(token)).status_code == 200
    assert provider.hits.get(REALM + "/nowhere", 0) >= 1
    provider.document = ["broken"]
    time.sleep(0.1)
    assert client.get("/x", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"oidc_issuer": "http://idp.example/realms/x"}, "https://",
                     id="plain-http-issuer"),
        pytest.param({"oidc_issuer": "ftp://idp.example"}, "https://", id="ftp-issuer"),
        pytest.param({"oidc_issuer": "https://idp.example", "jwks_url": "https://idp.example/k"},
                     "leave jwks_url", id="with-jwks-url"),
        pytest.param({"oidc_issuer": "https://idp.example", "issuer": "https://other.example"},
                     "differs from oidc_issuer", id="another-issuer"),
        pytest.param({"oidc_issuer": "https://idp.example", "algorithm": "HS256",
                      "secret_key": "s" * 40}, "need an RS", id="hmac"),
    ],
)
def test_unworkable_settings_are_refused(options: dict[str, Any], message: str) -> None:
    options = {"algorithm": "RS256", **options}
    with pytest.raises(ConfigError, match=message):
        JWTManager(**options)


def test_from_mapping_key() -> None:
    manager = JWTManager.from_mapping({"JWT_ALGORITHM": "ES256",
                                       "JWT_OIDC_ISSUER": "https://idp.example/realms/x"})
    assert manager.settings.issuer == "https://idp.example/realms/x"


# -- https, so that a redirect to plain http can be refused --------------------------------

@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_https_provider_and_a_redirect_to_http_refused(
        tls_files: tuple[str, str], provider: Provider,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", tls_files[0])  # trust the test's own certificate
    # The verifying context is built once a process: build this test's from the variable
    # (monkeypatch puts the process's own back afterwards).
    from jwt_wsgi import outbound

    monkeypatch.setattr(outbound, "_tls_context", None)
    secure = Provider(tls=tls_files)
    try:
        _, client = _protect(secure.issuer)
        assert client.get("/x", headers=bearer(secure.mint())).status_code == 200
        # The https document redirects to the plain-http provider's (valid for itself).
        broken = Provider(tls=tls_files)
        broken.redirect_document = provider.issuer + "/.well-known/openid-configuration"
        try:
            _, client = _protect(broken.issuer)
            assert client.get("/x", headers=bearer(broken.mint())).status_code == 503
            assert provider.hits == {}  # the http side was never asked
        finally:
            broken.stop()
    finally:
        secure.stop()
