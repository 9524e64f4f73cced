"""Per-caller rate limits for expensive requests (CSV exports), shared by every worker and
replica through MongoDB: one atomic counter per caller per fixed window, forgotten by TTL."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database

COLLECTION: Final = "rate_limits"
INDEXES: Final = [IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)]


@dataclass(frozen=True)
class RateLimit:
    name: str
    per_window: int
    window: timedelta = timedelta(minutes=1)


def window(limit: RateLimit, now: datetime) -> tuple[int, datetime]:
    """The index of the fixed window `now` falls in, and when that window ends."""
    span = limit.window.total_seconds()
    index = math.floor(now.timestamp() / span)
    return index, datetime.fromtimestamp((index + 1) * span, now.tzinfo)


def wait(limit: RateLimit, count: int, ends: datetime, now: datetime) -> int:
    """0 if the `count`th request of the window is allowed, else seconds until the window ends."""
    if count <= limit.per_window:
        return 0
    return max(1, math.ceil((ends - now).total_seconds()))


class RateLimiter:
    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._coll = db[COLLECTION]

    def take(self, limit: RateLimit, who: str, now: datetime) -> int:
        """Count one request by `who`; 0 if allowed, else seconds until the window ends."""
        index, ends = window(limit, now)
        doc = self._coll.find_one_and_update(
            {"_id": f"{limit.name}:{who}:{index}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return 0 if doc is None else wait(limit, int(doc["count"]), ends, now)
