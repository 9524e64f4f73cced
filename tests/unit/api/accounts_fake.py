"""In-memory `msm_api.ports.UserStore`, `RoleStore`, `AuditLog` and `LoginAttempts`."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId
from msm_api.ports import AuditFilter, Key

Document = dict[str, Any]


@dataclass
class InMemoryUserStore:
    users: dict[str, Document] = field(default_factory=dict)  # by str(_id)
    refresh: dict[str, Document] = field(default_factory=dict)  # by jti

    def user(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.users.get(user_id))

    def user_by(self, field: str, value: str) -> Document | None:
        found = (u for u in self.users.values() if u.get(field) == value)
        return copy.deepcopy(next(found, None))

    def any_user(self) -> bool:
        return bool(self.users)

    def insert_user(self, doc: Document) -> bool:
        taken = any(
            u["username"] == doc["username"] or u["email"] == doc["email"]
            for u in self.users.values()
        )
        if taken:
            return False
        doc.setdefault("_id", ObjectId())
        self.users[str(doc["_id"])] = copy.deepcopy(doc)
        return True

    def users_page(self, after: str | None, limit: int) -> list[Document]:
        docs = sorted(self.users.values(), key=lambda u: u["username"])
        return copy.deepcopy([u for u in docs if after is None or u["username"] > after][:limit])

    def update_user(self, user_id: str, changes: Mapping[str, Any]) -> Document | None:
        doc = self.users.get(user_id)
        if doc is None:
            return None
        doc.update(copy.deepcopy(dict(changes)))
        doc["token_version"] = doc.get("token_version", 0) + 1
        return copy.deepcopy(doc)

    def restore_user(self, user_id: str, fields: Mapping[str, Any]) -> None:
        if user_id in self.users:
            self.users[user_id].update(copy.deepcopy(dict(fields)))

    def bump_token_version(self, user_id: str) -> None:
        if user_id in self.users:
            doc = self.users[user_id]
            doc["token_version"] = doc.get("token_version", 0) + 1

    def has_enabled_admin(self, admin_role: str, *, besides: str | None = None) -> bool:
        return any(
            admin_role in (u.get("roles") or [])
            and u.get("disabled") is not True
            and key != besides
            for key, u in self.users.items()
        )

    def anyone_holds(self, role: str) -> bool:
        return any(role in (u.get("roles") or []) for u in self.users.values())

    def insert_refresh(self, doc: Document) -> None:
        self.refresh[doc["_id"]] = copy.deepcopy(doc)

    def mark_replaced(self, jti: str, replaced_by: str) -> None:
        if jti in self.refresh:
            self.refresh[jti]["replaced_by"] = replaced_by

    def spend_refresh(self, jti: str, replaced_by: str, now: datetime) -> Document | None:
        doc = self.refresh.get(jti)
        if doc is None or doc["revoked"] is not False or doc["replaced_by"] is not None:
            return None
        doc.update(replaced_by=replaced_by, used_at=now)
        return copy.deepcopy(doc)

    def refresh_known(self, jti: str) -> bool:
        return jti in self.refresh

    def revoke_family(self, family: str) -> None:
        for doc in self.refresh.values():
            if doc["family"] == family:
                doc["revoked"] = True

    def revoke_user_refresh(self, user_id: str) -> None:
        for doc in self.refresh.values():
            if doc["user_id"] == user_id:
                doc["revoked"] = True


@dataclass
class InMemoryRoleStore:
    by_name: dict[str, Document] = field(default_factory=dict)

    def roles(self, names: Sequence[str] | None = None) -> list[Document]:
        docs = [d for n, d in sorted(self.by_name.items()) if names is None or n in names]
        return copy.deepcopy(docs)

    def role(self, name: str) -> Document | None:
        return copy.deepcopy(self.by_name.get(name))

    def insert_role(self, doc: Document) -> bool:
        if doc["name"] in self.by_name:
            return False
        self.by_name[doc["name"]] = copy.deepcopy(doc)
        return True

    def set_permissions(self, name: str, permissions: Sequence[str], now: datetime) -> bool:
        if name not in self.by_name:
            return False
        self.by_name[name].update(permissions=list(permissions), updated_at=now)
        return True

    def delete_role(self, name: str) -> bool:
        return self.by_name.pop(name, None) is not None


@dataclass
class InMemoryAuditLog:
    entries: list[Document] = field(default_factory=list)

    def record(self, entry: Document) -> None:
        self.entries.append({"_id": ObjectId(), **copy.deepcopy(entry)})

    def page(self, query: AuditFilter, before: Key | None, limit: int) -> list[Document]:
        def keep(e: Document) -> bool:
            return (
                (before is None or (e["at"], e["_id"]) < (before[0], ObjectId(before[1])))
                and query.actor in (None, e.get("actor"))
                and query.action in (None, e.get("action"))
                and (query.start is None or e["at"] >= query.start)
                and (query.end is None or e["at"] < query.end)
            )

        docs = sorted(filter(keep, self.entries), key=lambda e: (e["at"], e["_id"]), reverse=True)
        return copy.deepcopy(docs[:limit])


@dataclass
class CountedLogins:
    """Login attempts counted per key (as the MongoDB throttle counts them), never made to wait:
    the throttle's waits have their own integration tests."""

    failures: dict[str, int] = field(default_factory=dict)

    def begin(self, keys: tuple[str, ...], now: datetime) -> int:
        for key in keys:
            self.failures[key] = self.failures.get(key, 0) + 1
        return 0

    def succeeded(self, account: str, address: str, now: datetime) -> None:
        self.failures.pop(account, None)
        if self.failures.get(address, 0) > 0:
            self.failures[address] -= 1
