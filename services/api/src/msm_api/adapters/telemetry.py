"""The `telemetry` collection's reads (`msm_api.ports.TelemetryStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from msm_api.domain import telemetry as dt
from msm_api.domain.timerange import TimeRange
from msm_api.ports import Document, Filter, Key, Span

_ORDER = [("timestamp", 1), ("_id", 1)]
_PROJECTION = {**dt.READING_PROJECTION, "_id": 1}


class MongoTelemetryStore:
    def __init__(self, db: Database[Document]) -> None:
        self._coll = db["telemetry"]

    def readings(
        self, base: Filter, rng: TimeRange, after: Key | None, limit: int
    ) -> list[Document]:
        start, end = rng.start, rng.end
        if after is None:
            later = {**base, **dt.time_filter(start, end)}
            return list(self._coll.find(later, _PROJECTION).sort(_ORDER).limit(limit))
        # Two index range scans instead of one $or: readings sharing the position's timestamp
        # after its _id, then everything later.
        t, last_id = after
        low: dict[str, Any] = {"$gt": t} if start is None or start <= t else {"$gte": start}
        docs: list[Document] = []
        if start is None or start <= t:
            same = {**base, "timestamp": t, "_id": {"$gt": last_id}}
            if end is None or t < end:
                docs = list(self._coll.find(same, _PROJECTION).sort("_id", 1).limit(limit))
        if len(docs) < limit:
            bounds = low if end is None else {**low, "$lt": end}
            later = {**base, "timestamp": bounds}
            docs.extend(self._coll.find(later, _PROJECTION).sort(_ORDER).limit(limit - len(docs)))
        return docs

    def buckets(self, base: Filter, rng: Span, interval: str) -> list[Document]:
        match = {**base, "timestamp": {"$gte": rng[0], "$lt": rng[1]}}
        pipeline = dt.bucket_pipeline(match, interval)
        return [dt.bucket_row(doc, interval) for doc in self._coll.aggregate(pipeline)]

    def first_timestamp(self, base: Filter, rng: Span) -> datetime | None:
        first = self._coll.find_one(
            {**base, "timestamp": {"$gte": rng[0], "$lt": rng[1]}},
            {"timestamp": 1},
            sort=[("timestamp", 1)],
        )
        if first is None:
            return None
        stamp: datetime = first["timestamp"]
        return stamp

    def newest(self, device_uuid: str, after: datetime | None, limit: int) -> list[Document]:
        query: Document = {"device_uuid": device_uuid}
        if after is not None:
            query["timestamp"] = {"$gt": after}
        rows = self._coll.find(query, dt.READING_PROJECTION).sort("timestamp", -1)
        return list(rows.limit(limit))


def with_newer_rows(db: Database[Document], device_uuid: str, latest: Document) -> Document:
    """A device document's `latest` plus what `telemetry` holds that is newer."""
    rows = MongoTelemetryStore(db).newest(device_uuid, dt.newest_stamp(latest), dt.NEWER_ROWS_MAX)
    return dt.merge_newer(latest, rows)
