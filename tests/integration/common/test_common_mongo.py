"""The Mongo adapter against the real MongoDB-protocol server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msm_common.adapters import mongo
from pymongo.errors import BulkWriteError

pytestmark = pytest.mark.integration


def test_every_collection_gets_its_indexes(mongo_db) -> None:
    mongo.ensure_indexes(mongo_db, telemetry_retention_days=30)
    mongo.ensure_indexes(mongo_db, telemetry_retention_days=30)  # idempotent across replicas

    telemetry = {ix["name"]: ix for ix in mongo_db.telemetry.list_indexes()}
    assert dict(telemetry["device_time"]["key"]) == {"device_uuid": 1, "timestamp": 1}
    assert telemetry["retention"]["expireAfterSeconds"] == 30 * 86400
    users = {ix["name"]: ix for ix in mongo_db.users.list_indexes()}
    assert users["email"]["unique"] is True
    commands = {ix["name"]: ix for ix in mongo_db.commands.list_indexes()}
    assert commands["idempotency"]["unique"] is True


def test_unique_index_refuses_a_second_user_with_the_same_email(mongo_db) -> None:
    mongo.ensure_indexes(mongo_db)
    mongo_db.users.insert_one({"username": "a", "email": "x@example.com"})
    with pytest.raises(Exception, match=r"duplicate key|E11000"):
        mongo_db.users.insert_one({"username": "b", "email": "x@example.com"})


def test_redelivered_rows_are_duplicates_not_second_rows(mongo_db) -> None:
    now = datetime.now(UTC)  # inside the telemetry retention, should a TTL index exist
    rows = [{"_id": f"dev-1:0:A:{i}", "timestamp": now, "v": i} for i in range(5)]
    first = mongo.insert_many_idempotent(mongo_db, "telemetry", rows[:3])
    again = mongo.insert_many_idempotent(mongo_db, "telemetry", rows)

    assert (first.inserted, first.duplicates) == (3, 0)
    assert (again.inserted, again.duplicates) == (2, 3)
    assert mongo_db.telemetry.count_documents({}) == 5


def test_other_write_errors_are_not_swallowed(mongo_db) -> None:
    mongo_db.create_collection("strict", validator={"$jsonSchema": {"required": ["must"]}})
    with pytest.raises(BulkWriteError):
        mongo.insert_many_idempotent(mongo_db, "strict", [{"_id": 1}])


def test_datetimes_come_back_timezone_aware_utc(mongo_db) -> None:
    mongo_db.t.insert_one({"_id": 1, "at": datetime(2026, 5, 1, 12, 0, tzinfo=UTC)})
    got = mongo_db.t.find_one({"_id": 1})
    assert got["at"].tzinfo is not None
    assert got["at"] == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
