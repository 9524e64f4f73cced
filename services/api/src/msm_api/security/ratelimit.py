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


class RateLimiter:
    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._coll = db[COLLECTION]

    def take(self, limit: RateLimit, who: str, now: datetime) -> int:
        """Count one request by `who`; 0 if allowed, else seconds until the window ends."""
        span = limit.window.total_seconds()
        index = math.floor(now.timestamp() / span)
        ends = datetime.fromtimestamp((index + 1) * span, now.tzinfo)
        doc = self._coll.find_one_and_update(
            {"_id": f"{limit.name}:{who}:{index}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None or int(doc["count"]) <= limit.per_window:
            return 0
        return max(1, math.ceil((ends - now).total_seconds()))
