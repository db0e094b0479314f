"""``jwt-wsgi keys generate`` and ``jwt-wsgi keys jwks``, called as ``main([...])``; the JWKS
printed for a configuration is the one its manager publishes, every signing key in it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_wsgi import JWTManager
from jwt_wsgi.cli import main
from jwt_wsgi.config import load_config


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(key: Any) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _jwks(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["keys", "jwks", *argv]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


@pytest.mark.parametrize("algorithm", [
    pytest.param("ES256", id="ES256"), pytest.param("EdDSA", id="EdDSA"),
    pytest.param("RS256", id="RS256"), pytest.param("Ed448", id="Ed448"),
])
def test_a_generated_key_signs_and_its_jwks_verifies(tmp_path: Path, algorithm: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "next.pem"
    assert main(["keys", "generate", "--algorithm", algorithm, "--bits", "2048",
                 "--out", str(out)]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    signer = JWTManager(algorithm=algorithm, signing_keys=[out.read_text()])
    token = signer.create_access_token("alice")
    capsys.readouterr()
    published = _jwks(capsys, "--key-file", str(out), "--algorithm", algorithm)
    assert published == signer.jwks()
    assert JWTManager(algorithm=algorithm, jwks=published).decode_token(token)["sub"] == "alice"


def test_generate_never_overwrites_a_key(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "key.pem"
    out.write_text("precious")
    assert main(["keys", "generate", "--out", str(out)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert out.read_text() == "precious"


def test_an_hmac_secret_is_long_enough_and_verifies_with_pyjwt(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate", "--algorithm", "HS256"]) == 0
    secret = capsys.readouterr().out.strip()
    assert len(secret) >= 43  # 32 random bytes, base64url
    token = JWTManager(secret_key=secret).create_access_token("alice")
    assert pyjwt.decode(token, secret, algorithms=["HS256"])["sub"] == "alice"


def _rotation_files(tmp_path: Path) -> tuple[Any, Any]:
    current, upcoming = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    (tmp_path / "current.pem").write_text(_pem(current))
    (tmp_path / "next.pub.pem").write_text(_public_pem(upcoming))
    return current, upcoming


def test_jwks_of_a_configuration_lists_every_signing_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _rotation_files(tmp_path)
    config = tmp_path / "jwt.toml"
    config.write_text('[jwt]\nalgorithm = "ES256"\n'
                      'signing_keys_file = ["current.pem", "next.pub.pem"]\n')
    published = _jwks(capsys, "--config", str(config))
    manager = load_config(config).manager
    assert published == manager.jwks() and len(published["keys"]) == 2
    # The same keys from the key files, the signing key first.
    from_files = _jwks(capsys, "--key-file", str(tmp_path / "current.pem"),
                       "--key-file", str(tmp_path / "next.pub.pem"))
    assert [k["kid"] for k in from_files["keys"]] == [k["kid"] for k in published["keys"]]
    token = manager.create_access_token("alice")
    assert pyjwt.get_unverified_header(token)["kid"] == published["keys"][0]["kid"]


def test_hmac_fallbacks_from_the_environment(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = "o" * 40, "n" * 40
    monkeypatch.setenv("OLD_JWT_SECRET", old)
    monkeypatch.setenv("JWT_SECRET", new)
    config = tmp_path / "jwt.toml"
    config.write_text('[jwt]\nsecret_key_env = "JWT_SECRET"\n'
                      'secret_key_fallbacks_env = ["OLD_JWT_SECRET"]\n')
    manager = load_config(config).manager
    before = JWTManager(secret_key=old).create_access_token("alice")
    assert manager.decode_token(before)["sub"] == "alice"


@pytest.mark.parametrize(("jwt_table", "message"), [
    pytest.param('signing_keys_file = "current.pem"', "must be a non-empty list of files",
                 id="one-file-not-in-a-list"),
    pytest.param("signing_keys_file = []", "must be a non-empty list of files",
                 id="empty-list"),
    pytest.param('signing_keys_file = ["current.pem", ""]', "in each place of the list",
                 id="blank-name"),
    pytest.param('signing_keys_file = ["current.pem", "missing.pem"]', "cannot read",
                 id="missing-file"),
    pytest.param('secret_key_fallbacks_env = ["NOT_SET_ANYWHERE_42"]', "empty or unset",
                 id="unset-variable"),
])
def test_key_lists_in_files_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        jwt_table: str, message: str) -> None:
    _rotation_files(tmp_path)
    config = tmp_path / "jwt.toml"
    config.write_text(f'[jwt]\nalgorithm = "ES256"\n{jwt_table}\n')
    assert main(["keys", "jwks", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert message in error and "jwt.toml" in error


def test_jwks_of_an_hmac_configuration_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "jwt.toml"
    config.write_text(f'[jwt]\nsecret_key = "{"s" * 40}"\n')
    assert main(["keys", "jwks", "--config", str(config)]) == 2
    assert "never published" in capsys.readouterr().err
