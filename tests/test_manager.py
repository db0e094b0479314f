"""JWTManager, the central object: what it refuses to be built with, and how its verify,
decode_token, revocation, keys and loaders work together.

Token layout, claim rules and minting options have their own file (test_tokens.py), the
settings theirs (test_settings.py); these cases are about the manager as a whole.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jwt_wsgi import (
    ConfigError,
    ExpiredTokenError,
    JWTManager,
    MemoryBlocklist,
    RevokedTokenError,
    ServiceUnavailableError,
    Settings,
    SignatureInvalidError,
    Token,
)
from jwt_wsgi.keys import public_jwk, thumbprint
from tests.harness import NOW, SECRET, Clock, keys, manager, sign_hs256

OTHER_SECRET = "another-secret-" + "o" * 40


class Broken:
    """A blocklist whose store is down."""

    def add(self, jti: str, expires_at: float | None) -> None:
        raise ConnectionError("down")

    def contains(self, jti: str) -> bool:
        raise ConnectionError("down")


# -- building -------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "message"), [
    pytest.param(lambda: JWTManager(Settings.build(secret_key=SECRET), secret_key=SECRET),
                 "either a Settings object or keyword options", id="settings-and-options"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, clock=12.0),  # type: ignore[arg-type]
                 "clock must be a callable",
                 id="clock-not-callable"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, blocklist=object()),  # type: ignore[arg-type]
                 "blocklist must have add", id="blocklist-without-methods"),
    pytest.param(lambda: JWTManager(), "needs secret_key", id="no-key"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, algorithm="none"), "'none'",
                 id="alg-none"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, decode_algorithms=["HS256", "RS256"]),
                 "HMAC and public-key", id="mixed-families"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, max_token_size=0), "max_token_size",
                 id="size-zero"),
    # An HMAC secret never stands in for a public key: beside RS256 it verifies nothing.
    pytest.param(lambda: JWTManager(secret_key=SECRET, algorithm="RS256"),
                 "RS256 needs a key to verify with", id="hmac-secret-as-the-only-rs256-key"),
    pytest.param(lambda: JWTManager(algorithm="RS256", public_key=keys().public("rsa", "pem"),
                                    secret_key=SECRET, secret_key_fallbacks=[OTHER_SECRET]),
                 "secret_key_fallbacks are HMAC secrets", id="fallbacks-with-rs256"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, public_key=keys().public("rsa", "pem")),
                 "HMAC algorithms use secret_key", id="public-key-with-hs256"),
    pytest.param(lambda: JWTManager(secret_key=SECRET, leeway=-1), "leeway",
                 id="negative-leeway"),
])
def test_a_manager_that_cannot_work_is_refused_when_built(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build()


def test_from_mapping_names_the_jwt_key_and_ignores_flask_secret_key() -> None:
    with pytest.raises(ConfigError, match="needs JWT_SECRET_KEY") as raised:
        JWTManager.from_mapping({"SECRET_KEY": "flask-session-secret-" + "x" * 32})
    assert "does not read SECRET_KEY" in str(raised.value)
    assert "flask-session-secret" not in str(raised.value)
    built = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET, "DEBUG": True,
                                     "JWT_ACCESS_TOKEN_EXPIRES": "15m"})
    assert built.settings.access_token_expires == datetime.timedelta(minutes=15)


@pytest.mark.parametrize(("first", "message"), [
    pytest.param("a-secret-" + "x" * 40, "pass the key by name", id="a-bare-secret"),
    pytest.param({"JWT_SECRET_KEY": SECRET}, "JWTManager.from_mapping(mapping)",
                 id="a-config-mapping"),
    pytest.param(42, "first argument is a Settings object, not int", id="anything-else"),
])
def test_a_first_argument_that_is_no_settings_names_the_form_to_write(first: Any,
                                                                      message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)) as raised:
        JWTManager(first)
    assert "x" * 40 not in str(raised.value)


@pytest.mark.parametrize(("mapping", "message", "hint"), [
    pytest.param({}, "an HMAC algorithm needs JWT_SECRET_KEY", False, id="nothing"),
    pytest.param({"SECRET_KEY": ""}, "an HMAC algorithm needs JWT_SECRET_KEY", False,
                 id="empty-flask-secret-gives-no-hint"),
    pytest.param({"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "none"}, "'none' algorithm",
                 False, id="other-refusals-pass-through"),
    pytest.param({"JWT_ALGORITHM": "RS256", "SECRET_KEY": "flask-" + "f" * 40},
                 "RS256 needs a key to verify with", False, id="public-key-algorithm"),
])
def test_from_mapping_refusals(mapping: dict[str, Any], message: str, hint: bool) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        JWTManager.from_mapping(mapping)
    assert ("does not read SECRET_KEY" in str(raised.value)) is hint


def test_from_mapping_takes_the_clock_and_the_blocklist() -> None:
    clock, store = Clock(NOW + 5), MemoryBlocklist()
    built = JWTManager.from_mapping({"JWT_SECRET_KEY": SECRET}, clock=clock, blocklist=store)
    assert built.clock is clock and built.blocklist is store
    assert built.decode_token(built.create_access_token("a"))["iat"] == NOW + 5


# -- verify and decode_token ----------------------------------------------------------


def test_verify_returns_the_callers_own_token_each_time() -> None:
    jwt = manager()
    token = jwt.create_access_token("alice", additional_claims={"roles": ["a"]})
    first = jwt.verify(token)
    assert isinstance(first, Token)
    first.claims["roles"].append("admin")
    first.header["alg"] = "none"
    for _ in range(3):  # the second verification is kept, the third a cache hit
        again = jwt.verify(token)
        assert again.claims["roles"] == ["a"] and again.header["alg"] == "HS256"
    assert jwt.token_cache is not None and jwt.token_cache.hits >= 1


@pytest.mark.parametrize("cache_size", [0, 16])
def test_verify_checks_the_clock_and_revocation_even_for_a_cached_token(
        cache_size: int) -> None:
    clock = Clock()
    jwt = manager(clock=clock, token_cache_size=cache_size)
    token = jwt.create_access_token("alice", expires_delta=60)
    for _ in range(3):
        jwt.verify(token)
    clock.now += 61
    with pytest.raises(ExpiredTokenError):
        jwt.verify(token)
    clock.now -= 61
    jwt.revoke(token)
    with pytest.raises(RevokedTokenError):
        jwt.verify(token)


def test_decode_token_does_not_ask_the_blocklist_and_verify_does() -> None:
    jwt = manager(blocklist=Broken())
    token = jwt.create_access_token("alice")
    assert jwt.decode_token(token)["sub"] == "alice"
    with pytest.raises(ServiceUnavailableError):
        jwt.verify(token)


def test_decode_token_allow_expired_still_checks_the_signature() -> None:
    clock = Clock()
    jwt = manager(clock=clock)
    token = jwt.create_access_token("alice", expires_delta=10)
    clock.now += 11
    with pytest.raises(ExpiredTokenError) as raised:
        jwt.decode_token(token)
    assert raised.value.jwt_payload is not None and raised.value.jwt_payload["sub"] == "alice"
    assert jwt.decode_token(token, allow_expired=True)["sub"] == "alice"
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BA")
    with pytest.raises(SignatureInvalidError):
        jwt.decode_token(forged, allow_expired=True)


def test_another_managers_token_is_refused() -> None:
    token = manager(secret_key=OTHER_SECRET).create_access_token("alice")
    with pytest.raises(SignatureInvalidError):
        manager().verify(token)


def test_only_verify_uses_the_cache_and_only_for_successes() -> None:
    jwt = manager()
    cache = jwt.token_cache
    assert cache is not None and cache.size == jwt.settings.token_cache_size
    token = jwt.create_access_token("alice")
    for _ in range(3):
        jwt.decode_token(token)
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, 0)
    forged = manager(secret_key=OTHER_SECRET).create_access_token("alice")
    for _ in range(3):
        with pytest.raises(SignatureInvalidError):
            jwt.verify(forged)
    assert forged not in cache and len(cache) == 0
    for _ in range(3):  # seen, kept, then a hit
        jwt.verify(token)
    assert token in cache and (cache.hits, len(cache)) == (1, 1)
    assert manager(token_cache_size=0).token_cache is None


def test_replacing_keys_starts_a_generation_and_keeps_the_clock() -> None:
    clock = Clock()
    jwt = manager(clock=clock)
    cache = jwt.token_cache
    assert cache is not None
    token = jwt.create_access_token("alice")
    for _ in range(3):
        jwt.verify(token)
    state, generation, hits = jwt.key_state, jwt.keys.generation, cache.hits
    jwt.replace_keys(secret_key=SECRET)  # the same secret, as a new key set
    assert jwt.key_state is not state and jwt.keys is not state.keys
    assert jwt.keys.generation == generation + 1
    assert jwt.clock is clock and jwt.codec.clock is clock
    assert jwt.verify(token).claims["sub"] == "alice"
    assert cache.hits == hits  # verified again under the new set, not a hit
    clock.now += 7
    assert jwt.decode_token(jwt.create_access_token("bob"))["iat"] == NOW + 7


def test_the_default_clock_is_the_wall_clock() -> None:
    jwt = JWTManager(secret_key=SECRET)
    assert jwt.clock is time.time
    before = int(time.time())
    iat = jwt.decode_token(jwt.create_access_token("alice"))["iat"]
    assert before <= iat <= time.time()


def _rsa_manager(**options: Any) -> JWTManager:
    return JWTManager(algorithm="RS256", **options)


@pytest.mark.parametrize(("build", "signs", "published", "public_half"), [
    pytest.param(lambda: manager(), True, 0, False, id="hmac"),
    pytest.param(lambda: _rsa_manager(private_key=keys().rsa_private_pem()), True, 1, True,
                 id="private-key"),
    pytest.param(lambda: _rsa_manager(public_key=keys().public("rsa", "pem")), False, 0, False,
                 id="public-key-only"),
    pytest.param(lambda: _rsa_manager(jwks={"keys": [public_jwk(
        keys().rsa_private.public_key(), "k", "RS256")]}), False, 0, False, id="jwks-only"),
    pytest.param(lambda: _rsa_manager(signing_keys=[
        keys().rsa_private_pem(), _other_rsa_public_pem()]), True, 2, True, id="signing-keys"),
])
def test_the_key_state_holds_what_the_keys_allow(build: Any, signs: bool, published: int,
                                                 public_half: bool) -> None:
    jwt = build()
    state = jwt.key_state
    assert (state.signer is not None) is signs
    assert (jwt.own_codec is not None) is signs and (jwt.rotation_codec is not None) is signs
    assert len(state.published) == published
    assert (jwt.signing_public_key is not None) is public_half
    if public_half:
        assert jwt.signing_public_key is not None
        assert jwt.signing_public_key.public_numbers() == (
            keys().rsa_private.public_key().public_numbers())
    if signs:
        header, _ = jwt.verify(jwt.create_access_token("alice"))
        assert header.get("kid") == (state.published[0]["kid"] if published else None)
    else:
        with pytest.raises(RuntimeError, match="no signing key"):
            jwt.create_access_token("alice")


_OTHER_RSA: list[bytes] = []


def _other_rsa_public_pem() -> bytes:
    """A second RSA public key, generated once."""
    if not _OTHER_RSA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _OTHER_RSA.append(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return _OTHER_RSA[0]


# -- revocation ---------------------------------------------------------------------------


def test_revoking_the_refresh_token_of_a_pair_refuses_its_access_token() -> None:
    jwt = manager()
    access, refresh = jwt.create_token_pair("alice")
    claims = jwt.decode_token(access)
    assert claims["refresh_jti"] == jwt.decode_token(refresh)["jti"]
    jwt.verify(access)
    jwt.revoke(refresh)
    with pytest.raises(RevokedTokenError):
        jwt.verify(access)
    other, _ = jwt.create_token_pair("alice")
    assert jwt.verify(other).claims["sub"] == "alice"  # another login is untouched


def test_revoke_all_refuses_the_identitys_tokens_and_no_one_elses() -> None:
    clock = Clock()
    jwt = manager(clock=clock)
    alice, bob = jwt.create_access_token("alice"), jwt.create_access_token("bob")
    clock.now += 5
    assert jwt.revoke_all("alice") == NOW + 5
    with pytest.raises(RevokedTokenError):
        jwt.verify(alice)
    assert jwt.verify(bob).claims["sub"] == "bob"
    assert jwt.verify(jwt.create_access_token("alice")).claims["sub"] == "alice"


@pytest.mark.parametrize(("answer", "revoked"), [
    pytest.param(True, True, id="true"), pytest.param(1, True, id="one"),
    pytest.param({"row": 1}, True, id="a-row"), pytest.param(False, False, id="false"),
    pytest.param(None, False, id="none"), pytest.param(0, False, id="zero"),
])
def test_any_truthy_blocklist_loader_answer_revokes(answer: Any, revoked: bool) -> None:
    jwt = manager()
    seen: list[dict[str, Any]] = []

    @jwt.token_in_blocklist_loader
    def check(header: dict[str, Any], claims: dict[str, Any]) -> Any:
        seen.append(claims)
        claims["sub"] = "mallory"  # its own copy: must not reach the cache
        return answer

    token = jwt.create_access_token("alice")
    for _ in range(3):
        if revoked:
            with pytest.raises(RevokedTokenError):
                jwt.verify(token)
        else:
            assert jwt.verify(token).claims["sub"] == "alice"
    assert len(seen) == 3


def test_a_blocklist_loader_that_raises_fails_closed() -> None:
    jwt = manager()

    @jwt.token_in_blocklist_loader
    def check(header: dict[str, Any], claims: dict[str, Any]) -> bool:
        raise RuntimeError("database down")

    with pytest.raises(ServiceUnavailableError):
        jwt.verify(jwt.create_access_token("alice"))


class Recording(MemoryBlocklist):
    """A real MemoryBlocklist that also keeps what it was asked to store."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[tuple[str, float | None]] = []
        self.marks: list[tuple[str, float, float | None]] = []

    def add(self, jti: str, expires_at: float | None) -> None:
        self.added.append((jti, expires_at))
        super().add(jti, expires_at)

    def revoke_all(self, identity: str, before: float, expires_at: float | None) -> None:
        self.marks.append((identity, before, expires_at))
        super().revoke_all(identity, before, expires_at)


class MarksDown(MemoryBlocklist):
    """Revocations work, the watermark store is down."""

    def revoke_all(self, identity: str, before: float, expires_at: float | None) -> None:
        raise ConnectionError("down")


@pytest.mark.parametrize(("revoked", "error", "message"), [
    pytest.param({"sub": "a"}, ValueError, "has no jti", id="claims-without-jti"),
    pytest.param({"jti": 7}, ValueError, "has no jti", id="jti-not-a-string"),
    pytest.param({"jti": "family:x"}, ValueError, "not one this store can revoke",
                 id="jti-naming-a-family"),
    pytest.param({"jti": "consumed:x"}, ValueError, "not one this store can revoke",
                 id="jti-naming-a-used-token"),
    pytest.param("forged", SignatureInvalidError, "Signature verification failed",
                 id="a-token-that-does-not-verify"),
])
def test_revoke_refuses_what_it_cannot_name_and_stores_nothing(revoked: Any,
                                                                error: type[Exception],
                                                                message: str) -> None:
    store = Recording()
    jwt = manager(blocklist=store)
    if revoked == "forged":
        revoked = manager(secret_key=OTHER_SECRET).create_access_token("alice")
    with pytest.raises(error, match=re.escape(message)):
        jwt.revoke(revoked)
    assert store.added == [] and len(store) == 0


@pytest.mark.parametrize(("leeway", "expires_delta", "until"), [
    pytest.param(0, 60, NOW + 60, id="until-exp"),
    pytest.param(30, 60, NOW + 90, id="until-exp-plus-leeway"),
    pytest.param(30, False, None, id="a-token-without-exp-for-good"),
])
def test_a_revocation_lasts_as_long_as_the_token_could_verify(leeway: int, expires_delta: Any,
                                                              until: float | None) -> None:
    store = Recording()
    jwt = manager(blocklist=store, leeway=leeway)
    token = jwt.create_access_token("alice", expires_delta=expires_delta)
    jwt.revoke(token)
    assert store.added == [(jwt.decode_token(token)["jti"], until)]


def test_an_expired_token_can_still_be_revoked_and_its_claims_too() -> None:
    """Revoking a token found after it expired is accepted (as a token or as the claims
    decode_token(allow_expired=True) gives) and keeps nothing: by the manager's clock,
    which the store ages entries by, it can never verify again anyway."""
    clock = Clock()
    store = MemoryBlocklist()
    jwt = manager(clock=clock, blocklist=store)
    first, second = (jwt.create_access_token("alice", expires_delta=10) for _ in range(2))
    clock.now += 5
    jwt.revoke(first)  # still valid: kept until it expires
    assert len(store) == 1
    clock.now += 6
    jwt.revoke(jwt.decode_token(second, allow_expired=True))  # claims: not verified again
    assert len(store) == 0  # the first one's entry is gone with its token
    for token in (first, second):
        with pytest.raises(ExpiredTokenError):
            jwt.verify(token)


def test_a_store_that_is_down_makes_revoke_and_revoke_all_fail_loudly() -> None:
    token = manager().create_access_token("alice")
    with pytest.raises(ServiceUnavailableError):
        manager(blocklist=Broken()).revoke(token)
    with pytest.raises(ServiceUnavailableError):
        manager(blocklist=MarksDown()).revoke_all("alice")
    with pytest.raises(TypeError, match="Broken has no revoke_all"):
        manager(blocklist=Broken()).revoke_all("alice")


@pytest.mark.parametrize(("start", "mint_at", "refused"), [
    # The open question: a whole-second watermark (a clock that reads whole seconds, as
    # the frozen test clock does) lets through a token minted in that same instant,
    # even though it was minted before revoke_all() was called: iat == watermark is
    # not "iat < before". The docstring says so ("unless the watermark is itself a
    # whole second ... every token minted from then on passes").
    pytest.param(NOW, 0.0, False, id="whole-second-clock-minted-just-before"),
    pytest.param(NOW + 0.25, 0.0, True, id="fractional-clock-minted-just-before"),
    pytest.param(NOW + 0.25, 0.5, True, id="same-second-minted-after-is-refused-too"),
    pytest.param(NOW + 0.25, 0.75, False, id="next-second-passes"),
    pytest.param(NOW, -1.0, True, id="second-before-whole-watermark"),
])
def test_revoke_all_at_now_against_tokens_of_the_same_second(start: float, mint_at: float,
                                                             refused: bool) -> None:
    clock = Clock(start)
    jwt = manager(clock=clock)
    clock.now = start + mint_at
    token = jwt.create_access_token("alice")
    clock.now = start
    assert jwt.revoke_all("alice") == start
    clock.now = start + 1
    if refused:
        with pytest.raises(RevokedTokenError):
            jwt.verify(token)
    else:
        assert jwt.verify(token).claims["sub"] == "alice"


@pytest.mark.parametrize(("options", "before", "mark", "until"), [
    pytest.param({}, None, NOW, NOW + 30 * 86400, id="now-until-the-longest-lifetime"),
    pytest.param({"leeway": 10}, NOW + 5, NOW + 5, NOW + 15 + 30 * 86400,
                 id="a-time-plus-leeway"),
    pytest.param({}, datetime.datetime.fromtimestamp(NOW + 60, datetime.UTC), NOW + 60,
                 NOW + 60 + 30 * 86400, id="an-aware-datetime"),
    pytest.param({"refresh_token_expires": False}, None, NOW, None,
                 id="for-good-when-a-token-never-expires"),
])
def test_revoke_all_stores_a_watermark_for_as_long_as_tokens_live(
        options: dict[str, Any], before: Any, mark: float, until: float | None) -> None:
    store = Recording()
    jwt = manager(blocklist=store, **options)
    returned = jwt.revoke_all("alice", before=before)
    assert type(returned) is float and returned == mark
    assert store.marks == [("alice", mark, until)]


def test_revoke_all_keys_an_identity_of_any_json_type_and_refuses_tokens_without_iat() -> None:
    jwt = manager(identity_claim="uid")
    mine, theirs = jwt.create_access_token({"id": 1}), jwt.create_access_token({"id": 2})
    undated = sign_hs256({"alg": "HS256"}, {"uid": {"id": 1}, "jti": "j", "type": "access",
                                            "fresh": False, "exp": NOW + 60})
    assert jwt.verify(undated).claims["uid"] == {"id": 1}  # no watermark yet: fine
    jwt.revoke_all({"id": 1}, before=NOW + 1)
    for token in (mine, undated):
        with pytest.raises(RevokedTokenError):
            jwt.verify(token)
    assert jwt.verify(theirs).claims["uid"] == {"id": 2}


def test_a_later_revoke_all_never_moves_the_watermark_back() -> None:
    clock = Clock()
    jwt = manager(clock=clock)
    clock.now = NOW + 5
    token = jwt.create_access_token("alice")
    jwt.revoke_all("alice", before=NOW + 10)
    jwt.revoke_all("alice", before=NOW)
    with pytest.raises(RevokedTokenError):
        jwt.verify(token)


@pytest.mark.parametrize("revoke", [
    pytest.param(lambda jwt, token: jwt.revoke(token), id="revoke"),
    pytest.param(lambda jwt, token: jwt.revoke_all("alice"), id="revoke-all"),
])
def test_revocation_follows_the_managers_clock(revoke: Any) -> None:
    clock = Clock(time.time() - 40 * 86400)  # a frozen test clock in the past
    jwt = manager(clock=clock)
    token = jwt.create_access_token("alice")
    clock.now += 1
    revoke(jwt, token)
    with pytest.raises(RevokedTokenError):
        jwt.verify(token)


def test_the_store_answers_before_the_blocklist_loader_is_asked() -> None:
    jwt = manager()
    asked: list[tuple[dict[str, Any], dict[str, Any]]] = []

    @jwt.token_in_blocklist_loader
    def check(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> bool:
        asked.append((jwt_header, jwt_payload))
        return False

    revoked, kept = jwt.create_access_token("alice"), jwt.create_access_token("bob")
    jwt.revoke(revoked)
    with pytest.raises(RevokedTokenError):
        jwt.verify(revoked)
    assert asked == []  # revoked by the store: the loader is not needed
    jwt.verify(kept)
    assert [(h["alg"], c["sub"]) for h, c in asked] == [("HS256", "bob")]


@pytest.mark.parametrize(("register", "message"), [
    pytest.param(lambda jwt: jwt.token_in_blocklist_loader(lambda claims: True),
                 "must accept (jwt_header, jwt_payload)", id="blocklist-loader-one-argument"),
    pytest.param(lambda jwt: jwt.token_in_blocklist_loader(),
                 "a decorator without parentheses", id="decorator-called-empty"),
    pytest.param(lambda jwt: jwt.user_identity_loader(lambda user, extra: user),
                 "must accept (user)", id="identity-loader-two-arguments"),
    pytest.param(lambda jwt: jwt.register_loaders({"revoked_loader": print}),
                 "unknown loader 'revoked_loader'", id="unknown-name"),
])
def test_a_loader_that_cannot_be_called_is_refused_when_registered(register: Any,
                                                                   message: str) -> None:
    jwt = manager()
    with pytest.raises(TypeError, match=re.escape(message)):
        register(jwt)
    assert jwt.verify(jwt.create_access_token("alice")).claims["sub"] == "alice"


def test_register_loaders_by_name_is_the_decorator() -> None:
    jwt = manager()
    jwt.register_loaders({"token_in_blocklist_loader": lambda jwt_header, jwt_payload:
                          jwt_payload["sub"] == "mallory",
                          "user_identity_loader": lambda user: user["name"]})
    assert jwt.verify(jwt.create_access_token({"name": "alice"})).claims["sub"] == "alice"
    with pytest.raises(RevokedTokenError):
        jwt.verify(jwt.create_access_token({"name": "mallory"}))


# -- loaders that shape minted tokens -------------------------------------------------


def test_minting_loaders_run_in_order_and_arguments_win() -> None:
    jwt = manager()

    @jwt.user_identity_loader
    def identity(user: dict[str, Any]) -> str:
        return str(user["name"])

    @jwt.additional_claims_loader
    def claims(user: dict[str, Any]) -> dict[str, Any]:
        return {"role": user["role"], "team": "blue"}

    @jwt.additional_headers_loader
    def headers(user: dict[str, Any]) -> dict[str, Any]:
        return {"x-user": user["name"]}

    token = jwt.create_access_token({"name": "alice", "role": "admin"},
                                    additional_claims={"team": "red"})
    header, decoded = jwt.verify(token)
    assert decoded["sub"] == "alice" and decoded["role"] == "admin" and decoded["team"] == "red"
    assert header["x-user"] == "alice"


# -- minting options ------------------------------------------------------------------


HOUR = datetime.timedelta(hours=1)


@pytest.mark.parametrize(("options", "mint", "present", "absent"), [
    pytest.param({}, lambda jwt: jwt.create_access_token("a", fresh=NOW + 10.5),
                 {"fresh": NOW + 10.5, "type": "access"}, (), id="fresh-until-a-timestamp"),
    pytest.param({}, lambda jwt: jwt.create_access_token("a", fresh=HOUR),
                 {"fresh": NOW + 3600}, (), id="fresh-for-a-timedelta"),
    pytest.param({}, lambda jwt: jwt.create_access_token("a", expires_delta=2 * HOUR),
                 {"exp": NOW + 7200}, (), id="expires-delta-timedelta"),
    pytest.param({}, lambda jwt: jwt.create_refresh_token("a", expires_delta=60),
                 {"exp": NOW + 60, "type": "refresh", "fresh": False}, (),
                 id="refresh-expires-delta"),
    pytest.param({"refresh_token_expires": False}, lambda jwt: jwt.create_refresh_token("a"),
                 {"type": "refresh"}, ("exp",), id="refresh-never-expires-by-setting"),
    pytest.param({}, lambda jwt: jwt.create_access_token(
        "a", additional_claims={"jti": "chosen", "sub": "b", "roles": ["x"]}),
                 {"jti": "chosen", "sub": "b", "roles": ["x"]}, (),
                 id="additional-claims-win-over-the-layout"),
    pytest.param({"encode_nbf": False, "cookie_csrf_protect": False},
                 lambda jwt: jwt.create_access_token("a"), {"iat": NOW}, ("nbf", "csrf"),
                 id="no-nbf-no-csrf-by-setting"),
    pytest.param({"clock": Clock(NOW + 0.99)}, lambda jwt: jwt.create_access_token("a"),
                 {"iat": NOW, "nbf": NOW, "exp": NOW + 900}, (), id="iat-cut-not-rounded"),
])
def test_minting_options_shape_the_claims(options: dict[str, Any], mint: Any,
                                          present: dict[str, Any], absent: tuple[str, ...]) -> None:
    jwt = manager(**options)
    claims = jwt.decode_token(mint(jwt))
    assert {name: claims.get(name) for name in present} == present
    assert [name for name in absent if name in claims] == []


@pytest.mark.parametrize(("mint", "error", "message"), [
    pytest.param(lambda jwt: jwt.create_access_token("a", fresh="yes"), TypeError,
                 "fresh must be", id="fresh-text"),
    pytest.param(lambda jwt: jwt.create_access_token("a", expires_delta=True), TypeError,
                 "expires_delta must be", id="expires-delta-true"),
    pytest.param(lambda jwt: jwt.create_access_token("a", expires_delta=1.5), TypeError,
                 "expires_delta must be", id="expires-delta-float"),
    pytest.param(lambda jwt: jwt.create_refresh_token("a", expires_delta="60"), TypeError,
                 "expires_delta must be", id="refresh-expires-delta-text"),
    pytest.param(lambda jwt: jwt.create_access_token("a", additional_claims={"x": object()}),
                 TypeError, "not JSON-serializable", id="claim-not-json"),
    pytest.param(lambda jwt: jwt.create_access_token("a", additional_claims={"x": float("nan")}),
                 TypeError, "not JSON-serializable", id="claim-nan"),
    pytest.param(lambda jwt: jwt.create_access_token("a", additional_headers={"crit": ["b64"]}),
                 ValueError, "may not set 'crit'", id="header-crit"),
    pytest.param(lambda jwt: jwt.create_refresh_token(["a"]), TypeError,
                 "identity must be a string", id="refresh-identity-a-list"),
])
def test_minting_refuses_what_it_cannot_sign(mint: Any, error: type[Exception],
                                             message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        mint(manager())


def test_an_identity_loader_that_returns_no_string_is_refused_at_mint() -> None:
    jwt = manager()

    @jwt.user_identity_loader
    def identity(user: dict[str, Any]) -> Any:
        return user["id"]

    with pytest.raises(TypeError, match="identity must be a string"):
        jwt.create_access_token({"id": 7})
    assert jwt.decode_token(jwt.create_access_token({"id": "7"}))["sub"] == "7"


@pytest.mark.parametrize("expires_delta", [
    pytest.param(0, id="zero"), pytest.param(-5, id="negative-seconds"),
    pytest.param(datetime.timedelta(seconds=-1), id="negative-timedelta"),
])
def test_a_token_minted_with_no_time_left_is_expired_at_once(expires_delta: Any) -> None:
    jwt = manager()
    token = jwt.create_access_token("alice", expires_delta=expires_delta)
    with pytest.raises(ExpiredTokenError):
        jwt.verify(token)
    assert jwt.decode_token(token, allow_expired=True)["sub"] == "alice"


# -- keys -----------------------------------------------------------------------------------


def test_replace_keys_swaps_the_signer_and_drops_the_old_key_at_once() -> None:
    jwt = manager()
    old = jwt.create_access_token("alice")
    for _ in range(3):
        jwt.verify(old)  # cached
    state = jwt.key_state
    jwt.replace_keys(secret_key=OTHER_SECRET)
    assert jwt.key_state is not state
    with pytest.raises(SignatureInvalidError):
        jwt.verify(old)
    new = jwt.create_access_token("alice")
    assert manager(secret_key=OTHER_SECRET).verify(new).claims["sub"] == "alice"


def test_replace_keys_keeps_a_fallback_verifying() -> None:
    jwt = manager()
    old = jwt.create_access_token("alice")
    jwt.replace_keys(secret_key=OTHER_SECRET, secret_key_fallbacks=[SECRET])
    assert jwt.verify(old).claims["sub"] == "alice"
    with pytest.raises(SignatureInvalidError):  # the fallback verifies, never signs
        manager().verify(jwt.create_access_token("bob"))


def test_a_refused_replacement_changes_nothing() -> None:
    jwt = manager()
    token = jwt.create_access_token("alice")
    state = jwt.key_state
    with pytest.raises(ConfigError):
        jwt.replace_keys(secret_key="")
    with pytest.raises(ConfigError):
        jwt.replace_keys(audience="x")
    assert jwt.key_state is state and jwt.verify(token).claims["sub"] == "alice"


def test_jwks_publishes_the_signing_key_under_its_thumbprint() -> None:
    jwt = JWTManager(algorithm="RS256", private_key=keys().rsa_private_pem())
    published = jwt.jwks()["keys"]
    assert len(published) == 1 and published[0]["kid"] == thumbprint(published[0])
    assert "d" not in published[0] and "p" not in published[0]  # the public half only
    header, _ = jwt.verify(jwt.create_access_token("alice"))
    assert header["kid"] == published[0]["kid"]
    consumer = JWTManager(algorithm="RS256", jwks=jwt.jwks())
    assert consumer.verify(jwt.create_access_token("bob")).claims["sub"] == "bob"


def test_an_hmac_manager_publishes_nothing() -> None:
    with pytest.raises(RuntimeError, match="never published"):
        manager().jwks()


def test_a_verify_only_manager_verifies_and_cannot_mint() -> None:
    signer = JWTManager(algorithm="ES256", private_key=keys().ec_private_pem())
    verifier = JWTManager(algorithm="ES256", public_key=keys().public("ec", "pem"))
    token = signer.create_access_token("alice")
    assert verifier.verify(token).claims["sub"] == "alice"
    with pytest.raises(RuntimeError):
        verifier.create_access_token("alice")
