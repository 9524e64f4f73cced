"""The Store on MongoDB (portable MongoDB only: the local stack runs a wire-protocol stand-in)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final, ParamSpec, TypeVar

from msm_common.adapters import mongo
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.outbox import OutboxEntry
from msm_ingest.ports import StoreUnavailable

Document = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")

TELEMETRY: Final = "telemetry"
DEVICES: Final = "devices"
REJECTED: Final = "rejected_messages"
# One entry per batch whose events RabbitMQ did not confirm in time (domain/outbox.py).
# Ingest owns this collection.
OUTBOX: Final = "ingest_event_outbox"
OUTBOX_INDEXES: Final = [IndexModel([("created_at", ASCENDING)], name="created_at")]
# Statements per write command: a command is one BSON document (16 MB at most) and the
# server takes at most 100,000 statements; 5,000 rows of ours are well under 5 MB.
COMMAND_CHUNK: Final = 5_000


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Raise StoreUnavailable for any database failure: the pipeline retries it with backoff."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PyMongoError as exc:
            raise StoreUnavailable(f"{method.__name__}: {exc}") from exc

    return wrapper


class MongoStore:
    def __init__(self, db: Database[Document]) -> None:
        self.db = db
        self._telemetry = db[TELEMETRY]
        self._devices = db[DEVICES]
        # A raw command does not take the client's write concern by itself (e.g. w=majority
        # in MSM_MONGO_URI): pass it on.
        concern = self._telemetry.write_concern
        self._write_concern: dict[str, Any] = (
            {} if concern.is_server_default else {"writeConcern": concern.document}
        )

    def prepare(self, retention_days: int) -> None:
        """Indexes (idempotent; every replica may run it at start)."""
        mongo.ensure_indexes(self.db, retention_days)
        self.db[OUTBOX].create_indexes(OUTBOX_INDEXES)

    def _unordered(self, verb: str, collection: str, items: Sequence[Document]) -> list[Document]:
        """Run an unordered write command (insert or update) in chunks; its write errors, with
        `index` into `items`.

        The hot writes (rows, their devices) go out as commands of plain
        documents rather than through insert_many/bulk_write, which build and validate an
        operation object per document in Python: 3-9 of ingest's CPU-us per row, a tenth of
        its CPU with the database (bench_ingest (c)).
        """
        field = "documents" if verb == "insert" else "updates"
        errors: list[Document] = []
        for start in range(0, len(items), COMMAND_CHUNK):
            command = {
                verb: collection,
                field: items[start : start + COMMAND_CHUNK],
                "ordered": False,
                **self._write_concern,
            }
            reply = self.db.command(command)
            if "writeConcernError" in reply:
                raise OperationFailure(f"{verb} {collection}: {reply['writeConcernError']}")
            errors += [{**e, "index": e["index"] + start} for e in reply.get("writeErrors", ())]
        return errors

    @staticmethod
    def _only_duplicates(what: str, errors: list[Document]) -> None:
        other = [e for e in errors if e.get("code") != mongo.DUPLICATE_KEY]
        if other:
            raise OperationFailure(f"{what}: {other[:3]}")

    @_translated
    def insert_readings(self, docs: Sequence[Document]) -> list[bool]:
        errors = self._unordered("insert", TELEMETRY, docs)
        self._only_duplicates("insert telemetry", errors)
        inserted = [True] * len(docs)
        for error in errors:
            inserted[error["index"]] = False
        return inserted

    @_translated
    def update_devices(self, writes: Sequence[DeviceWrite]) -> None:
        updates = [{"q": {"_id": w.device_uuid}, "u": w.update, "upsert": True} for w in writes]
        errors = self._unordered("update", DEVICES, updates)
        if errors:
            # Two replicas creating the same new device race on the upsert; the loser retries
            # once and then updates the document the winner created.
            self._only_duplicates("update devices", errors)
            again = self._unordered("update", DEVICES, [updates[e["index"]] for e in errors])
            if again:
                raise OperationFailure(f"update devices: {again[:3]}")

    @_translated
    def apply(self, write: DeviceWrite, *, upsert: bool) -> bool:
        query = {"_id": write.device_uuid, **write.guard}
        for _attempt in range(2):
            try:
                result = self._devices.update_one(query, write.update, upsert=upsert)
            except DuplicateKeyError:
                # The device exists and the guard did not match: stale. Or a concurrent
                # insert of the same new device: then the second attempt decides.
                continue
            return result.matched_count > 0 or result.upserted_id is not None
        return False

    @_translated
    def quarantine(self, records: Sequence[Document]) -> None:
        if records:
            self.db[REJECTED].insert_many(list(records), ordered=False)

    @_translated
    def known_devices(self, device_uuids: Iterable[str]) -> set[str]:
        wanted = list(device_uuids)
        if not wanted:
            return set()
        cursor = self._devices.find(
            {"_id": {"$in": wanted}, "status": {"$ne": "decommissioned"}}, {"_id": 1}
        )
        return {doc["_id"] for doc in cursor}

    @_translated
    def readings(self, reading_ids: Sequence[str]) -> list[Document]:
        if not reading_ids:
            return []
        return list(self._telemetry.find({"_id": {"$in": list(reading_ids)}}))

    @_translated
    def outbox_add(self, entry: OutboxEntry) -> None:
        # A batch already in the outbox (a retried write) is a duplicate, not an error.
        errors = self._unordered("insert", OUTBOX, [entry.to_document()])
        self._only_duplicates("outbox", errors)

    @_translated
    def outbox_due(self, older_than: datetime, not_owner: str, limit: int) -> list[OutboxEntry]:
        query = {"created_at": {"$lt": older_than}, "owner": {"$ne": not_owner}}
        cursor = self.db[OUTBOX].find(query).sort("created_at", ASCENDING).limit(limit)
        return [_entry(doc) for doc in cursor]

    @_translated
    def outbox_remove(self, batch_ids: Sequence[str]) -> None:
        if batch_ids:
            self.db[OUTBOX].delete_many({"_id": {"$in": list(batch_ids)}})

    @_translated
    def outbox_count(self, cap: int) -> int:
        return self.db[OUTBOX].count_documents({}, limit=cap)

    def ping(self) -> bool:
        try:
            self.db.client.admin.command("ping")
        except PyMongoError:
            return False
        return True


def _entry(doc: Document) -> OutboxEntry:
    if "routing_key" in doc:  # one event per document, as the first cut of ingest wrote them
        event = OutEvent(doc["routing_key"], bytes(doc["body"]), doc["_id"])
        return OutboxEntry(doc["_id"], "", doc["created_at"], others=[event])
    return OutboxEntry.from_document(doc)
