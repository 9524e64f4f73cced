"""The telemetry views' success paths on the in-memory telemetry rows: pages of readings,
interval buckets, CSV exports and the latest readings per device."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_fakes import Fakes
from msm_api.domain.telemetry import READING_FIELDS
from msm_common.contracts.telemetry import Reading

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def reading(device: str, minute: int, phase: str = "A") -> dict[str, Any]:
    """The row ingest stores for a reading (line voltage 220 + minute)."""
    at = T0 + timedelta(minutes=minute)
    return Reading(device, at, 1, phase, 30.0, 220.0 + minute, 1.0, 100.0, 5.0).to_document()


@pytest.fixture
def client(store_app: Any, fakes: Fakes) -> Any:
    # m1: two phases a minute for 30 minutes (pairs share a timestamp); m2: one phase.
    fakes.telemetry.add(reading("m1", i, ph) for i in range(30) for ph in ("A", "B"))
    fakes.telemetry.add(reading("m2", i) for i in range(30))
    return store_app.test_client()


def walk(client: Any, url: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """Every item of every page from `url` on, and the number of pages."""
    pages = [client.get(url, headers=headers).get_json()]
    while cursor := pages[-1]["next_cursor"]:
        pages.append(client.get(f"{url}&cursor={cursor}", headers=headers).get_json())
    return [item for page in pages for item in page["items"]], len(pages)


def test_readings_page_through_shared_timestamps_once_each(client: Any, bearer: Any) -> None:
    items, pages = walk(client, "/api/telemetry?device_uuid=m1&limit=7", bearer("viewer"))
    assert (len(items), pages) == (60, 9)
    keys = [(i["timestamp"], i["phase"]) for i in items]
    assert keys == sorted(keys) and len(set(keys)) == 60
    assert set(items[0]) == set(READING_FIELDS)  # no _id, no `processed`


def test_readings_keep_to_the_filters_and_the_range(client: Any, bearer: Any) -> None:
    url = f"/api/telemetry?device_uuid=m1&phase=B&channel_id=1&from={at(10)}&to={at(20)}"
    items = client.get(url, headers=bearer("viewer")).get_json()["items"]
    assert [i["line_voltage"] for i in items] == [220.0 + m for m in range(10, 20)]
    assert {i["phase"] for i in items} == {"B"}


def test_buckets_have_avg_min_max_and_count(client: Any, bearer: Any) -> None:
    url = f"/api/telemetry?device_uuid=m1&phase=A&interval=5m&from={at(0)}&to={at(30)}"
    body = client.get(url, headers=bearer("viewer")).get_json()
    assert body["interval"] == "5m" and len(body["items"]) == 6
    first = body["items"][0]
    assert first["count"] == 5 and first["start"].startswith("2025-03-01T00:00:00")
    assert first["line_voltage"] == {"avg": 222.0, "min": 220.0, "max": 224.0}
    assert body["next_cursor"] is None


def test_bucket_pages_cover_every_series_and_bucket_once(client: Any, bearer: Any) -> None:
    url = f"/api/telemetry?interval=1m&limit=7&from={at(0)}&to={at(30)}"
    items, pages = walk(client, url, bearer("viewer"))
    assert len(items) == 90 and pages > 5  # 3 series x 30 minutes
    keys = [(i["start"], i["device_uuid"], i["channel_id"], i["phase"]) for i in items]
    assert len(set(keys)) == 90 and keys == sorted(keys)


def test_buckets_skip_empty_time(client: Any, bearer: Any, fakes: Fakes) -> None:
    fakes.telemetry.add([reading("far", 0), reading("far", 60 * 24 * 20)])
    url = f"/api/telemetry?device_uuid=far&interval=1m&limit=10&from={at(0)}&to={at(60 * 24 * 31)}"
    items, pages = walk(client, url, bearer("viewer"))
    assert [i["start"][:10] for i in items] == ["2025-03-01", "2025-03-21"] and pages <= 3


def test_csv_streams_every_reading_and_every_bucket(client: Any, bearer: Any) -> None:
    headers = {**bearer("viewer"), "Accept": "text/csv"}
    resp = client.get(
        f"/api/telemetry?device_uuid=m1&limit=5&from={at(0)}&to={at(60)}", headers=headers
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="telemetry.csv"'
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0][:3] == ["device_uuid", "timestamp", "channel_id"] and len(rows) == 61
    url = f"/api/telemetry?device_uuid=m2&interval=1h&from={at(0)}&to={at(60 * 24)}"
    rows = list(csv.reader(io.StringIO(client.get(url, headers=headers).get_data(as_text=True))))
    assert rows[0][:6] == ["device_uuid", "channel_id", "phase", "start", "interval", "count"]
    assert len(rows) == 2 and rows[1][5] == "30"


def test_latest_readings_include_telemetry_newer_than_the_device_document(
    client: Any, bearer: Any, fakes: Fakes
) -> None:
    # The document's `latest` was written at minute 10; rows up to minute 29 are newer.
    held = {"1:A": {"timestamp": T0 + timedelta(minutes=10), "line_voltage": 230.0}}
    fakes.devices.devices["m1"] = {"_id": "m1", "last_seen": T0, "latest": held}
    body = client.get("/api/telemetry/latest?device_uuid=m1", headers=bearer("viewer")).get_json()
    [item] = body["items"]
    readings = {(r["channel_id"], r["phase"]): r["line_voltage"] for r in item["readings"]}
    assert readings == {(1, "A"): 249.0, (1, "B"): 249.0}
