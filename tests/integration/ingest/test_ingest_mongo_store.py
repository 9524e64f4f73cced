"""MongoStore against the real wire-protocol server: rows, devices and the batch outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msm_ingest.adapters import mongo_store
from msm_ingest.adapters.mongo_store import MongoStore
from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent
from msm_ingest.domain.outbox import OutboxEntry
from msm_ingest.ports import StoreUnavailable
from pymongo import MongoClient, monitoring

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def device_write(uuid: str, update: dict) -> DeviceWrite:
    return DeviceWrite(uuid, {}, update)


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def started(self, event) -> None:
        self.seen.append(dict(event.command))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def test_row_inserts_carry_the_clients_write_concern(endpoints, mongo_db):
    """A raw command does not take the client's write concern (w=majority in the URI) alone."""
    listener = Commands()
    client = MongoClient(endpoints.mongo_uri, w="majority", event_listeners=[listener])
    try:
        MongoStore(client[mongo_db.name]).insert_readings([{"_id": "r1", "v": 1}])
    finally:
        client.close()
    inserts = [c for c in listener.seen if "insert" in c]
    assert [u["writeConcern"] for u in inserts] == [{"w": "majority"}]
    assert [d["_id"] for d in mongo_db["telemetry"].find()] == ["r1"]


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


def test_an_outbox_entry_round_trips_and_a_retried_write_keeps_it_once(mongo_db):
    store = MongoStore(mongo_db)
    entry = OutboxEntry(
        "batch-1",
        "replica-a",
        NOW,
        telemetry=[["d1:0:A:1", "d1:0:B:1"], ["d2:0:A:1"]],
        others=[OutEvent("command.ack.d1", b'{"x": 1}', "ev-2")],
    )
    store.outbox_add(entry)
    store.outbox_add(entry)  # a retried write
    later = NOW + timedelta(seconds=1)
    assert store.outbox_due(later, "replica-b", 10) == [entry]
    assert store.outbox_due(later, "replica-a", 10) == []  # its own: not an orphan
    assert store.outbox_due(NOW, "replica-b", 10) == []  # not older than asked
    assert store.outbox_count(10) == 1
    store.outbox_remove(["batch-1"])
    assert store.outbox_count(10) == 0


def test_outbox_documents_of_the_first_cut_are_read_as_entries(mongo_db):
    mongo_db[mongo_store.OUTBOX].insert_one(
        {"_id": "ev-1", "routing_key": "device.info.d1", "body": b"{}", "created_at": NOW}
    )
    [entry] = MongoStore(mongo_db).outbox_due(NOW + timedelta(seconds=1), "me", 10)
    assert entry.others == [OutEvent("device.info.d1", b"{}", "ev-1")]
    assert entry.telemetry == []
