"""Login throttling per account and per client address, shared by every worker via MongoDB.

Every attempt is counted *before* its password is checked, under the account it resolves to
(the user id: username and email share one counter) and under the client address. Each key
lets a few attempts through freely; past those, every failure doubles the wait before the key
may try again, up to a cap. Nothing locks an account outright: after the wait the right password
works. A success clears the account's counter.

Atomic across workers and replicas: one `find_one_and_update` per key both checks that the key
may try now and counts the attempt, and holds the key for a moment (`LEASE`) until the wait
this attempt earns is written, so parallel attempts cannot slip past the count.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

if TYPE_CHECKING:
    from msm_api.settings import ApiSettings

COLLECTION: Final = "login_throttle"
INDEXES: Final = [IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)]
LEASE: Final = timedelta(seconds=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    window: timedelta  # how long failures are remembered after the last one
    max_account_failures: int  # free attempts per account
    max_address_failures: int  # free attempts per address
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    @classmethod
    def from_settings(cls, s: ApiSettings) -> ThrottlePolicy:
        return cls(
            window=timedelta(seconds=s.login_window_s),
            max_account_failures=s.login_max_account_failures,
            max_address_failures=s.login_max_address_failures,
            backoff_base_s=s.login_backoff_base_s,
            backoff_max_s=s.login_backoff_max_s,
        )

    def free_for(self, key: str) -> int:
        return self.max_account_failures if key.startswith("acct:") else self.max_address_failures

    def delay_s(self, key: str, failures: int) -> float:
        """The wait a key earns with `failures` counted attempts: none while free, then doubling."""
        over = failures - self.free_for(key)
        if over < 0:
            return 0.0
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(over, 32))


def account_key(user_id: str | None, identity: str) -> str:
    """The account's key; an identity that names no account gets a key of its own (so that
    unknown and known accounts are throttled alike)."""
    if user_id is not None:
        return f"acct:{user_id}"
    digest = hashlib.sha256(identity.strip().lower().encode()).hexdigest()[:32]
    return f"acct:?{digest}"


def address_key(address: str) -> str:
    return f"addr:{address}"


class LoginThrottle:
    def __init__(self, db: Database[dict[str, Any]], policy: ThrottlePolicy) -> None:
        self._coll = db[COLLECTION]
        self.policy = policy

    def begin(self, keys: tuple[str, ...], now: datetime) -> int:
        """Count an attempt under each key; 0 if it may go on, else seconds to wait (429)."""
        for key in keys:
            wait = self._take(key, now)
            if wait:
                return wait
        return 0

    def _take(self, key: str, now: datetime) -> int:
        may_try = {"$or": [{"blocked_until": {"$lte": now}}, {"blocked_until": None}]}
        try:
            doc = self._coll.find_one_and_update(
                {"_id": key, **may_try},
                {
                    "$inc": {"failures": 1},
                    "$set": {"blocked_until": now + LEASE, "expires_at": now + self.policy.window},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # the key exists and is waiting
            doc = None
        if doc is None:
            current = self._coll.find_one({"_id": key}, {"blocked_until": 1})
            until = current.get("blocked_until") if current else None
            return max(1, math.ceil((until - now).total_seconds())) if until else 1
        failures = int(doc["failures"])
        wait = timedelta(seconds=self.policy.delay_s(key, failures))
        self._coll.update_one(
            {"_id": key, "failures": failures}, {"$set": {"blocked_until": now + wait}}
        )
        return 0

    def succeeded(self, account: str, address: str, now: datetime) -> None:
        """The attempt was right: the account starts afresh; the address gets its attempt back."""
        self._coll.delete_one({"_id": account})
        self._coll.update_one(
            {"_id": address, "failures": {"$gt": 0}},
            {"$inc": {"failures": -1}, "$set": {"blocked_until": now}},
        )
