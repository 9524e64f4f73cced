"""Telemetry pages over a `TelemetryStore`: keyset pages of readings, pages of time buckets, and
a device's latest readings with what telemetry holds that is newer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from msm_api import paging
from msm_api.domain import telemetry as dt
from msm_api.domain.cursor import CursorCodec
from msm_api.domain.timerange import TimeRange, truncate
from msm_api.ports import Document, TelemetryStore

Page = tuple[list[Document], str | None]


def latest_rows(
    store: TelemetryStore, device_uuid: str, latest: Mapping[str, Any]
) -> list[Document]:
    """A device document's `latest` readings, with what telemetry holds that is newer (ingest
    writes `latest` at most once per device per interval), one row per channel and phase."""
    held = dict(latest)
    newer = store.newest(device_uuid, dt.newest_stamp(held), dt.NEWER_ROWS_MAX)
    rows = []
    for key, reading in sorted(dt.merge_newer(held, newer).items()):
        channel, _, phase = key.partition(":")
        rows.append(
            {
                "channel_id": int(channel) if channel.isdigit() else channel,
                "phase": phase or None,
                **(reading if isinstance(reading, dict) else {}),
            }
        )
    return rows


class TelemetryPages:
    def __init__(self, store: TelemetryStore, codec: CursorCodec) -> None:
        self._store = store
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
        after = None
        if cursor is not None:
            at, last_id = self._codec.decode("readings", cursor)
            after, start = (paging.when(at), str(last_id)), None
        docs = self._store.readings(base, TimeRange(start, end), after, limit + 1)
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
    ) -> tuple[list[Document], datetime]:
        w0, w1 = dt.bucket_window(window_start, end, interval, limit)
        rows = self._store.buckets(base, (max(start, w0), w1), interval)
        return rows, w1

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
            first = self._store.first_timestamp(base, (w1, end))
            if first is None:
                return [], None
            rows, w1 = self._window(
                base,
                start=start,
                end=end,
                window_start=truncate(first, interval),
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
