"""MongoDB: one client per process, timezone-aware, and the indexes every collection needs.

Only portable MongoDB features are used (the local stack runs a wire-protocol stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.database import Database
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000

Document = dict[str, Any]


def connect(uri: str, *, app_name: str = "msm", timeout_ms: int = 5000) -> MongoClient[Document]:
    """A client that returns timezone-aware UTC datetimes; connects lazily."""
    return MongoClient(
        uri,
        tz_aware=True,
        appname=app_name,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


def collection_indexes(telemetry_retention_days: int) -> dict[str, list[IndexModel]]:
    """Every collection's indexes, by collection name (the seed's names are kept)."""
    retention_s = telemetry_retention_days * 86400
    return {
        "devices": [
            IndexModel([("device_imei", ASCENDING)], name="device_imei"),
            IndexModel([("connectivity.connected", ASCENDING)], name="connected"),
            IndexModel([("last_seen", DESCENDING)], name="last_seen"),
        ],
        "telemetry": [
            IndexModel([("device_uuid", ASCENDING), ("timestamp", ASCENDING)], name="device_time"),
            IndexModel(
                [("timestamp", ASCENDING)], name="retention", expireAfterSeconds=retention_s
            ),
        ],
        "mqtt": [IndexModel([("device_uuid", ASCENDING)], name="device", unique=True)],
        "ntp": [IndexModel([("device_uuid", ASCENDING)], name="device", unique=True)],
        "sftp": [IndexModel([("device_uuid", ASCENDING)], name="device", unique=True)],
        "users": [
            IndexModel([("username", ASCENDING)], name="username", unique=True),
            IndexModel([("email", ASCENDING)], name="email", unique=True),
        ],
        "roles": [IndexModel([("name", ASCENDING)], name="name", unique=True)],
        "commands": [
            # A device's active (queued/sent) commands without scanning its finished ones:
            # the API's device status and the commander's scheduler both ask this.
            IndexModel(
                [("device_uuid", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)],
                name="device_status_created",
            ),
            IndexModel(
                [("device_uuid", ASCENDING), ("created_at", ASCENDING)], name="device_created"
            ),
            IndexModel([("status", ASCENDING), ("deadline_at", ASCENDING)], name="status_deadline"),
            IndexModel(
                [("idempotency_key", ASCENDING)], name="idempotency", unique=True, sparse=True
            ),
        ],
        "refresh_tokens": [
            IndexModel([("family", ASCENDING)], name="family"),
            IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0),
        ],
        "audit_log": [
            IndexModel([("at", DESCENDING)], name="at"),
            IndexModel([("actor", ASCENDING), ("at", DESCENDING)], name="actor_at"),
        ],
        "rejected_messages": [
            IndexModel([("received_at", DESCENDING)], name="received_at"),
            IndexModel([("reason", ASCENDING)], name="reason"),
        ],
        "provisioning_allowlist": [],
    }


def ensure_indexes(db: Database[Document], telemetry_retention_days: int = 400) -> None:
    """Create every collection's indexes; safe to call from every replica at start."""
    for name, indexes in collection_indexes(telemetry_retention_days).items():
        if indexes:
            db[name].create_indexes(indexes)


@dataclass(frozen=True)
class InsertResult:
    inserted: int
    duplicates: int


def insert_many_idempotent(
    db: Database[Document], collection: str, docs: list[Document]
) -> InsertResult:
    """Insert unordered; documents whose `_id` already exists count as duplicates, not errors."""
    if not docs:
        return InsertResult(0, 0)
    try:
        res = db[collection].insert_many(docs, ordered=False)
        return InsertResult(len(res.inserted_ids), 0)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
        if others:
            raise
        return InsertResult(int(exc.details.get("nInserted", 0)), len(errors))
