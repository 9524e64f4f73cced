"""Telemetry queries as data: filters, keyset pages and bucket pipelines (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from msm_api.domain.timerange import INTERVALS

MEASURES: Final = ("temperature", "line_voltage", "current", "active_power", "reactive_power")
READING_FIELDS: Final = ("device_uuid", "timestamp", "channel_id", "phase", *MEASURES)
READING_PROJECTION: Final = {name: 1 for name in READING_FIELDS}
STATS: Final = ("avg", "min", "max")
NEWER_ROWS_MAX: Final = 2000  # about one coalescing interval of a fast meter's readings

SeriesKey = tuple[str, int, str]


def base_filter(
    device_uuid: str | None, channel_id: int | None, phase: str | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if device_uuid is not None:
        query["device_uuid"] = device_uuid
    if channel_id is not None:
        query["channel_id"] = channel_id
    if phase is not None:
        query["phase"] = phase
    return query


def time_filter(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if start is not None:
        bounds["$gte"] = start
    if end is not None:
        bounds["$lt"] = end
    return {"timestamp": bounds} if bounds else {}


def bucket_pipeline(match: dict[str, Any], interval: str) -> list[dict[str, Any]]:
    """avg/min/max/count of every measure per (device, channel, phase, bucket), in bucket order."""
    unit, size, _ = INTERVALS[interval]
    group: dict[str, Any] = {
        "_id": {
            "t": {
                "$dateTrunc": {
                    "date": "$timestamp",
                    "unit": unit,
                    "binSize": size,
                    "timezone": "UTC",
                }
            },
            "d": "$device_uuid",
            "c": "$channel_id",
            "p": "$phase",
        },
        "count": {"$sum": 1},
    }
    for measure in MEASURES:
        for stat in STATS:
            group[f"{measure}_{stat}"] = {f"${stat}": f"${measure}"}
    sort = {"_id.t": 1, "_id.d": 1, "_id.c": 1, "_id.p": 1}
    return [{"$match": match}, {"$group": group}, {"$sort": sort}]


def bucket_row(doc: dict[str, Any], interval: str) -> dict[str, Any]:
    key = doc["_id"]
    row: dict[str, Any] = {
        "device_uuid": key["d"],
        "channel_id": key["c"],
        "phase": key["p"],
        "start": key["t"],
        "interval": interval,
        "count": doc["count"],
    }
    for measure in MEASURES:
        row[measure] = {stat: doc.get(f"{measure}_{stat}") for stat in STATS}
    return row


def series_key(row: dict[str, Any]) -> SeriesKey:
    return (str(row["device_uuid"]), int(row["channel_id"]), str(row["phase"]))


def after_position(row: dict[str, Any], start: datetime, key: SeriesKey) -> bool:
    """True if `row` comes after the position (bucket `start`, series `key`) in page order."""
    return (row["start"], series_key(row)) > (start, key)


def bucket_window(
    start: datetime, end: datetime, interval: str, limit: int
) -> tuple[datetime, datetime]:
    """The time span one page of at most `limit` buckets per series can cover."""
    span = timedelta(seconds=INTERVALS[interval][2] * limit)
    return start, min(end, start + span)


def csv_header(interval: str | None) -> list[str]:
    if interval is None:
        return list(READING_FIELDS)
    head = ["device_uuid", "channel_id", "phase", "start", "interval", "count"]
    return head + [f"{m}_{s}" for m in MEASURES for s in STATS]


def csv_values(row: dict[str, Any], interval: str | None) -> list[Any]:
    if interval is None:
        return [row.get(name) for name in READING_FIELDS]
    head = [row["device_uuid"], row["channel_id"], row["phase"], row["start"], interval]
    return [*head, row["count"], *(row[m][s] for m in MEASURES for s in STATS)]


def newest_stamp(latest: dict[str, Any]) -> datetime | None:
    """The newest reading's timestamp in a device document's `latest` (None if it has none)."""
    stamps = [
        v["timestamp"]
        for v in latest.values()
        if isinstance(v, dict) and v.get("timestamp") is not None
    ]
    return max(stamps) if stamps else None


def merge_newer(
    latest: dict[str, Any], rows_newest_first: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """A device document's `latest` plus the readings in `rows` that are newer, per channel:phase.

    Ingest writes `latest` at most once per device per interval, so the newest readings may be
    only in `telemetry`; `rows` are the ones after the document's newest reading, newest first.
    """
    merged = {k: v for k, v in latest.items() if isinstance(v, dict)}
    for row in rows_newest_first:
        key = f"{row.get('channel_id')}:{row.get('phase')}"
        held = merged.get(key)
        if held is None or held.get("timestamp") is None or row["timestamp"] > held["timestamp"]:
            merged[key] = {m: row.get(m) for m in ("timestamp", *MEASURES)}
    return merged
