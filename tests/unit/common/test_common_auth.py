"""msm_common.auth: keys chosen by kid, the account checked per request, roles cached briefly."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from msm_common.auth.permissions import ALL_PERMISSIONS
from msm_common.auth.principal import (
    Account,
    Authenticator,
    RoleCache,
    normalise_user_id,
)
from msm_common.auth.tokens import TokenError, TokenVerifier, VerifyingKey
from pymongo.errors import ServerSelectionTimeoutError
from support.tokens import access_claims

USER = "65f0c0ffee0000000000beef"


class Keys:
    """A KeySource over a dict of kid -> (private key, algorithm)."""

    def __init__(self, **keys: tuple[Any, str]) -> None:
        self.keys = keys

    def verifying_key(self, kid: str) -> VerifyingKey | None:
        found = self.keys.get(kid)
        return None if found is None else VerifyingKey(kid, found[1], found[0].public_key())


class Accounts:
    def __init__(self, *accounts: Account) -> None:
        self.by_id = {a.user_id: a for a in accounts}

    def account(self, user_id: str) -> Account | None:
        return self.by_id.get(user_id)


def sign(private: Any, kid: str, alg: str = "EdDSA", **claims: Any) -> str:
    body = access_claims(**{"sub": USER, "roles": ["operator"], "ver": 2, **claims})
    return jwt.encode(body, private, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def old_key() -> Any:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def new_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_the_key_is_chosen_by_kid_and_its_algorithm_pinned(old_key: Any, new_key: Any) -> None:
    keys = Keys(old=(old_key, "EdDSA"), new=(new_key, "RS256"))
    verifier = TokenVerifier(keys, issuer="msm-api", audience="msm")
    assert verifier.access(sign(old_key, "old")).version == 2
    assert verifier.access(sign(new_key, "new", "RS256")).roles == ("operator",)
    for bad in (
        sign(old_key, "new"),  # signed by another key than its kid names
        sign(new_key, "old", "RS256"),  # the kid's algorithm is EdDSA
        sign(old_key, "gone"),  # unknown kid
        jwt.encode({"sub": USER}, old_key, algorithm="EdDSA"),  # no kid
        sign(old_key, "old", ver="2"),  # the version must be an integer
        sign(old_key, "old", typ="refresh"),
    ):
        with pytest.raises(TokenError):
            verifier.access(bad)
    legacy = jwt.decode(sign(old_key, "old"), options={"verify_signature": False})
    del legacy["ver"]
    with pytest.raises(TokenError, match="version"):
        verifier.access(jwt.encode(legacy, old_key, algorithm="EdDSA", headers={"kid": "old"}))


def _account(**fields: Any) -> Account:
    values = {
        "user_id": USER,
        "username": "alice",
        "roles": ("operator",),
        "disabled": False,
        "token_version": 2,
        **fields,
    }
    return Account(**values)


@pytest.mark.parametrize(
    ("account", "refused"),
    [
        (_account(), False),
        (_account(disabled=True), True),
        (_account(token_version=3), True),
        (None, True),
    ],
    ids=["current", "disabled", "revoked", "deleted"],
)
def test_the_account_decides_per_request(
    old_key: Any, account: Account | None, refused: bool
) -> None:
    roles = RoleCache(lambda: [{"name": "operator", "permissions": ["devices:command"]}])
    auth = Authenticator(
        TokenVerifier(Keys(k=(old_key, "EdDSA")), issuer="msm-api", audience="msm"),
        Accounts(*([account] if account else [])),
        roles,
    )
    token = sign(old_key, "k", roles=["admin"])  # the token's roles claim grants nothing
    if refused:
        with pytest.raises(TokenError):
            auth.authenticate(token)
        return
    who = auth.authenticate(token)
    assert who.roles == ("operator",) and who.permissions == {"devices:command"}
    assert not who.is_admin


def test_role_cache_is_brief_falls_back_to_builtins_and_admin_holds_all() -> None:
    clock = [0.0]
    docs = [{"name": "auditor", "permissions": ["audit:read"]}]
    calls: list[int] = []

    def load() -> list[dict[str, Any]]:
        calls.append(1)
        return list(docs)

    def unreachable() -> list[dict[str, Any]]:
        raise ServerSelectionTimeoutError("database down")

    cache = RoleCache(load, ttl_s=2.0, monotonic=lambda: clock[0])
    assert cache.of(["auditor"]) == {"audit:read"}
    assert cache.of(["admin"]) == set(ALL_PERMISSIONS)
    docs.append({"name": "auditor2", "permissions": ["devices:read"]})
    assert cache.of(["auditor2"]) == frozenset()  # within the cache's 2 s
    clock[0] = 2.5
    assert cache.of(["auditor2"]) == {"devices:read"}
    cache.invalidate()
    cache.of([])
    assert len(calls) == 3
    down = RoleCache(unreachable)  # never loaded: the built-in roles, nothing custom
    assert down.of(["operator"]) >= {"devices:command"} and down.of(["auditor"]) == frozenset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (USER.upper(), USER),
        (f"  {USER} ", USER),
        ("not-an-id", None),
        (None, None),
    ],
)
def test_user_ids_are_normalised(raw: Any, expected: str | None) -> None:
    assert normalise_user_id(raw) == expected
