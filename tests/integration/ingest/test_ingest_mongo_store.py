"""MongoStore against the real wire-protocol server: what marking rows processed writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msm_ingest.adapters import mongo_store
from msm_ingest.adapters.mongo_store import MongoStore
from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent
from msm_ingest.ports import StoreUnavailable
from pymongo import MongoClient, monitoring

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def device_write(uuid: str, update: dict) -> DeviceWrite:
    return DeviceWrite(uuid, {}, update)


def processed(db) -> dict[str, bool]:
    return {d["_id"]: d["processed"] for d in db["telemetry"].find()}


def test_mark_processed_sets_exactly_the_given_rows_in_chunks_and_creates_none(
    mongo_db, monkeypatch
):
    monkeypatch.setattr(mongo_store, "COMMAND_CHUNK", 7)  # 16 ids: three commands
    mongo_db["telemetry"].insert_many([{"_id": f"r{i}", "processed": False} for i in range(30)])
    MongoStore(mongo_db).mark_processed([f"r{i}" for i in range(0, 30, 2)] + ["never-stored"])
    assert processed(mongo_db) == {f"r{i}": i % 2 == 0 for i in range(30)}


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def started(self, event) -> None:
        self.seen.append(dict(event.command))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def test_mark_processed_carries_the_clients_write_concern(endpoints, mongo_db):
    """A raw command does not take the client's write concern (w=majority in the URI) alone."""
    listener = Commands()
    client = MongoClient(endpoints.mongo_uri, w="majority", event_listeners=[listener])
    try:
        db = client[mongo_db.name]
        db["telemetry"].insert_one({"_id": "r1", "processed": False})
        MongoStore(db).mark_processed(["r1"])
    finally:
        client.close()
    updates = [c for c in listener.seen if "update" in c]
    assert [u["writeConcern"] for u in updates] == [{"w": "majority"}]
    assert processed(mongo_db) == {"r1": True}


def test_insert_readings_flags_each_duplicate_at_its_position_across_chunks(mongo_db, monkeypatch):
    monkeypatch.setattr(mongo_store, "COMMAND_CHUNK", 4)
    mongo_db["telemetry"].insert_many([{"_id": "r3", "v": "old"}, {"_id": "r6", "v": "old"}])
    flags = MongoStore(mongo_db).insert_readings([{"_id": f"r{i}", "v": "new"} for i in range(10)])
    assert flags == [i not in (3, 6) for i in range(10)]
    rows = {d["_id"]: d["v"] for d in mongo_db["telemetry"].find()}
    assert rows == {f"r{i}": "old" if i in (3, 6) else "new" for i in range(10)}


def test_update_devices_creates_new_devices_and_updates_known_ones(mongo_db):
    mongo_db["devices"].insert_one({"_id": "known", "last_seen": 5, "name": "kept"})
    MongoStore(mongo_db).update_devices(
        [
            device_write("known", {"$max": {"last_seen": 7}}),
            device_write("new", {"$max": {"last_seen": 3}, "$setOnInsert": {"created": True}}),
        ]
    )
    assert list(mongo_db["devices"].find().sort("_id")) == [
        {"_id": "known", "last_seen": 7, "name": "kept"},
        {"_id": "new", "last_seen": 3, "created": True},
    ]


def test_a_write_error_other_than_a_duplicate_is_not_swallowed(mongo_db):
    mongo_db["devices"].insert_one({"_id": "d1", "name": "a string"})
    store = MongoStore(mongo_db)
    with pytest.raises(StoreUnavailable, match="update devices"):
        store.update_devices([device_write("d1", {"$inc": {"name": 1}})])


def test_a_row_the_database_refuses_is_an_error_not_a_duplicate(mongo_db):
    mongo_db.create_collection("telemetry", validator={"$jsonSchema": {"required": ["v"]}})
    with pytest.raises(StoreUnavailable, match="Document failed validation"):
        MongoStore(mongo_db).insert_readings([{"_id": "r1", "v": 1}, {"_id": "r2"}])


def test_an_event_already_in_the_outbox_is_kept_once_without_an_error(mongo_db):
    store = MongoStore(mongo_db)
    first, second = (
        OutEvent("device.info.d1", b"{}", "ev-1"),
        OutEvent("command.ack.d1", b"{}", "ev-2"),
    )
    store.outbox_add([first], NOW)
    store.outbox_add([first, second], NOW)  # a retried write
    assert [(e.event_id, e.body) for e in store.outbox_due(10)] == [
        ("ev-1", b"{}"),
        ("ev-2", b"{}"),
    ]
