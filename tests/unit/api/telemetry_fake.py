"""In-memory `msm_api.ports.TelemetryStore` and `RateLimits`: telemetry rows in a list."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from msm_api.domain import telemetry as dt
from msm_api.domain.timerange import TimeRange, truncate
from msm_api.ports import Filter, Key, Span
from msm_api.security import ratelimit
from msm_api.security.ratelimit import RateLimit

Document = dict[str, Any]


def _matches(
    row: Document, base: Mapping[str, Any], start: datetime | None, end: datetime | None
) -> bool:
    return (
        all(row.get(k) == v for k, v in base.items())
        and (start is None or row["timestamp"] >= start)
        and (end is None or row["timestamp"] < end)
    )


def _stats(values: list[Any]) -> dict[str, Any]:
    """avg/min/max as MongoDB's $avg/$min/$max give them: nulls and missing values skipped."""
    present = [v for v in values if v is not None]
    if not present:
        return {"avg": None, "min": None, "max": None}
    return {"avg": math.fsum(present) / len(present), "min": min(present), "max": max(present)}


@dataclass
class InMemoryTelemetry:
    rows: list[Document] = field(default_factory=list)

    def add(self, rows: Iterable[Document]) -> None:
        for row in rows:
            self.rows.append({"_id": f"r{len(self.rows):06d}", **row})

    def readings(
        self, base: Filter, rng: TimeRange, after: Key | None, limit: int
    ) -> list[Document]:
        found = sorted(
            (r for r in self.rows if _matches(r, base, rng.start, rng.end)),
            key=lambda r: (r["timestamp"], r["_id"]),
        )
        found = [r for r in found if after is None or (r["timestamp"], r["_id"]) > after]
        return copy.deepcopy(found[:limit])

    def buckets(self, base: Filter, rng: Span, interval: str) -> list[Document]:
        groups: dict[tuple[Any, ...], list[Document]] = {}
        for r in self.rows:
            if _matches(r, base, *rng):
                key = (
                    truncate(r["timestamp"], interval),
                    r["device_uuid"],
                    r["channel_id"],
                    r["phase"],
                )
                groups.setdefault(key, []).append(r)
        out = []
        for (at, device, channel, phase), members in sorted(groups.items()):
            row: Document = {
                "device_uuid": device,
                "channel_id": channel,
                "phase": phase,
                "start": at,
                "interval": interval,
                "count": len(members),
            }
            for m in dt.MEASURES:
                row[m] = _stats([x.get(m) for x in members])
            out.append(row)
        return out

    def first_timestamp(self, base: Filter, rng: Span) -> datetime | None:
        return min((r["timestamp"] for r in self.rows if _matches(r, base, *rng)), default=None)

    def newest(self, device_uuid: str, after: datetime | None, limit: int) -> list[Document]:
        mine = [r for r in self.rows if _matches(r, {"device_uuid": device_uuid}, None, None)]
        newer = [r for r in mine if after is None or r["timestamp"] > after]
        return copy.deepcopy(sorted(newer, key=lambda r: r["timestamp"], reverse=True)[:limit])


@dataclass
class InMemoryRateLimits:
    """Fixed windows counted per (limit, caller, window index), as the MongoDB counter does."""

    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def take(self, limit: RateLimit, who: str, now: datetime) -> int:
        index, ends = ratelimit.window(limit, now)
        key = (limit.name, who, index)
        self.counts[key] = self.counts.get(key, 0) + 1
        return ratelimit.wait(limit, self.counts[key], ends, now)
