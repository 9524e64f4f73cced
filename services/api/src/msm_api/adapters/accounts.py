"""Accounts, refresh tokens, roles and the audit log in MongoDB (`msm_api.ports.UserStore`,
`RoleStore`, `AuditLog`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database

from msm_api.adapters.store import insert_new
from msm_api.ports import AuditFilter, Document, Key


class MongoUserStore:
    def __init__(self, db: Database[Document]) -> None:
        self._users = db["users"]
        self._refresh = db["refresh_tokens"]

    def user(self, user_id: str) -> Document | None:
        return self._users.find_one({"_id": ObjectId(user_id)})

    def user_by(self, field: str, value: str) -> Document | None:
        return self._users.find_one({field: value})

    def any_user(self) -> bool:
        return self._users.find_one({}, {"_id": 1}) is not None

    def insert_user(self, doc: Document) -> bool:
        return insert_new(self._users, doc)

    def users_page(self, after: str | None, limit: int) -> list[Document]:
        filt: Document = {} if after is None else {"username": {"$gt": after}}
        return list(self._users.find(filt).sort("username", 1).limit(limit))

    def update_user(self, user_id: str, changes: Mapping[str, Any]) -> Document | None:
        return self._users.find_one_and_update(
            {"_id": ObjectId(user_id)},
            {"$set": dict(changes), "$inc": {"token_version": 1}},
            return_document=ReturnDocument.AFTER,
        )

    def restore_user(self, user_id: str, fields: Mapping[str, Any]) -> None:
        self._users.update_one({"_id": ObjectId(user_id)}, {"$set": dict(fields)})

    def bump_token_version(self, user_id: str) -> None:
        self._users.update_one({"_id": ObjectId(user_id)}, {"$inc": {"token_version": 1}})

    def has_enabled_admin(self, admin_role: str, *, besides: str | None = None) -> bool:
        filt: Document = {"roles": admin_role, "disabled": {"$ne": True}}
        if besides is not None:
            filt["_id"] = {"$ne": ObjectId(besides)}
        return self._users.count_documents(filt, limit=1) > 0

    def anyone_holds(self, role: str) -> bool:
        return self._users.find_one({"roles": role}, {"_id": 1}) is not None

    def insert_refresh(self, doc: Document) -> None:
        self._refresh.insert_one(doc)

    def mark_replaced(self, jti: str, replaced_by: str) -> None:
        self._refresh.update_one({"_id": jti}, {"$set": {"replaced_by": replaced_by}})

    def spend_refresh(self, jti: str, replaced_by: str, now: datetime) -> Document | None:
        return self._refresh.find_one_and_update(
            {"_id": jti, "revoked": False, "replaced_by": None},
            {"$set": {"replaced_by": replaced_by, "used_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    def refresh_known(self, jti: str) -> bool:
        return self._refresh.find_one({"_id": jti}, {"family": 1}) is not None

    def revoke_family(self, family: str) -> None:
        self._refresh.update_many({"family": family}, {"$set": {"revoked": True}})

    def revoke_user_refresh(self, user_id: str) -> None:
        self._refresh.update_many({"user_id": user_id}, {"$set": {"revoked": True}})


class MongoRoleStore:
    def __init__(self, db: Database[Document]) -> None:
        self._roles = db["roles"]

    def roles(self, names: Sequence[str] | None = None) -> list[Document]:
        filt: Document = {} if names is None else {"name": {"$in": list(names)}}
        return list(self._roles.find(filt).sort("name", 1).limit(1000))

    def role(self, name: str) -> Document | None:
        return self._roles.find_one({"name": name})

    def insert_role(self, doc: Document) -> bool:
        return insert_new(self._roles, doc)

    def set_permissions(self, name: str, permissions: Sequence[str], now: datetime) -> bool:
        update = {"$set": {"permissions": list(permissions), "updated_at": now}}
        return self._roles.update_one({"name": name}, update).matched_count > 0

    def delete_role(self, name: str) -> bool:
        return self._roles.delete_one({"name": name}).deleted_count > 0


class MongoAuditLog:
    def __init__(self, db: Database[Document]) -> None:
        self._coll = db["audit_log"]

    def record(self, entry: Document) -> None:
        self._coll.insert_one(dict(entry))

    def page(self, query: AuditFilter, before: Key | None, limit: int) -> list[Document]:
        filt: Document = {}
        if before is not None:
            t, oid = before[0], ObjectId(before[1])
            filt["$or"] = [{"at": {"$lt": t}}, {"at": t, "_id": {"$lt": oid}}]
        if query.actor is not None:
            filt["actor"] = query.actor
        if query.action is not None:
            filt["action"] = query.action
        bounds = {k: v for k, v in (("$gte", query.start), ("$lt", query.end)) if v is not None}
        if bounds:
            filt = {"$and": [filt, {"at": bounds}]} if filt else {"at": bounds}
        found = self._coll.find(filt).sort([("at", -1), ("_id", -1)]).limit(limit)
        return list(found)
