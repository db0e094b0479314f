"""Route policies against signed tokens with odd claim values: scopes and exact claims.

Every token here is validly signed: what is tested is how the route's ``scopes`` and
``claims`` read what the issuer put in it. JSON types count all the way down (``true`` is
not ``1``, ``[true]`` is not ``[1]``), scope tokens are separated by single spaces only
(RFC 6749 3.3), and no value, however odd, turns into a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness import NOW, SECRET, Recorder, call, manager, sign, wrap

BASE = {"sub": "alice", "iat": NOW, "exp": NOW + 600, "jti": "j-1", "type": "access"}
ROUTES = {
    "/admin": {"require": "required", "scopes": ["admin"]},
    "/level": {"require": "required", "claims": {"level": 1}},
    "/flags": {"require": "required", "claims": {"flags": [1, 0]}},
    "/perm": {"require": "required", "claims": {"perm": {"admin": 1}}},
    "/role": {"require": "required", "claims": {"role": "admin"}},
    "/nested": {"require": "required", "claims": {"org": {"teams": ["a", "b"], "owner": True}}},
}


def ask(path: str, claims_json: str) -> tuple[int, int]:
    app = Recorder()
    token = sign({"alg": "HS256", "typ": "JWT"}, claims_json, SECRET.encode())
    answer = call(wrap(app, manager(), ROUTES), path,
                  headers={"Authorization": f"Bearer {token}"})
    return answer.status, app.calls


def with_claims(**extra: Any) -> str:
    return json.dumps({**BASE, **extra})


CASES = [
    # scopes: single spaces separate, nothing else does
    pytest.param("/admin", with_claims(scope="read admin"), 200, id="scope-space-separated"),
    pytest.param("/admin", with_claims(scp=["read", "admin"]), 200, id="scp-list"),
    pytest.param("/admin", with_claims(scp="read admin"), 200, id="scp-string"),
    pytest.param("/admin", with_claims(scope="read  admin"), 200, id="scope-double-space"),
    pytest.param("/admin", with_claims(scope="read\u00a0admin"), 403, id="scope-nbsp-is-no-separator"),
    pytest.param("/admin", with_claims(scope="read\u0085admin"), 403, id="scope-nel-is-no-separator"),
    pytest.param("/admin", with_claims(scope="read\u001fadmin"), 403, id="scope-unit-separator"),
    pytest.param("/admin", with_claims(scope="read\u2028admin"), 403, id="scope-line-separator"),
    pytest.param("/admin", with_claims(scope="read\tadmin"), 403, id="scope-tab"),
    pytest.param("/admin", with_claims(scp="read\u3000admin"), 403, id="scp-ideographic-space"),
    pytest.param("/admin", with_claims(scope="ADMIN"), 403, id="scope-case-sensitive"),
    pytest.param("/admin", with_claims(scope="admin:write"), 403, id="scope-prefix-is-not-scope"),
    pytest.param("/admin", with_claims(scp=None), 401, id="scp-null"),
    pytest.param("/admin", with_claims(scp=[1, 2]), 401, id="scp-list-of-numbers"),
    pytest.param("/admin", with_claims(scope=["admin"]), 401, id="scope-as-a-list"),
    pytest.param("/admin", with_claims(scope=None), 401, id="scope-null"),
    # exact claims: JSON types all the way down
    pytest.param("/level", with_claims(level=1), 200, id="int-equal"),
    pytest.param("/level", with_claims(level=True), 403, id="true-is-not-1"),
    pytest.param("/level", with_claims(level=1.0), 403, id="float-is-not-int"),
    pytest.param("/level", with_claims(level="1"), 403, id="string-is-not-int"),
    pytest.param("/flags", with_claims(flags=[1, 0]), 200, id="list-equal"),
    pytest.param("/flags", with_claims(flags=[True, False]), 403, id="list-of-bools-is-not-ints"),
    pytest.param("/flags", with_claims(flags=[1, 0, 0]), 403, id="list-longer"),
    pytest.param("/perm", with_claims(perm={"admin": 1}), 200, id="object-equal"),
    pytest.param("/perm", with_claims(perm={"admin": True}), 403, id="object-member-true-is-not-1"),
    pytest.param("/perm", with_claims(perm={"admin": 1, "x": 2}), 403, id="object-extra-member"),
    pytest.param("/nested", with_claims(org={"owner": True, "teams": ["a", "b"]}), 200,
                 id="nested-equal-any-member-order"),
    pytest.param("/nested", with_claims(org={"owner": 1, "teams": ["a", "b"]}), 403,
                 id="nested-true-is-not-1"),
    pytest.param("/nested", with_claims(org={"owner": True, "teams": ["b", "a"]}), 403,
                 id="nested-list-order-counts"),
    pytest.param("/role", with_claims(role="admin"), 200, id="string-equal"),
    pytest.param("/role", with_claims(role="ROLE").replace('"ROLE"', '"\\ud800"'), 403,
                 id="lone-surrogate-claim"),
    pytest.param("/role", with_claims(role="admin\u0000"), 403,
                 id="nul-suffixed-claim"),
    pytest.param("/role", with_claims(role=["admin"]), 403, id="list-is-not-string"),
]


@pytest.mark.parametrize(("path", "claims_json", "status"), CASES)
def test_route_policy_reads_claims_strictly(path: str, claims_json: str, status: int) -> None:
    answer, calls = ask(path, claims_json)
    assert answer == status
    assert calls == (1 if status == 200 else 0)


def test_rules_asking_for_true_and_for_1_are_not_merged_as_one() -> None:
    """Two readings of one path whose rules ask for ``true`` and ``1``: both apply."""
    from jwt_wsgi.policy import Policy, merge

    one = Policy("required", claims=(("admin", 1),))
    true = Policy("required", claims=(("admin", True),))
    assert merge([one, true]).ambiguous  # no token can hold both: refused with 400
    same = merge([one, Policy("required", claims=(("admin", 1),))])
    assert [(path.name, value) for path, value in same.claims] == [("admin", 1)]
    assert not same.ambiguous
