"""Interop: tokens pass both ways between jwt_wsgi and PyJWT, joserfc, flask-jwt-extended."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import flask
import flask_jwt_extended
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from werkzeug.test import Client

from jwt_wsgi import JWTManager, JWTMiddleware
from tests.harness import SECRET, Recorder, bearer

ALGORITHMS = ("RS256", "PS256", "ES256", "HS256")


class Keys:
    """One key per algorithm family, as PEM text and as the other libraries want it."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())

    def private(self, alg: str) -> Any:
        return self.ec if alg.startswith("ES") else self.rsa

    def private_pem(self, alg: str) -> str:
        return self.private(alg).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def public_pem(self, alg: str) -> str:
        return self.private(alg).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def joserfc_key(self, alg: str, private: bool = True) -> Any:
        if alg == "HS256":
            return OctKey.import_key(SECRET)
        cls = ECKey if alg.startswith("ES") else RSAKey
        pem = self.private_pem(alg) if private else self.public_pem(alg)
        return cls.import_key(pem, {"kid": "joserfc-" + alg})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def ours(alg: str, keys: Keys, **options: Any) -> JWTManager:
    if alg == "HS256":
        return JWTManager(secret_key=SECRET, **options)
    return JWTManager(algorithm=alg, private_key=keys.private_pem(alg), **options)


def verifier(alg: str, keys: Keys, **options: Any) -> JWTManager:
    if alg == "HS256":
        return JWTManager(secret_key=SECRET, **options)
    return JWTManager(algorithm=alg, public_key=keys.public_pem(alg), **options)


def flask_app(alg: str, keys: Keys) -> flask.Flask:
    app = flask.Flask("interop")
    app.config["JWT_ALGORITHM"] = alg
    if alg == "HS256":
        app.config["JWT_SECRET_KEY"] = SECRET
    else:
        app.config["JWT_PRIVATE_KEY"] = keys.private_pem(alg)
        app.config["JWT_PUBLIC_KEY"] = keys.public_pem(alg)
    flask_jwt_extended.JWTManager(app)

    @app.get("/me")
    @flask_jwt_extended.jwt_required()
    def me() -> Any:
        return {"sub": flask_jwt_extended.get_jwt_identity(),
                "role": flask_jwt_extended.get_jwt().get("role")}

    return app


# -- theirs -> ours -------------------------------------------------------------------

def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "nbf": now, "exp": now + 300, "jti": "j-1",
            "role": "admin"}


def by_pyjwt(alg: str, keys: Keys) -> str:
    key = SECRET if alg == "HS256" else keys.private_pem(alg)
    return pyjwt.encode(_claims(), key, algorithm=alg)


def by_joserfc(alg: str, keys: Keys) -> str:
    return joserfc_jwt.encode({"alg": alg}, _claims(), keys.joserfc_key(alg), algorithms=[alg])


def by_flask_jwt_extended(alg: str, keys: Keys) -> str:
    with flask_app(alg, keys).app_context():
        return flask_jwt_extended.create_access_token(
            "alice", fresh=True, additional_claims={"role": "admin"})


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("mint", [
    pytest.param(by_pyjwt, id="pyjwt"),
    pytest.param(by_joserfc, id="joserfc"),
    pytest.param(by_flask_jwt_extended, id="flask-jwt-extended"),
])
def test_their_tokens_verify_here(alg: str, mint: Callable[[str, Keys], str],
                                  keys: Keys) -> None:
    token = mint(alg, keys)
    client = Client(JWTMiddleware(Recorder(), verifier(alg, keys), default="required"))
    response = client.get("/", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["sub"] == "alice"
    # And the other library's algorithm family never slips through under a wrong alg.
    other = "HS256" if alg != "HS256" else "RS256"
    wrong = Client(JWTMiddleware(Recorder(), verifier(other, keys), default="required"))
    assert wrong.get("/", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("alg", ("RS256", "PS256", "ES256"))
def test_their_tokens_verify_from_a_jwks(alg: str, keys: Keys) -> None:
    jwks = KeySet([keys.joserfc_key(alg, private=False)]).as_dict()
    for jwk in jwks["keys"]:
        jwk["alg"] = alg
    manager = JWTManager(algorithm=alg, jwks=jwks)
    header = {"alg": alg, "kid": "joserfc-" + alg}
    token = joserfc_jwt.encode(header, _claims(), keys.joserfc_key(alg), algorithms=[alg])
    assert manager.decode_token(token)["role"] == "admin"
    pyjwt_token = pyjwt.encode(_claims(), keys.private_pem(alg), algorithm=alg,
                               headers={"kid": "joserfc-" + alg})
    assert manager.decode_token(pyjwt_token)["sub"] == "alice"


# -- ours -> theirs -------------------------------------------------------------------

@pytest.mark.parametrize("alg", ALGORITHMS)
def test_our_tokens_verify_with_pyjwt(alg: str, keys: Keys) -> None:
    token = ours(alg, keys).create_access_token("alice", additional_claims={"role": "admin"})
    key = SECRET if alg == "HS256" else keys.public_pem(alg)
    claims = pyjwt.decode(token, key, algorithms=[alg])
    assert claims["sub"] == "alice" and claims["type"] == "access" and claims["role"] == "admin"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_our_tokens_verify_with_joserfc(alg: str, keys: Keys) -> None:
    token = ours(alg, keys).create_access_token("alice")
    decoded = joserfc_jwt.decode(token, keys.joserfc_key(alg, private=False), algorithms=[alg])
    joserfc_jwt.JWTClaimsRegistry(sub={"essential": True, "value": "alice"}).validate(
        decoded.claims)
    assert decoded.header["alg"] == alg


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_our_tokens_pass_flask_jwt_extended(alg: str, keys: Keys) -> None:
    token = ours(alg, keys).create_access_token("alice", fresh=True,
                                                additional_claims={"role": "admin"})
    response = flask_app(alg, keys).test_client().get("/me", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json == {"sub": "alice", "role": "admin"}


@pytest.mark.parametrize("alg", ("RS256", "PS256", "ES256"))
def test_our_published_jwks_works_in_other_libraries(alg: str, keys: Keys) -> None:
    manager = ours(alg, keys)
    jwks = manager.jwks()
    token = manager.create_access_token("alice")
    key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    assert joserfc_jwt.decode(token, key_set, algorithms=[alg]).claims["sub"] == "alice"
    kid = jwks["keys"][0]["kid"]
    signing_key = pyjwt.PyJWKSet.from_dict(jwks)[kid]
    assert pyjwt.decode(token, signing_key, algorithms=[alg])["sub"] == "alice"


@pytest.mark.parametrize("locations", [
    ["headers"], ["cookies"], ["query_string"], ["json"], ["headers", "cookies"],
    ["cookies", "headers", "json"], ["headers", "cookies", "query_string", "json"]])
def test_missing_token_messages_are_flask_jwt_extendeds(locations: list[str]) -> None:
    """Clients that read the message keep working after the move: the same words."""
    app = flask.Flask("missing")
    app.config.update(JWT_SECRET_KEY=SECRET, JWT_TOKEN_LOCATION=locations)
    flask_jwt_extended.JWTManager(app)

    @app.post("/p")
    @flask_jwt_extended.jwt_required()
    def protected() -> str:
        return "ok"

    theirs = app.test_client().post("/p", json={})
    mine = Client(JWTMiddleware(Recorder(), JWTManager(secret_key=SECRET, token_location=locations),
                                routes={"/p": "required"})).post("/p", json={})
    assert (mine.status_code, mine.get_json()) == (theirs.status_code, theirs.get_json())


# -- identity_claim other than "sub" --------------------------------------------------

def identity_app() -> flask.Flask:
    app = flask.Flask("interop-identity")
    app.config.update(JWT_SECRET_KEY=SECRET, JWT_IDENTITY_CLAIM="identity")
    flask_jwt_extended.JWTManager(app)

    @app.get("/me")
    @flask_jwt_extended.jwt_required()
    def me() -> Any:
        return {"identity": flask_jwt_extended.get_jwt_identity()}

    return app


@pytest.mark.parametrize(("identity", "remote_user"), [
    pytest.param(42, "42", id="int"),
    pytest.param({"id": 1, "org": "é"}, '{"id":1,"org":"é"}', id="object"),
    pytest.param(True, "true", id="bool"),
])
def test_non_string_identities_pass_both_ways_with_flask_jwt_extended(identity: Any,
                                                                      remote_user: str) -> None:
    app = identity_app()
    manager = JWTManager.from_mapping(app.config)
    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, manager, default="required"))
    with app.app_context():
        theirs = flask_jwt_extended.create_access_token(identity)
    assert manager.decode_token(theirs)["identity"] == identity
    response = client.get("/", headers=bearer(theirs))
    assert response.status_code == 200, response.json
    assert recorder.environs[-1]["jwt_wsgi.identity"] == identity
    assert recorder.environs[-1]["REMOTE_USER"] == remote_user  # JSON text, never a Python repr

    ours = manager.create_access_token(identity)
    response = app.test_client().get("/me", headers=bearer(ours))
    assert response.status_code == 200, response.json
    assert response.json == {"identity": identity}


# -- claim layout ---------------------------------------------------------------------

@pytest.mark.parametrize("config", [
    pytest.param({}, id="defaults"),
    pytest.param({"JWT_TOKEN_LOCATION": ["headers", "cookies"]}, id="headers-and-cookies"),
    pytest.param({"JWT_COOKIE_CSRF_PROTECT": False}, id="csrf-protect-off"),
    pytest.param({"JWT_ENCODE_NBF": False}, id="no-nbf"),
])
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_claim_layout_is_flask_jwt_extended_s(config: dict[str, Any], kind: str) -> None:
    app = flask.Flask("interop-layout")
    app.config.update(JWT_SECRET_KEY=SECRET, **config)
    flask_jwt_extended.JWTManager(app)
    manager = JWTManager.from_mapping(app.config)
    with app.app_context():
        create = getattr(flask_jwt_extended, f"create_{kind}_token")
        theirs = flask_jwt_extended.decode_token(create("alice"))
    ours = manager.decode_token(getattr(manager, f"create_{kind}_token")("alice"))
    assert list(ours) == list(theirs)
