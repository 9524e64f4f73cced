"""Where shadows live between requests and across restarts: a small interface, Mongo behind it.

Writes are compare-and-set on a store revision (not the shadow version, which deletion keeps), so
two writers of one shadow never lose an update: the loser reloads and applies its request again.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from .model import Shadow

COLLECTION = "localiot_shadows"


@dataclass(frozen=True)
class ShadowKey:
    """A thing's classic shadow (`name` None) or one of its named shadows."""

    thing: str
    name: str | None = None

    @property
    def id(self) -> str:
        return f"{self.thing}/{self.name or ''}"

    @property
    def display_name(self) -> str:
        """The name AWS puts in "No shadow exists with name: ..."."""
        return self.name or self.thing


@dataclass(frozen=True)
class Stored:
    shadow: Shadow
    revision: int


class ShadowStore(Protocol):
    def load(self, key: ShadowKey) -> Stored | None: ...

    def save(self, key: ShadowKey, shadow: Shadow, expected_revision: int | None) -> bool:
        """Write if nobody wrote since `expected_revision` (None: only if absent)."""
        ...

    def named_shadows(self, thing: str) -> list[str]:
        """The thing's existing named shadows, sorted."""
        ...


class InMemoryShadowStore:
    def __init__(self) -> None:
        self._docs: dict[ShadowKey, Stored] = {}
        self._lock = threading.Lock()

    def load(self, key: ShadowKey) -> Stored | None:
        with self._lock:
            return self._docs.get(key)

    def save(self, key: ShadowKey, shadow: Shadow, expected_revision: int | None) -> bool:
        with self._lock:
            found = self._docs.get(key)
            if (found.revision if found else None) != expected_revision:
                return False
            self._docs[key] = Stored(shadow, (expected_revision or 0) + 1)
            return True

    def named_shadows(self, thing: str) -> list[str]:
        with self._lock:
            return sorted(
                k.name
                for k, v in self._docs.items()
                if k.thing == thing and k.name and v.shadow.exists
            )


class MongoShadowStore:
    """One document per shadow; state and metadata as JSON text, since shadow keys may hold
    characters MongoDB field names must not (`.`, a leading `$`)."""

    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._coll = collection

    def ensure_indexes(self) -> None:
        self._coll.create_indexes([IndexModel([("thing", ASCENDING), ("name", ASCENDING)])])

    def load(self, key: ShadowKey) -> Stored | None:
        doc = self._coll.find_one({"_id": key.id})
        if doc is None:
            return None
        body = json.loads(doc["body"])
        shadow = Shadow(body["state"], body["metadata"], doc["version"], doc["deleted"])
        return Stored(shadow, doc["revision"])

    def save(self, key: ShadowKey, shadow: Shadow, expected_revision: int | None) -> bool:
        fields = {
            "thing": key.thing,
            "name": key.name or "",
            "version": shadow.version,
            "deleted": shadow.deleted,
            "body": json.dumps({"state": shadow.state, "metadata": shadow.metadata}),
            "updated_at": datetime.now(UTC),
        }
        if expected_revision is None:
            try:
                self._coll.insert_one({"_id": key.id, "revision": 1, **fields})
            except DuplicateKeyError:
                return False
            return True
        result = self._coll.update_one(
            {"_id": key.id, "revision": expected_revision},
            {"$set": {**fields, "revision": expected_revision + 1}},
        )
        return result.matched_count == 1

    def named_shadows(self, thing: str) -> list[str]:
        cursor = self._coll.find(
            {"thing": thing, "name": {"$ne": ""}, "deleted": False}, {"name": 1}
        )
        return sorted(doc["name"] for doc in cursor)
