"""From a verified token to a caller: the account is read on every request, so demotion,
disabling, a password change or logging out everywhere take effect at once.

A token is honoured only while its account exists, is enabled and still has the token version
the token was issued with (`ver`); the api bumps the version on every change of roles, status
or password and on logout. Permissions come from the account's roles as stored now, not from
the token. Role definitions (role -> permissions) change rarely and are cached for at most
`ROLE_CACHE_S` seconds per process (each edit also clears the editing process's cache): one
query per request for the account, none for the role table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.database import Database
from pymongo.errors import PyMongoError

from msm_common.auth.permissions import ADMIN, BUILTIN_TABLE, RoleMap, permissions_of
from msm_common.auth.tokens import TokenError, TokenVerifier

ROLE_CACHE_S: Final = 2.0
USERS: Final = "users"
ROLES: Final = "roles"


def normalise_user_id(raw: object) -> str | None:
    """The canonical spelling of a user id (24 lower-case hex digits), or None if it is none."""
    try:
        return str(ObjectId(str(raw).strip()))
    except (InvalidId, TypeError):
        return None


@dataclass(frozen=True)
class Account:
    user_id: str
    username: str
    roles: tuple[str, ...]
    disabled: bool
    token_version: int


def account_of(doc: dict[str, Any]) -> Account:
    return Account(
        user_id=str(doc["_id"]),
        username=str(doc.get("username", "")),
        roles=tuple(doc.get("roles") or ()),
        disabled=bool(doc.get("disabled", False)),
        token_version=int(doc.get("token_version", 0)),
    )


class Accounts(Protocol):
    def account(self, user_id: str) -> Account | None: ...


class MongoAccounts:
    """Accounts from the api's `users` collection (read by primary key, password excluded)."""

    _FIELDS: Final = {"username": 1, "roles": 1, "disabled": 1, "token_version": 1}

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._coll = db[USERS]

    def account(self, user_id: str) -> Account | None:
        oid = normalise_user_id(user_id)
        if oid is None:
            return None
        doc = self._coll.find_one({"_id": ObjectId(oid)}, self._FIELDS)
        return None if doc is None else account_of(doc)


class RoleCache:
    """Role name -> permissions, loaded by `load()` and kept `ttl_s` seconds; admin holds all."""

    def __init__(
        self,
        load: Callable[[], Iterable[dict[str, Any]]],
        ttl_s: float = ROLE_CACHE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._table: RoleMap | None = None
        self._loaded_at = 0.0

    def table(self) -> RoleMap:
        table = self._table
        if table is not None and self._monotonic() - self._loaded_at < self._ttl:
            return table
        with self._lock:
            if self._table is None or self._monotonic() - self._loaded_at >= self._ttl:
                self._refresh()
            assert self._table is not None
            return self._table

    def of(self, roles: Iterable[str]) -> frozenset[str]:
        return permissions_of(roles, self.table())

    def _refresh(self) -> None:
        try:
            docs = list(self._load())
        except PyMongoError:
            if self._table is None:  # never loaded: the built-in roles, nothing custom
                self._table = dict(BUILTIN_TABLE)
            return
        table = {str(d.get("name")): frozenset(d.get("permissions") or ()) for d in docs}
        table[ADMIN] = BUILTIN_TABLE[ADMIN]  # admin always holds every permission
        self._table = table
        self._loaded_at = self._monotonic()

    def invalidate(self) -> None:
        self._loaded_at = -self._ttl


def mongo_roles(db: Database[dict[str, Any]]) -> Callable[[], Iterable[dict[str, Any]]]:
    coll = db[ROLES]
    return lambda: coll.find({}, {"name": 1, "permissions": 1})


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    roles: tuple[str, ...]
    permissions: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


class Authenticator:
    """Bearer token -> Principal, or TokenError. A database error propagates (503, not 401)."""

    def __init__(self, verifier: TokenVerifier, accounts: Accounts, roles: RoleCache) -> None:
        self.verifier = verifier
        self.accounts = accounts
        self.roles = roles

    def authenticate(self, token: str) -> Principal:
        claims = self.verifier.access(token)
        account = self.accounts.account(claims.user_id)
        if account is None or account.disabled:
            raise TokenError("the account is gone or disabled")
        if account.token_version != claims.version:
            raise TokenError("the token was revoked")
        return Principal(
            user_id=account.user_id,
            username=account.username,
            roles=account.roles,
            permissions=self.roles.of(account.roles),
        )
