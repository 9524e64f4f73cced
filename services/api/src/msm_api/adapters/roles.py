"""Role -> permissions, read from the `roles` collection and cached briefly per worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from msm_api.domain.permissions import BUILTIN_ROLES

RoleMap = dict[str, frozenset[str]]
BUILTIN_TABLE: RoleMap = {name: frozenset(perms) for name, perms in BUILTIN_ROLES.items()}


class RoleTable:
    """A few seconds stale at most: role edits reach every worker within `ttl_s`."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._coll = db["roles"]
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._table: RoleMap | None = None
        self._loaded_at = 0.0

    def table(self) -> RoleMap:
        table = self._table
        if table is not None and self._monotonic() - self._loaded_at < self._ttl:
            return table
        with self._lock:
            if self._table is None or self._monotonic() - self._loaded_at >= self._ttl:
                self._refresh()
            assert self._table is not None
            return self._table

    def _refresh(self) -> None:
        try:
            docs = list(self._coll.find({}, {"name": 1, "permissions": 1}))
        except PyMongoError:
            if self._table is None:
                self._table = dict(BUILTIN_TABLE)
            return
        table = {d["name"]: frozenset(d.get("permissions") or ()) for d in docs}
        table["admin"] = BUILTIN_TABLE["admin"]  # admin always holds every permission
        self._table = table
        self._loaded_at = self._monotonic()

    def invalidate(self) -> None:
        self._loaded_at = -self._ttl


def seed_builtin_roles(db: Database[dict[str, Any]], now: datetime) -> None:
    """Create the built-in roles if missing and keep their permissions current."""
    for name, perms in BUILTIN_ROLES.items():
        db["roles"].update_one(
            {"name": name},
            {
                "$set": {"permissions": list(perms), "builtin": True, "updated_at": now},
                "$setOnInsert": {"created_at": now},
            },
            upsert=True,
        )
