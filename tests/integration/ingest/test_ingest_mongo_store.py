"""MongoStore against the real wire-protocol server: what marking rows processed writes."""

from __future__ import annotations

import pytest
from msm_ingest.adapters import mongo_store
from msm_ingest.adapters.mongo_store import MongoStore
from pymongo import MongoClient, monitoring

pytestmark = pytest.mark.integration


def processed(db) -> dict[str, bool]:
    return {d["_id"]: d["processed"] for d in db["telemetry"].find()}


def test_mark_processed_sets_exactly_the_given_rows_in_chunks_and_creates_none(
    mongo_db, monkeypatch
):
    monkeypatch.setattr(mongo_store, "MARK_CHUNK", 7)  # 16 ids: three commands
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
