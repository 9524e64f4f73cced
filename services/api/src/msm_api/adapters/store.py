"""The views' MongoDB reads and the command writes (`msm_api.ports.ApiStore`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from msm_api.domain import commands as dc
from msm_api.ports import Document, Key


def insert_new(coll: Collection[Document], doc: Document) -> bool:
    """Insert `doc`; False if a unique index already holds its key."""
    try:
        coll.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


class MongoApiStore:
    def __init__(self, db: Database[Document]) -> None:
        self._db = db
        self._commands = db["commands"]

    def device(self, device_uuid: str) -> Document | None:
        return self._db["devices"].find_one({"_id": device_uuid})

    def devices_page(
        self, after: str | None, limit: int, *, online: bool | None = None, text: str | None = None
    ) -> list[Document]:
        filt: Document = {} if after is None else {"_id": {"$gt": after}}
        if online is not None:
            filt["connectivity.connected"] = True if online else {"$ne": True}
        if text is not None:
            pattern = {"$regex": re.escape(text), "$options": "i"}
            filt["$or"] = [{"_id": pattern}, {"device_imei": pattern}]
        return list(self._db["devices"].find(filt).sort("_id", 1).limit(limit))

    def device_commands(
        self, device_uuid: str, before: Key | None, limit: int, *, status: str | None = None
    ) -> list[Document]:
        filt: Document = {"device_uuid": device_uuid}
        if before is not None:
            at, last_id = before
            filt["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]
        if status is not None:
            filt["status"] = status
        found = self._commands.find(filt).sort([("created_at", -1), ("_id", -1)])
        return list(found.limit(limit))

    def in_flight_commands(self, device_uuid: str, limit: int) -> list[Document]:
        found = self._commands.find(
            {"device_uuid": device_uuid, "status": {"$in": list(dc.IN_FLIGHT)}},
            {"type": 1, "status": 1, "created_at": 1},
        )
        return list(found.sort("created_at", 1).limit(limit))

    def command(self, command_id: str) -> Document | None:
        return self._commands.find_one({"_id": command_id})

    def command_by_idempotency_key(self, key: str) -> Document | None:
        return self._commands.find_one({"idempotency_key": key})

    def insert_command(self, doc: Document) -> bool:
        return insert_new(self._commands, doc)

    def update_if_queued(self, command_id: str, update: Mapping[str, Any]) -> Document | None:
        return self._commands.find_one_and_update(
            {"_id": command_id, "status": dc.QUEUED},
            dict(update),
            return_document=ReturnDocument.AFTER,
        )

    def config(self, kind: str, device_uuid: str) -> Document | None:
        return self._db[kind].find_one({"device_uuid": device_uuid})

    def configs_page(self, kind: str, after: str | None, limit: int) -> list[Document]:
        filt: Document = {} if after is None else {"device_uuid": {"$gt": after}}
        return list(self._db[kind].find(filt).sort("device_uuid", 1).limit(limit))

    def latest_commands(self, kind: str, device_uuids: list[str]) -> dict[str, Document]:
        pipeline: list[Document] = [
            {"$match": {"type": kind, "device_uuid": {"$in": device_uuids}}},
            {"$sort": {"created_at": -1}},
            {
                "$group": {
                    "_id": "$device_uuid",
                    "command_id": {"$first": "$_id"},
                    "status": {"$first": "$status"},
                    "created_at": {"$first": "$created_at"},
                    "updated_at": {"$first": "$updated_at"},
                }
            },
        ]
        return {doc.pop("_id"): doc for doc in self._commands.aggregate(pipeline)}
