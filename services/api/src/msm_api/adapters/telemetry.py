"""Telemetry reads: keyset pages of readings and pages of time buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from msm_api import paging
from msm_api.domain import telemetry as dt
from msm_api.domain.cursor import CursorCodec
from msm_api.domain.timerange import truncate

Page = tuple[list[dict[str, Any]], str | None]
_ORDER = [("timestamp", 1), ("_id", 1)]
NEWER_ROWS_MAX = 2000  # about one coalescing interval of a fast meter's readings


def with_newer_rows(
    db: Database[dict[str, Any]], device_uuid: str, latest: dict[str, Any]
) -> dict[str, Any]:
    """A device document's `latest` plus what telemetry holds that is newer.

    Ingest writes `latest` at most once per device per interval, so the newest readings may
    be only in `telemetry`: read the rows after the document's newest reading through the
    (device_uuid, timestamp) index, newest first, and keep the newest per channel:phase.
    """
    merged = {k: v for k, v in latest.items() if isinstance(v, dict)}
    stamps = [v["timestamp"] for v in merged.values() if v.get("timestamp") is not None]
    query: dict[str, Any] = {"device_uuid": device_uuid}
    if stamps:
        query["timestamp"] = {"$gt": max(stamps)}
    rows = db["telemetry"].find(query, dt.READING_PROJECTION).sort("timestamp", -1)
    for row in rows.limit(NEWER_ROWS_MAX):
        key = f"{row.get('channel_id')}:{row.get('phase')}"
        held = merged.get(key)
        if held is None or held.get("timestamp") is None or row["timestamp"] > held["timestamp"]:
            merged[key] = {m: row.get(m) for m in ("timestamp", *dt.MEASURES)}
    return merged


class TelemetryReader:
    def __init__(self, db: Database[dict[str, Any]], codec: CursorCodec) -> None:
        self._coll = db["telemetry"]
        self._codec = codec

    def readings(
        self,
        base: dict[str, Any],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Readings in (timestamp, _id) order; the cursor is the last one returned."""
        proj = {**dt.READING_PROJECTION, "_id": 1}
        docs: list[dict[str, Any]] = []
        if cursor is not None:
            at, last_id = self._codec.decode("readings", cursor)
            t = paging.when(at)
            # Two index range scans instead of one $or: readings sharing the cursor's
            # timestamp after its _id, then everything later.
            same = {**base, "timestamp": t, "_id": {"$gt": str(last_id)}}
            docs = list(self._coll.find(same, proj).sort("_id", 1).limit(limit + 1))
            bounds: dict[str, Any] = {"$gt": t} if end is None else {"$gt": t, "$lt": end}
            later = {**base, "timestamp": bounds}
        else:
            later = {**base, **dt.time_filter(start, end)}
        if len(docs) <= limit:
            rest = self._coll.find(later, proj).sort(_ORDER).limit(limit + 1 - len(docs))
            docs.extend(rest)
        docs, more = paging.page(docs, limit)
        next_cursor = None
        if more:
            last = docs[-1]
            position = [last["timestamp"].isoformat(), last["_id"]]
            next_cursor = self._codec.encode("readings", position)
        return [{k: doc.get(k) for k in dt.READING_FIELDS} for doc in docs], next_cursor

    def _window(
        self,
        base: dict[str, Any],
        *,
        start: datetime,
        end: datetime,
        window_start: datetime,
        interval: str,
        limit: int,
    ) -> tuple[list[dict[str, Any]], datetime]:
        w0, w1 = dt.bucket_window(window_start, end, interval, limit)
        match = {**base, "timestamp": {"$gte": max(start, w0), "$lt": w1}}
        pipeline = dt.bucket_pipeline(match, interval)
        return [dt.bucket_row(doc, interval) for doc in self._coll.aggregate(pipeline)], w1

    def buckets(
        self,
        base: dict[str, Any],
        *,
        start: datetime,
        end: datetime,
        interval: str,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Rows of (bucket, series) in order; one page scans at most `limit` buckets of time."""
        key: dt.SeriesKey | None = None
        if cursor is not None:
            at, raw_key = self._codec.decode(f"buckets:{interval}", cursor)
            position = paging.when(at)
            if raw_key is not None:
                key = (str(raw_key[0]), int(raw_key[1]), str(raw_key[2]))
        else:
            position = start
        window_start = truncate(position, interval) if key is None else position
        rows, w1 = self._window(
            base, start=start, end=end, window_start=window_start, interval=interval, limit=limit
        )
        if not rows and key is None and w1 < end:
            # Sparse data: jump to the first reading's bucket rather than page through
            # empty windows (only then: a sorted find_one is slow on some servers).
            first = self._coll.find_one(
                {**base, "timestamp": {"$gte": w1, "$lt": end}},
                {"timestamp": 1},
                sort=[("timestamp", 1)],
            )
            if first is None:
                return [], None
            rows, w1 = self._window(
                base,
                start=start,
                end=end,
                window_start=truncate(first["timestamp"], interval),
                interval=interval,
                limit=limit,
            )
        if key is not None:
            rows = [r for r in rows if dt.after_position(r, position, key)]
        kind = f"buckets:{interval}"
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            return rows, self._codec.encode(
                kind, [last["start"].isoformat(), list(dt.series_key(last))]
            )
        return rows, (self._codec.encode(kind, [w1.isoformat(), None]) if w1 < end else None)
