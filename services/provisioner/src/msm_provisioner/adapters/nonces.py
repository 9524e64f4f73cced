"""Signatures the hook has accepted, remembered until their timestamp goes stale, in MongoDB
(so that a replay is refused by every replica); a TTL index forgets them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

COLLECTION: Final = "hook_nonces"
INDEXES: Final = [IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)]


class NonceStore:
    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._coll = db[COLLECTION]

    def ensure_indexes(self) -> None:
        self._coll.create_indexes(INDEXES)

    def first_use(self, nonce: str, expires_at: datetime) -> bool:
        """True the first time `nonce` is presented (recording it), False for a replay."""
        key = hashlib.sha256(nonce.encode()).hexdigest()
        try:
            self._coll.insert_one({"_id": key, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True
