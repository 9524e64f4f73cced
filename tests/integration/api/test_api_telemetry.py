from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import add_device

pytestmark = pytest.mark.integration
# Recent enough to stay inside the telemetry retention (a TTL index: older rows are deleted by
# the database while the test runs), far enough back for a 31-day range to end in the past.
T0 = (datetime.now(UTC) - timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
DAY = T0.strftime("%Y-%m-%d")


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def reading(device, minute, channel=1, phase="A", volts=None):
    ts = T0 + timedelta(minutes=minute)
    return {
        "_id": f"{device}:{channel}:{phase}:{int(ts.timestamp() * 1000)}",
        "device_uuid": device,
        "timestamp": ts,
        "channel_id": channel,
        "phase": phase,
        "temperature": 30.0,
        "line_voltage": volts if volts is not None else 220.0 + minute,
        "current": 1.0,
        "active_power": 100.0,
        "reactive_power": 5.0,
        "processed": True,
    }


@pytest.fixture
def series(mongo_db):
    docs = [reading("m1", i, ch, ph) for i in range(30) for ch, ph in ((1, "A"), (1, "B"))]
    docs += [reading("m2", i) for i in range(30)]
    mongo_db["telemetry"].insert_many(docs)
    return docs


def walk(client, url, headers):
    items, cursor, pages = [], None, 0
    while True:
        resp = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_readings_page_through_shared_timestamps(auth, client, series):
    # 7 per page: pages split between the two phases of one timestamp.
    items, pages = walk(client, "/api/telemetry?device_uuid=m1&limit=7", auth.headers("viewer"))
    assert len(items) == 60 and pages == 9
    keys = [(i["timestamp"], i["phase"]) for i in items]
    assert keys == sorted(keys) and len(set(keys)) == 60
    assert "processed" not in items[0] and "_id" not in items[0]


def test_reading_filters(auth, client, series):
    headers = auth.headers("viewer")
    url = (
        "/api/telemetry?device_uuid=m1&phase=B&channel_id=1"
        f"&from={at(10)}&to={at(20).removesuffix('Z')}"
    )
    items = client.get(url, headers=headers).get_json()["items"]
    assert len(items) == 10 and {i["phase"] for i in items} == {"B"}
    assert items[0]["timestamp"].startswith(f"{DAY}T00:10:00")
    everything = client.get("/api/telemetry?limit=5000", headers=headers).get_json()["items"]
    assert len(everything) == 90


def test_buckets_have_avg_min_max_count(auth, client, series):
    url = f"/api/telemetry?device_uuid=m1&phase=A&interval=5m&from={at(0)}&to={at(30)}"
    body = client.get(url, headers=auth.headers("viewer")).get_json()
    assert body["interval"] == "5m" and len(body["items"]) == 6
    first = body["items"][0]
    assert first["count"] == 5 and first["start"].startswith(f"{DAY}T00:00:00")
    assert first["line_voltage"] == {"avg": 222.0, "min": 220.0, "max": 224.0}


def test_bucket_pages_cover_the_range_once(auth, client, series):
    url = f"/api/telemetry?interval=1m&limit=7&from={at(0)}&to={at(30)}"
    items, pages = walk(client, url, auth.headers("viewer"))
    assert len(items) == 90 and pages > 5  # 3 series x 30 minutes
    keys = [(i["start"], i["device_uuid"], i["channel_id"], i["phase"]) for i in items]
    assert len(set(keys)) == 90 and keys == sorted(keys)


def test_buckets_skip_empty_time(auth, client, mongo_db):
    mongo_db["telemetry"].insert_many([reading("far", 0), reading("far", 60 * 24 * 20)])
    url = f"/api/telemetry?device_uuid=far&interval=1m&limit=10&from={at(0)}&to={at(60 * 24 * 31)}"
    items, pages = walk(client, url, auth.headers("viewer"))
    assert len(items) == 2 and pages <= 3


def test_csv_streams_every_row(auth, client, series):
    headers = {**auth.headers("viewer"), "Accept": "text/csv"}
    # An export names its range (at most 31 days; without `from` it starts 31 days before `to`).
    resp = client.get(
        f"/api/telemetry?device_uuid=m1&limit=5&from={at(0)}&to={at(60)}", headers=headers
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][:3] == ["device_uuid", "timestamp", "channel_id"] and len(rows) == 61
    buckets = client.get(
        f"/api/telemetry?device_uuid=m2&interval=1h&from={at(0)}&to={at(60 * 24)}",
        headers=headers,
    )
    rows = list(csv.reader(io.StringIO(buckets.get_data(as_text=True))))
    assert len(rows) == 2 and rows[1][5] == "30"


def test_latest_per_device(auth, client, mongo_db):
    add_device(mongo_db, "dev-l1")
    add_device(mongo_db, "dev-l2")
    headers = auth.headers("viewer")
    one = client.get("/api/telemetry/latest?device_uuid=dev-l1", headers=headers).get_json()
    assert one["items"][0]["readings"][0]["line_voltage"] == 231.0
    page = client.get("/api/telemetry/latest?limit=1", headers=headers).get_json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert client.get("/api/telemetry/latest?device_uuid=none", headers=headers).status_code == 404


def test_status_and_latest_fall_back_to_telemetry_newer_than_the_device_document(
    auth, client, mongo_db
):
    # Ingest writes a device's `latest` at most once per interval: newer readings may be only
    # in telemetry. The API merges them in (newest per channel:phase).
    add_device(mongo_db, "dev-lag")
    mongo_db["devices"].update_one(
        {"_id": "dev-lag"},
        {"$set": {"latest": {"1:A": {"timestamp": T0, "line_voltage": 200.0}}}},
    )
    mongo_db["telemetry"].insert_many(
        [reading("dev-lag", m, 1, "A", volts=240.0 + m) for m in (1, 2)]
        + [reading("dev-lag", 2, 2, "B", volts=250.0)]
    )
    headers = auth.headers("viewer")
    status = client.get("/api/devices/dev-lag/status", headers=headers).get_json()
    latest = client.get("/api/telemetry/latest?device_uuid=dev-lag", headers=headers).get_json()
    for readings in (status["latest"], latest["items"][0]["readings"]):
        by_key = {(r["channel_id"], r["phase"]): r["line_voltage"] for r in readings}
        assert by_key == {(1, "A"): 242.0, (2, "B"): 250.0}
