"""Who may do what: any_scopes, contains, check, JSON Pointer claim names, user lookup.

The token bodies below are written in the shapes the identity providers document for
their access tokens (Keycloak, Microsoft Entra ID v2, Okta's custom authorization
server, Auth0 with a namespaced custom claim), signed here with the test secret.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import ConfigError, JWTManager, JWTMiddleware, get_current_user
from jwt_wsgi.policy import Policy, merge
from tests.harness import NOW, SECRET, Recorder, bearer

KEYCLOAK = {
    "exp": NOW + 300, "iat": NOW - 10, "jti": "8a1c", "iss": "https://kc.example/realms/shop",
    "aud": "account", "sub": "f3b1c2d4", "typ": "Bearer", "azp": "shop-web",
    "realm_access": {"roles": ["offline_access", "uma_authorization", "shop-admin"]},
    "resource_access": {"account": {"roles": ["manage-account", "view-profile"]},
                        "shop-api": {"roles": ["orders:write"]}},
    "scope": "openid email profile", "email_verified": True,
    "preferred_username": "alice",
}
ENTRA = {
    "aud": "api://b1e2c3d4", "iss": "https://login.microsoftonline.com/72f9/v2.0",
    "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 300, "azp": "c0ffee",
    "groups": ["0e1f2a3b-0000-4000-8000-000000000001"], "name": "Alice",
    "oid": "7a8b9c0d", "roles": ["Orders.Approve", "Orders.Read"],
    "scp": "User.Read Orders.Read", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "tid": "72f9", "ver": "2.0",
}
OKTA = {
    "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
    "iss": "https://dev-1.okta.example/oauth2/default", "aud": "api://default",
    "iat": NOW - 10, "exp": NOW + 300, "cid": "0oa1", "uid": "00u1",
    "scp": ["openid", "email", "orders.read"], "sub": "alice@example.com",
    "groups": ["Everyone", "Admins"],
}
AUTH0 = {
    "iss": "https://tenant.auth0.example/", "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
    "aud": ["https://api.example.com", "https://tenant.auth0.example/userinfo"],
    "iat": NOW - 10, "exp": NOW + 300, "azp": "my-spa",
    "scope": "openid profile read:orders", "permissions": ["read:orders", "write:orders"],
    "https://example.com/roles": ["admin"],
}
PROVIDERS = {"keycloak": KEYCLOAK, "entra": ENTRA, "okta": OKTA, "auth0": AUTH0}


def _manager(claims: dict[str, Any]) -> JWTManager:
    audience = claims["aud"][0] if isinstance(claims["aud"], list) else claims["aud"]
    return JWTManager(secret_key=SECRET, audience=audience, issuer=claims["iss"],
                      clock=lambda: float(NOW))


def _status(provider: str, policy: Any) -> int:
    claims = PROVIDERS[provider]
    manager = _manager(claims)
    from jose import jwt as jose_jwt

    token = jose_jwt.encode(dict(claims), SECRET, algorithm="HS256")
    client = Client(JWTMiddleware(Recorder(), manager, routes={"/x": policy}))
    return client.get("/x", headers=bearer(token)).status_code


@pytest.mark.parametrize(
    ("provider", "policy", "status"),
    [
        pytest.param("keycloak", {"contains": {"/realm_access/roles": "shop-admin"}}, 200,
                     id="keycloak-realm-role"),
        pytest.param("keycloak", {"contains": {"/realm_access/roles": "shop-owner"}}, 403,
                     id="keycloak-missing-realm-role"),
        pytest.param("keycloak", {"contains": {"/resource_access/shop-api/roles": "orders:write"}},
                     200, id="keycloak-client-role"),
        pytest.param("keycloak", {"contains": {"/resource_access/account/roles": "orders:write"}},
                     403, id="keycloak-role-of-another-client"),
        pytest.param("keycloak", {"claims": {"/realm_access/roles/2": "shop-admin"}}, 200,
                     id="keycloak-pointer-into-list-index"),
        pytest.param("keycloak", {"claims": {"/realm_access/roles/02": "shop-admin"}}, 403,
                     id="keycloak-index-with-leading-zero-is-no-index"),
        pytest.param("keycloak", {"any_scopes": ["admin", "email"]}, 200, id="keycloak-any-scope"),
        pytest.param("keycloak", {"claims": {"email_verified": True}}, 200,
                     id="keycloak-boolean-claim"),
        pytest.param("keycloak", {"claims": {"email_verified": 1}}, 403,
                     id="keycloak-1-is-not-true"),
        pytest.param("entra", {"contains": {"roles": "Orders.Approve"}}, 200, id="entra-app-role"),
        pytest.param("entra", {"contains": {"roles": "orders.approve"}}, 403,
                     id="entra-role-case-matters"),
        pytest.param("entra", {"scopes": ["Orders.Read"], "contains": {"roles": "Orders.Read"}},
                     200, id="entra-scp-string-and-role"),
        pytest.param("entra", {"any_scopes": ["Orders.Write", "Orders.Admin"]}, 403,
                     id="entra-none-of-the-scopes"),
        pytest.param("entra", {"contains": {"groups": "0e1f2a3b-0000-4000-8000-000000000001"}},
                     200, id="entra-group-id"),
        pytest.param("okta", {"contains": {"groups": "Admins"}}, 200, id="okta-group"),
        pytest.param("okta", {"contains": {"groups": "Admin"}}, 403, id="okta-no-prefix-match"),
        pytest.param("okta", {"any_scopes": "orders.read orders.write"}, 200,
                     id="okta-any-scope-as-text"),
        pytest.param("okta", {"contains": {"ver": 1}}, 200, id="okta-scalar-contains-equals"),
        pytest.param("okta", {"contains": {"ver": "1"}}, 403, id="okta-string-1-is-not-1"),
        pytest.param("auth0", {"contains": {"https://example.com/roles": "admin"}}, 200,
                     id="auth0-namespaced-claim-with-slashes"),
        pytest.param("auth0", {"contains": {"/https:~1~1example.com~1roles": "admin"}}, 200,
                     id="auth0-same-claim-as-escaped-pointer"),
        pytest.param("auth0", {"contains": {"/https://example.com/roles": "admin"}}, 403,
                     id="auth0-unescaped-pointer-walks-into-nothing"),
        pytest.param("auth0", {"contains": {"permissions": "write:orders"},
                               "any_scopes": ["read:orders"]}, 200, id="auth0-permission"),
        pytest.param("auth0", {"contains": {"permissions": "delete:orders"}}, 403,
                     id="auth0-missing-permission"),
        pytest.param("auth0", {"contains": {"aud": "https://api.example.com"}}, 200,
                     id="auth0-audience-list-holds"),
    ],
)
def test_provider_token_shapes(provider: str, policy: dict[str, Any], status: int) -> None:
    assert _status(provider, {"require": "required", **policy}) == status


@pytest.mark.parametrize(
    ("held", "wanted", "passes"),
    [
        pytest.param([True], 1, False, id="true-is-not-1"),
        pytest.param([1], True, False, id="1-is-not-true"),
        pytest.param(["1"], 1, False, id="string-1-is-not-1"),
        pytest.param([1.0], 1, False, id="float-is-not-int"),
        pytest.param([None], None, True, id="null-in-list"),
        pytest.param([], None, False, id="empty-list-holds-nothing"),
        pytest.param([{"a": 1}], {"a": 1}, True, id="object-in-list"),
        pytest.param([{"a": True}], {"a": 1}, False, id="object-typed-deep"),
        pytest.param("admin user", "admin", False, id="no-substring-match"),
        pytest.param([["admin"]], "admin", False, id="no-nested-list-flattening"),
    ],
)
def test_contains_is_strictly_typed(held: Any, wanted: Any, passes: bool) -> None:
    policy = Policy.parse({"contains": {"roles": wanted}}, "t")
    if passes:
        policy.check({"roles": held}, NOW)
    else:
        with pytest.raises(Exception, match="Missing or wrong claim: roles"):
            policy.check({"roles": held}, NOW)


def test_missing_pointer_target_is_refused_not_an_error() -> None:
    policy = Policy.parse({"claims": {"/a/b/c": None}}, "t")
    for claims in ({}, {"a": None}, {"a": "text"}, {"a": {"b": []}}, {"a": [1]}):
        with pytest.raises(Exception, match="Missing or wrong claim"):
            policy.check(claims, NOW)
    policy.check({"a": {"b": {"c": None}}}, NOW)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        pytest.param({"any_scope": ["a"]}, "did you mean 'any_scopes'", id="misspelt-any-scopes"),
        pytest.param({"contain": {"a": 1}}, "did you mean 'contains'", id="misspelt-contains"),
        pytest.param({"checks": print}, "did you mean 'check'", id="misspelt-check"),
        pytest.param({"any_scopes": []}, "any_scopes is empty", id="empty-any-scopes"),
        pytest.param({"contains": {"roles": ["a", "b"]}}, "takes one value", id="list-in-contains"),
        pytest.param({"contains": ["roles"]}, "must be a dict", id="contains-not-a-dict"),
        pytest.param({"claims": {"roles": {"$in": ["a"]}}}, "look like query operators",
                     id="mongo-operator"),
        pytest.param({"claims": {"n": float("nan")}}, "not a JSON number", id="nan-value"),
        pytest.param({"claims": {"n": ("a",)}}, "not a JSON value", id="tuple-value"),
        pytest.param({"claims": {"/a~2b": 1}}, "'~0'", id="bad-pointer-escape"),
        pytest.param({"claims": {"role": 1, "/role": 1}}, "twice", id="same-claim-twice"),
        pytest.param({"claims": {"": 1}}, "non-empty", id="empty-claim-name"),
        pytest.param({"check": "no_such_module_xyz:f"}, "cannot be imported", id="check-import"),
        pytest.param({"check": "json"}, "package.module:function", id="check-without-colon"),
        pytest.param({"check": "json:dumps_nope"}, "cannot be imported", id="check-attribute"),
        pytest.param({"check": 3}, "must be a callable", id="check-not-callable"),
        pytest.param({"check": lambda claims: True}, "two arguments", id="check-one-argument"),
        pytest.param({"require": "public", "contains": {"a": 1}}, "public route cannot",
                     id="public-with-contains"),
        pytest.param({"require": "public", "check": lambda c, e: True}, "public route cannot",
                     id="public-with-check"),
        pytest.param({"require": "requried"}, "did you mean 'required'", id="misspelt-require"),
    ],
)
def test_bad_policies_are_refused(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.parse(policy, "route '/x'")


def _client(jwt: JWTManager, routes: dict[str, Any], recorder: Recorder) -> Client:
    return Client(JWTMiddleware(recorder, jwt, routes=routes))


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        pytest.param(True, 200, id="true-passes"),
        pytest.param(False, 403, id="false-refuses"),
        pytest.param(None, 403, id="forgotten-return-refuses"),
        pytest.param(1, 403, id="truthy-1-is-not-true"),
        pytest.param("yes", 403, id="truthy-text-is-not-true"),
    ],
)
def test_check_must_say_true(jwt: JWTManager, make_token: Any, verdict: Any,
                             status: int) -> None:
    seen: list[tuple[Any, Any]] = []

    def check(claims: dict[str, Any], environ: dict[str, Any]) -> Any:
        seen.append((claims.get("sub"), environ.get("PATH_INFO")))
        return verdict

    recorder = Recorder()
    client = _client(jwt, {"/orders/<int:oid>": {"check": check}}, recorder)
    response = client.get("/orders/7", headers=bearer(make_token()))
    assert response.status_code == status
    assert seen == [("alice", "/orders/7")]
    assert recorder.calls == (1 if status == 200 else 0)
    if status == 403:
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_check_that_raises_fails_closed(jwt: JWTManager, make_token: Any,
                                        caplog: pytest.LogCaptureFixture) -> None:
    def check(claims: dict[str, Any], environ: dict[str, Any]) -> bool:
        raise KeyError("secret-detail")

    recorder = Recorder()
    client = _client(jwt, {"/x": {"check": check}}, recorder)
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        response = client.get("/x", headers=bearer(make_token()))
    assert response.status_code == 500
    assert "secret-detail" not in response.get_data(as_text=True)
    assert response.json == {"msg": "Internal server error"}
    assert recorder.calls == 0
    assert "route check" in caplog.text


def test_check_reached_by_several_readings_runs_once(jwt: JWTManager, make_token: Any) -> None:
    calls: list[str] = []

    def check(claims: dict[str, Any], environ: dict[str, Any]) -> bool:
        calls.append(environ["PATH_INFO"])
        return True

    other_calls: list[str] = []

    def other(claims: dict[str, Any], environ: dict[str, Any]) -> bool:
        other_calls.append(environ["PATH_INFO"])
        return True

    routes = {"/a/*": {"check": check}, "/a/b": {"check": check, "scopes": ["x"]},
              "/a/c": {"check": other}}
    merged = merge([Policy.parse(routes["/a/*"], "1"), Policy.parse(routes["/a/b"], "2"),
                    Policy.parse(routes["/a/c"], "3")])
    assert len(merged.checks) == 2
    recorder = Recorder()
    client = _client(jwt, routes, recorder)
    # "/a/x/../c" reads as itself (under /a/*) and, resolved, as /a/c: both rules apply.
    response = client.get("/a/x/../c", headers=bearer(make_token()))
    assert response.status_code == 200
    assert len(calls) == 1 and len(other_calls) == 1


def test_merged_readings_need_every_any_scopes_group() -> None:
    first = Policy.parse({"any_scopes": ["a", "b"]}, "1")
    second = Policy.parse({"any_scopes": ["c"]}, "2")
    merged = merge([first, second])
    merged.check({"scope": "a c"}, NOW)
    with pytest.raises(Exception, match="Insufficient scope"):
        merged.check({"scope": "a b"}, NOW)


def test_same_keys_from_toml(tmp_path: Any, make_token: Any) -> None:
    from jwt_wsgi.config import load_config

    path = tmp_path / "jwt.toml"
    path.write_text(f'''
[jwt]
secret_key = "{SECRET}"

[routes]
"/orders/*" = {{ require = "required", any_scopes = ["orders:read", "orders:admin"] }}
"/admin/*" = {{ require = "required", contains = {{ "/realm_access/roles" = "admin" }} }}
"/mine" = {{ require = "required", check = "tests.test_authorization:_is_alice" }}
''')
    assert _statuses_from(load_config(str(path)).wrap(Recorder())) == [403, 200, 403, 200, 200, 403]


def _is_alice(claims: dict[str, Any], environ: dict[str, Any]) -> bool:
    return claims.get("sub") == "alice"


def _statuses_from(built: Any) -> list[int]:
    app = built
    manager = app.manager  # built from a file, on the real clock: tokens minted now

    def token(sub: str, **claims: Any) -> dict[str, str]:
        return bearer(manager.create_access_token(sub, additional_claims=claims))

    client = Client(app)
    return [
        client.get("/orders/1", headers=token("alice", scope="other")).status_code,
        client.get("/orders/1", headers=token("alice", scope="x orders:admin")).status_code,
        client.get("/admin/x", headers=token("alice", realm_access={"roles": ["user"]})).status_code,
        client.get("/admin/x", headers=token("alice", realm_access={"roles": ["admin"]})).status_code,
        client.get("/mine", headers=token("alice")).status_code,
        client.get("/mine", headers=token("bob")).status_code,
    ]


def test_same_keys_from_paste_ini(make_token: Any) -> None:
    from jwt_wsgi.paste import filter_factory

    conf = {
        "JWT_SECRET_KEY": SECRET,
        "routes": "\n".join([
            '/orders/* = {"require": "required", "any_scopes": ["orders:read", "orders:admin"]}',
            '/admin/* = {"require": "required", "contains": {"/realm_access/roles": "admin"}}',
            '/mine = {"require": "required", "check": "tests.test_authorization:_is_alice"}',
        ]),
    }
    app = filter_factory({}, **conf)(Recorder())
    assert _statuses_from(app) == [403, 200, 403, 200, 200, 403]


# -- user lookup --------------------------------------------------------------------------

USERS = {"alice": {"name": "Alice", "admin": True}}


@pytest.mark.parametrize(
    ("identity", "status", "body"),
    [
        pytest.param("alice", 200, None, id="found"),
        pytest.param("mallory", 401, {"msg": "Error loading the user mallory"}, id="none-is-401"),
    ],
)
def test_user_lookup_loader(jwt: JWTManager, make_token: Any, identity: str, status: int,
                            body: Any) -> None:
    looked_up: list[Any] = []

    @jwt.user_lookup_loader
    def load(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        looked_up.append((jwt_header["alg"], jwt_payload["sub"]))
        return USERS.get(jwt_payload["sub"])

    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(get_current_user(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    client = Client(JWTMiddleware(app, jwt, routes={"/me": "required", "/feed": "optional"}))
    response = client.get("/me", headers=bearer(make_token(identity)))
    assert response.status_code == status
    assert looked_up == [("HS256", identity)]
    if status == 200:
        assert seen == [USERS["alice"]]
    else:
        assert seen == [] and response.json == body
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    # No token on an optional route: no lookup, no user.
    looked_up.clear()
    assert client.get("/feed").status_code == 200
    assert looked_up == [] and seen[-1:] == [None] if status == 200 else True


def test_user_lookup_runs_each_request_and_after_the_policy(jwt: JWTManager,
                                                            make_token: Any) -> None:
    calls: list[str] = []
    jwt.user_lookup_loader(lambda h, p: calls.append(p["sub"]) or {"id": p["sub"]})
    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, jwt, routes={"/a": {"scopes": ["x"]}}))
    token = make_token(additional_claims={"scope": "x"})
    for _ in range(3):
        assert client.get("/a", headers=bearer(token)).status_code == 200
    assert calls == ["alice"] * 3  # not cached across requests
    assert client.get("/a", headers=bearer(make_token())).status_code == 403
    assert calls == ["alice"] * 3  # the policy refused first: no lookup


def test_user_lookup_error_loader_custom_answer(jwt: JWTManager, make_token: Any) -> None:
    jwt.user_lookup_loader(lambda h, p: None)

    @jwt.user_lookup_error_loader
    def gone(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        return {"msg": f"no such user: {jwt_payload['sub']}"}, 404

    client = Client(JWTMiddleware(Recorder(), jwt, routes={"/me": "required"}))
    response = client.get("/me", headers=bearer(make_token()))
    assert (response.status_code, response.json) == (404, {"msg": "no such user: alice"})


def test_user_lookup_loader_that_raises_fails_closed(jwt: JWTManager, make_token: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def load(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> Any:
        raise RuntimeError("database password is hunter2")

    jwt.user_lookup_loader(load)
    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, jwt, routes={"/me": "required"}))
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        response = client.get("/me", headers=bearer(make_token()))
    assert response.status_code == 500
    assert "hunter2" not in response.get_data(as_text=True)
    assert recorder.calls == 0


def test_user_lookup_loader_registered_after_the_middleware(jwt: JWTManager,
                                                            make_token: Any) -> None:
    client = Client(JWTMiddleware(Recorder(), jwt, routes={"/me": "required"}))
    assert client.get("/me", headers=bearer(make_token())).status_code == 200
    jwt.user_lookup_loader(lambda h, p: None)
    assert client.get("/me", headers=bearer(make_token())).status_code == 401


@pytest.mark.parametrize(
    "loader",
    [
        pytest.param(lambda: None, id="no-arguments"),
        pytest.param(lambda payload: None, id="one-argument"),
    ],
)
def test_user_lookup_loader_signature_checked_at_registration(jwt: JWTManager,
                                                              loader: Any) -> None:
    with pytest.raises(TypeError, match="user_lookup_loader must accept"):
        jwt.user_lookup_loader(loader)


def test_client_cannot_forge_the_user(jwt: JWTManager, make_token: Any) -> None:
    recorder = Recorder()
    client = Client(JWTMiddleware(recorder, jwt, routes={"/feed": "optional"}))
    client.get("/feed", environ_overrides={"jwt_wsgi.user": {"admin": True}})
    assert "jwt_wsgi.user" not in recorder.environs[0]


def test_current_user_reads_request_objects(jwt: JWTManager, make_token: Any) -> None:
    from webob import Request

    jwt.user_lookup_loader(lambda h, p: {"id": p["sub"]})
    users: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        users.append(get_current_user(Request(environ)))
        start_response("200 OK", [])
        return [json.dumps(users[-1]).encode()]

    request = Request.blank("/me", headers=bearer(make_token()))
    response = request.get_response(JWTMiddleware(app, jwt, routes={"/me": "required"}))
    assert response.status_int == 200 and users == [{"id": "alice"}]


# -- today's policies behave exactly as before ---------------------------------------------

def _before(policy: dict[str, Any], claims: dict[str, Any], now: float) -> str:
    """The policy check as it was before any_scopes/contains/check/pointers (the oracle)."""
    from jwt_wsgi.policy import same_json

    require = policy.get("require", "required")
    is_refresh = claims.get("type") == "refresh"
    if require == "refresh" and not is_refresh:
        return "wrong_token_type"
    if require != "refresh" and is_refresh:
        return "wrong_token_type"
    if require == "fresh":
        fresh = claims.get("fresh", False)
        if not (fresh is True or (type(fresh) in (int, float) and now < fresh)):
            return "fresh_token_required"
    if policy.get("scopes"):
        scp = claims.get("scp", ())
        granted = set(claims.get("scope", "").split(" "))
        granted.update(scp.split(" ") if isinstance(scp, str) else scp)
        granted.discard("")
        if not granted.issuperset(policy["scopes"]):
            return "insufficient_scope"
    missing = object()
    for name, value in sorted(policy.get("claims", {}).items()):
        if not same_json(claims.get(name, missing), value):
            return "insufficient_scope"
    return "ok"


def _now(policy: Policy, claims: dict[str, Any], now: float) -> str:
    from jwt_wsgi.errors import JWTWSGIError

    try:
        policy.check(claims, now)
    except JWTWSGIError as error:
        return error.code
    return "ok"


def test_todays_policies_behave_as_before() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = st.sampled_from(["role", "admin", "tenant", "a.b", "https://x/y"])
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0]),
                        st.sampled_from(["", "admin", "1", "a b"]))
    values = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["k", "v"]), inner,
                                                     max_size=2)), max_leaves=5)
    scope_words = st.sampled_from(["read", "write", "admin", "x:y"])
    policies = st.fixed_dictionaries({
        "require": st.sampled_from(["optional", "required", "fresh", "refresh"]),
    }, optional={
        "scopes": st.lists(scope_words, min_size=1, max_size=3),
        "claims": st.dictionaries(names, values, max_size=3),
    })
    tokens = st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["access", "refresh"]),
        "fresh": st.one_of(st.booleans(), st.sampled_from([NOW - 1, NOW + 1, 1.5, "true"])),
        "scope": st.lists(scope_words, max_size=3).map(" ".join),
        "scp": st.one_of(st.lists(scope_words, max_size=3),
                         st.lists(scope_words, max_size=3).map(" ".join)),
        "role": values, "admin": values, "tenant": values, "a.b": values, "https://x/y": values,
    })

    @settings(max_examples=600, deadline=None, database=None)
    @given(policies, tokens)
    def same(policy: dict[str, Any], claims: dict[str, Any]) -> None:
        assert _now(Policy.parse(policy, "p"), claims, NOW) == _before(policy, claims, NOW)

    same()
