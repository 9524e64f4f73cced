"""The unit tests' in-memory stores answer as the MongoDB adapters do: the same rows in, the
same answers out (so a view's unit test on a fake says something about the real service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from msm_api.adapters.accounts import MongoAuditLog, MongoUserStore
from msm_api.adapters.telemetry import MongoTelemetryStore
from msm_api.domain.telemetry import READING_FIELDS
from msm_api.domain.timerange import TimeRange
from msm_api.ports import AuditFilter
from msm_common.adapters import mongo
from msm_common.contracts.telemetry import Reading
from unit.api.accounts_fake import InMemoryAuditLog, InMemoryUserStore
from unit.api.telemetry_fake import InMemoryTelemetry

pytestmark = pytest.mark.integration
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def rows() -> list[dict[str, Any]]:
    """Two devices, two phases sharing timestamps, and a missing measure now and then."""
    out = []
    for minute in range(0, 40, 3):
        for device, phase in (("m1", "A"), ("m1", "B"), ("m2", "A")):
            at = T0 + timedelta(minutes=minute)
            volts = 220.0 + minute / 2
            doc = Reading(device, at, 1, phase, 30.5, volts, 1.25, 100.0, 5.0).to_document()
            if minute % 9 == 0:
                doc["current"] = None
            out.append(doc)
    return out


def same(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: d.get(k) for k in ("_id", *READING_FIELDS)} for d in docs]


@pytest.fixture
def both(mongo_db: Any) -> tuple[MongoTelemetryStore, InMemoryTelemetry]:
    mongo.ensure_indexes(mongo_db, 30)
    mongo_db["telemetry"].insert_many(rows())
    fake = InMemoryTelemetry()
    fake.add(rows())
    return MongoTelemetryStore(mongo_db), fake


def test_readings_agree(both: tuple[MongoTelemetryStore, InMemoryTelemetry]) -> None:
    real, fake = both
    every = TimeRange(None, None)
    ranged = TimeRange(T0 + timedelta(minutes=6), T0 + timedelta(minutes=30))
    first = real.readings({"device_uuid": "m1"}, every, None, 5)
    position = (first[-1]["timestamp"], first[-1]["_id"])
    for base, rng, after, limit in [
        ({}, every, None, 1000),
        ({"device_uuid": "m1"}, every, None, 5),
        ({"device_uuid": "m1"}, every, position, 7),
        ({"phase": "A"}, ranged, None, 1000),
        ({}, TimeRange(None, ranged.end), position, 1000),
    ]:
        got = same(real.readings(base, rng, after, limit))
        assert got and got == same(fake.readings(base, rng, after, limit))


@pytest.mark.parametrize("interval", ["1m", "5m", "1h"])
def test_buckets_agree(both: tuple[MongoTelemetryStore, InMemoryTelemetry], interval: str) -> None:
    real, fake = both
    span = (T0 + timedelta(minutes=2), T0 + timedelta(hours=1))
    for base in ({}, {"device_uuid": "m1", "phase": "B"}):
        got = real.buckets(base, span, interval)
        assert got and got == fake.buckets(base, span, interval)
    assert real.first_timestamp({"device_uuid": "m2"}, span) == fake.first_timestamp(
        {"device_uuid": "m2"}, span
    )


def test_newest_rows_agree(both: tuple[MongoTelemetryStore, InMemoryTelemetry]) -> None:
    real, fake = both
    for after in (None, T0 + timedelta(minutes=20)):
        got = real.newest("m1", after, 5)
        assert got and [{k: d.get(k) for k in READING_FIELDS} for d in got] == [
            {k: d.get(k) for k in READING_FIELDS} for d in fake.newest("m1", after, 5)
        ]


def test_users_and_audit_agree(mongo_db: Any) -> None:
    mongo.ensure_indexes(mongo_db, 30)
    real_users, fake_users = MongoUserStore(mongo_db), InMemoryUserStore()
    real_audit, fake_audit = MongoAuditLog(mongo_db), InMemoryAuditLog()
    for name, roles, disabled in [("bo", ["admin"], True), ("al", ["viewer"], False)]:
        doc = {"_id": ObjectId(), "username": name, "email": f"{name}@x.org", "roles": roles}
        doc |= {"disabled": disabled, "token_version": 0}
        assert real_users.insert_user(dict(doc)) and fake_users.insert_user(dict(doc))
        assert not real_users.insert_user({**doc, "_id": ObjectId()})
        assert not fake_users.insert_user({**doc, "_id": ObjectId()})
    assert real_users.users_page("al", 10) == fake_users.users_page("al", 10)
    assert real_users.has_enabled_admin("admin") is fake_users.has_enabled_admin("admin") is False
    for minute in range(6):
        entry = {"at": T0 + timedelta(minutes=minute % 4), "actor": "al" if minute % 2 else "bo"}
        entry |= {"action": "device.reboot", "_id": ObjectId()}
        real_audit.record(dict(entry))
        fake_audit.entries.append(dict(entry))
    everything = real_audit.page(AuditFilter(), None, 100)
    position = (everything[2]["at"], str(everything[2]["_id"]))
    for query, before in [
        (AuditFilter(), None),
        (AuditFilter(actor="al"), position),
        (AuditFilter(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)), None),
    ]:
        got = real_audit.page(query, before, 3)
        assert got and got == fake_audit.page(query, before, 3)
