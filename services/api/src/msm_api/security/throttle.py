"""Login throttling per account and per client address, shared by every worker via MongoDB."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

COLLECTION = "login_throttle"
INDEXES = [IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)]


@dataclass(frozen=True)
class ThrottlePolicy:
    window: timedelta
    max_account_failures: int
    max_address_failures: int

    def limit_for(self, key: str) -> int:
        return self.max_account_failures if key.startswith("acct:") else self.max_address_failures

    def retry_after(self, key: str, entry: dict[str, Any] | None, now: datetime) -> int:
        """Seconds until `key` may try again; 0 if it may try now."""
        if entry is None or entry.get("failures", 0) < self.limit_for(key):
            return 0
        ends = entry["window_start"] + self.window
        wait: int = math.ceil((ends - now).total_seconds())
        return max(0, wait)


def keys_for(account: str, address: str) -> tuple[str, str]:
    return f"acct:{account.strip().lower()}", f"addr:{address}"


class LoginThrottle:
    """Counts failed logins in a fixed window per key; a key over its limit waits the window out."""

    def __init__(self, db: Database[dict[str, Any]], policy: ThrottlePolicy) -> None:
        self._coll = db[COLLECTION]
        self.policy = policy

    def retry_after(self, keys: tuple[str, ...], now: datetime) -> int:
        entries = {doc["_id"]: doc for doc in self._coll.find({"_id": {"$in": list(keys)}})}
        return max(self.policy.retry_after(k, entries.get(k), now) for k in keys)

    def record_failure(self, keys: tuple[str, ...], now: datetime) -> None:
        window_open = now - self.policy.window
        for key in keys:
            res = self._coll.update_one(
                {"_id": key, "window_start": {"$gt": window_open}}, {"$inc": {"failures": 1}}
            )
            if res.matched_count:
                continue
            doc = {"failures": 1, "window_start": now, "expires_at": now + self.policy.window}
            try:
                self._coll.replace_one({"_id": key}, doc, upsert=True)
            except DuplicateKeyError:  # a concurrent failure created it: count ours too
                self._coll.update_one({"_id": key}, {"$inc": {"failures": 1}})

    def reset(self, key: str) -> None:
        self._coll.delete_one({"_id": key})
