"""The commander's MongoDB: commands, devices, config documents. Every state change is guarded.

A transition matches the command's `_id`, the state it was read in (status, attempts) and its
history length, so of two replicas acting on the same reading exactly one write lands. One `sent`
command per device is enforced by the database: a unique index on `device_uuid` restricted to
`status: "sent"`, so a second claim for a device fails with a duplicate key.

Guarded `update_one` rather than `find_one_and_update`: the same atomic compare-and-set, and on
the local MongoDB stand-in findAndModify scans the collection (50-200 ms at 5,000 commands
against ~2 ms for update_one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from msm_common.adapters import mongo
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from msm_commander.domain.documents import (
    DEVICE_FLAGS,
    EVENT_PENDING,
    Document,
    config_document,
    is_online,
)
from msm_commander.domain.state_machine import FINAL_VALUES, Status
from msm_commander.ports import AlreadyInFlight

__all__ = ["INDEXES", "ONE_SENT_PER_DEVICE", "AlreadyInFlight", "MongoStore"]

ONE_SENT_PER_DEVICE: Final = "one_sent_per_device"
INDEXES: Final = [
    IndexModel(
        [("device_uuid", ASCENDING)],
        name=ONE_SENT_PER_DEVICE,
        unique=True,
        partialFilterExpression={"status": Status.SENT.value},
    ),
    # A device's active commands without scanning its (ever growing) finished ones.
    IndexModel(
        [("device_uuid", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)],
        name="device_status_created",
    ),
    IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="status_expires"),
    IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status_updated"),
    # The outbox: finished commands whose last event is unconfirmed, by status and age.
    IndexModel(
        [(EVENT_PENDING, ASCENDING), ("status", ASCENDING), ("updated_at", ASCENDING)],
        name="event_pending_status_updated",
        sparse=True,
    ),
]
_ACTIVE = [Status.QUEUED.value, Status.SENT.value]


class MongoStore:
    def __init__(self, db: Database[Document]) -> None:
        self.db = db
        self.commands = db["commands"]

    def ensure_indexes(self, telemetry_retention_days: int) -> None:
        """Every collection's shared indexes (idempotency key, config per device...) and ours."""
        mongo.ensure_indexes(self.db, telemetry_retention_days)
        self.commands.create_indexes(INDEXES)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, command_id: str) -> Document | None:
        return self.commands.find_one({"_id": command_id})

    def device(self, device_uuid: str) -> Document | None:
        return self.db["devices"].find_one({"_id": device_uuid}, {"connectivity": 1, "status": 1})

    def active(self, device_uuid: str) -> list[Document]:
        """The device's queued and sent commands, oldest first."""
        cursor = self.commands.find({"device_uuid": device_uuid, "status": {"$in": _ACTIVE}})
        return list(cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)]))

    # -- guarded writes ---------------------------------------------------------------------------
    @staticmethod
    def _guard(doc: Mapping[str, Any]) -> Document:
        history_len = len(doc.get("history") or [])
        return {
            "_id": doc["_id"],
            "status": doc["status"],
            "attempts": doc.get("attempts", 0),
            f"history.{history_len}": {"$exists": False},
        }

    def apply(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        """Apply `update` if the command is still as read in `doc`; False if it moved on."""
        return self.commands.update_one(self._guard(doc), dict(update)).modified_count == 1

    def claim(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        """queued -> sent; raises AlreadyInFlight if the device has a sent command already."""
        try:
            return self.apply(doc, update)
        except DuplicateKeyError as exc:
            raise AlreadyInFlight(str(doc.get("device_uuid"))) from exc

    def extend_deadline(self, doc: Mapping[str, Any], deadline_at: datetime, now: datetime) -> bool:
        """Keep a sent command waiting (device working on it, or offline) without a transition."""
        guard = {"_id": doc["_id"], "status": Status.SENT.value, "attempts": doc.get("attempts", 0)}
        update = {"$set": {"deadline_at": deadline_at}}
        return self.commands.update_one(guard, update).modified_count == 1

    def record_ack(self, command_id: str, ack: Mapping[str, Any], deadline_at: datetime) -> bool:
        """An `in_progress` ack: the device is working on it; give it a new ack window."""
        guard = {"_id": command_id, "status": Status.SENT.value}
        update = {"$set": {"ack": dict(ack), "deadline_at": deadline_at}}
        return self.commands.update_one(guard, update).modified_count == 1

    def insert(self, doc: Document) -> str | None:
        """Insert a command; None if stored, else the name of the unique index that refused it."""
        try:
            self.commands.insert_one(doc)
        except DuplicateKeyError as exc:
            pattern = (exc.details or {}).get("keyPattern") or {}
            return "idempotency_key" if "idempotency_key" in pattern else "_id"
        return None

    def by_idempotency_key(self, key: str) -> Document | None:
        return self.commands.find_one({"idempotency_key": key}, {"_id": 1})

    # -- effects of a succeeded command -----------------------------------------------------------
    def apply_config(self, doc: Mapping[str, Any], now: datetime) -> None:
        """Make `doc`'s parameters the device's current config; flag mqtt/sftp as configured."""
        kind = str(doc["type"])
        self.db[kind].replace_one(
            {"device_uuid": doc["device_uuid"]}, config_document(doc, now), upsert=True
        )
        flag = DEVICE_FLAGS.get(kind)
        if flag is not None:
            self.db["devices"].update_one(
                {"_id": doc["device_uuid"]}, {"$set": {flag: True, "updatedAt": now}}
            )

    # -- the ticker's queries ---------------------------------------------------------------------
    def devices_past_deadline(self, now: datetime, limit: int) -> set[str]:
        sent = Status.SENT.value
        due = self.commands.find({"status": sent, "deadline_at": {"$lte": now}}, {"device_uuid": 1})
        missing = self.commands.find({"status": sent, "deadline_at": None}, {"device_uuid": 1})
        return _devices(due.limit(limit)) | _devices(missing.limit(limit))

    def devices_with_expired(self, now: datetime, limit: int) -> set[str]:
        cursor = self.commands.find(
            {"status": Status.QUEUED.value, "expires_at": {"$lte": now}}, {"device_uuid": 1}
        )
        return _devices(cursor.limit(limit))

    def queued_page(
        self, after: tuple[datetime, str] | None, before: datetime, limit: int
    ) -> list[Document]:
        """Queued commands untouched since `before`, by (updated_at, _id), after a position.

        Two index range scans rather than one `$or` (which the local MongoDB stand-in answers
        with a scan of the whole collection: 174 ms at 5,000 commands, every tick): the
        commands sharing the position's `updated_at` (few; the `_id` part is done here), then
        everything later.
        """
        queued = Status.QUEUED.value
        proj = {"device_uuid": 1, "updated_at": 1}
        docs: list[Document] = []
        bounds: Document = {"$lte": before}
        if after is not None:
            at, last_id = after
            if at <= before:
                tied = self.commands.find({"status": queued, "updated_at": at}, proj)
                later = (d for d in tied if str(d["_id"]) > last_id)
                docs = sorted(later, key=lambda d: d["_id"])[:limit]
            bounds = {"$gt": at, "$lte": before}
        if len(docs) < limit:
            rest = self.commands.find({"status": queued, "updated_at": bounds}, proj)
            order = [("updated_at", ASCENDING), ("_id", ASCENDING)]
            docs.extend(rest.sort(order).limit(limit - len(docs)))
        return docs

    def stalled(self, device_uuids: Iterable[str]) -> set[str]:
        """Of these devices (each with a queued command), those online with nothing in flight."""
        ids = list(set(device_uuids))
        if not ids:
            return set()
        devices = {
            d["_id"]: d for d in self.db["devices"].find({"_id": {"$in": ids}}, {"connectivity": 1})
        }
        # Unknown devices too: the scheduler rejects (or delivers) their commands.
        candidates = [u for u in ids if is_online(devices.get(u))]
        busy = self.commands.find(
            {"status": Status.SENT.value, "device_uuid": {"$in": candidates}}, {"device_uuid": 1}
        )
        return set(candidates) - _devices(busy)

    def pending_events(self, before: datetime, limit: int) -> list[Document]:
        """Finished commands whose last command.status event RabbitMQ has not confirmed.

        One equality per final status (not `$in`): each is a range scan of the outbox index
        on every MongoDB; the local stand-in scans the whole collection for the `$in` form.
        """
        docs: list[Document] = []
        for status in sorted(FINAL_VALUES):
            if len(docs) >= limit:
                break
            filt = {EVENT_PENDING: True, "status": status, "updated_at": {"$lte": before}}
            docs.extend(self.commands.find(filt).limit(limit - len(docs)))
        return docs

    def mark_events_published(self, marks: Iterable[tuple[str, int]]) -> None:
        """Clear the outbox flag of commands whose last transition's event was confirmed."""
        ops = [
            UpdateOne(
                {
                    "_id": command_id,
                    EVENT_PENDING: True,
                    f"history.{index + 1}": {"$exists": False},
                },
                {"$unset": {EVENT_PENDING: ""}},
            )
            for command_id, index in marks
        ]
        if ops:
            # A mark that fails leaves the flag set: the ticker republishes, then marks again.
            with contextlib.suppress(BulkWriteError):
                self.commands.bulk_write(ops, ordered=False)

    def count_in_flight(self) -> int:
        return self.commands.count_documents({"status": Status.SENT.value})


def _devices(cursor: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(d["device_uuid"]) for d in cursor}
