"""MongoDB: the allowlist, devices, provisioning attempts and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.database import Database

from msm_provisioner.domain.hook import (
    RATE_LIMITED,
    AllowlistEntry,
    ClaimUsage,
    ExistingDevice,
)

Document = dict[str, Any]
ALLOWLIST: Final = "provisioning_allowlist"
DEVICES: Final = "devices"
ATTEMPTS: Final = "provisioning_attempts"
AUDIT: Final = "audit_log"
ATTEMPT_RETENTION: Final = timedelta(days=180)
IMPORT_CHUNK: Final = 1000

INDEXES: Final[dict[str, list[IndexModel]]] = {
    ALLOWLIST: [
        IndexModel([("imei", ASCENDING)], name="prov_imei", unique=True),
        IndexModel([("status", ASCENDING)], name="prov_status"),
    ],
    DEVICES: [
        IndexModel([("claim_certificate_id", ASCENDING)], name="prov_claim", sparse=True),
        IndexModel([("certificate_expires_at", ASCENDING)], name="prov_expiry", sparse=True),
        IndexModel([("retiring.since", ASCENDING)], name="prov_retiring", sparse=True),
    ],
    ATTEMPTS: [
        IndexModel([("claim_certificate_id", ASCENDING), ("at", DESCENDING)], name="claim_at"),
        IndexModel([("serial", ASCENDING), ("at", DESCENDING)], name="serial_at"),
        IndexModel(
            [("at", DESCENDING)],
            name="retention",
            expireAfterSeconds=int(ATTEMPT_RETENTION.total_seconds()),
        ),
    ],
}


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        total = self.inserted + self.updated + self.unchanged
        return {**self.__dict__, "total": total}


@dataclass(frozen=True)
class Registration:
    device_uuid: str
    entry: AllowlistEntry
    certificate_id: str
    certificate_expires_at: datetime | None
    claim_certificate_id: str | None
    template_arn: str
    reason: str
    at: datetime


class Store:
    def __init__(self, db: Database[Document]) -> None:
        self.db = db

    def ensure_indexes(self) -> None:
        for name, indexes in INDEXES.items():
            self.db[name].create_indexes(indexes)

    # -- allowlist -------------------------------------------------------------------------------
    def allowlist_entry(self, serial: str) -> AllowlistEntry | None:
        doc = self.db[ALLOWLIST].find_one({"_id": serial})
        if doc is None:
            return None
        return AllowlistEntry(
            serial=doc["_id"],
            imei=str(doc.get("imei", "")),
            labels=dict(doc.get("labels") or {}),
            status=str(doc.get("status", "available")),
        )

    def allowlist_empty(self) -> bool:
        return self.db[ALLOWLIST].find_one({}, {"_id": 1}) is None

    def import_allowlist(self, entries: list[AllowlistEntry], now: datetime) -> ImportResult:
        """Upsert the entries; a provisioned or blocked entry keeps its status."""
        inserted = updated = unchanged = 0
        for chunk in _chunks(entries, IMPORT_CHUNK):
            known = {
                d["_id"]: d
                for d in self.db[ALLOWLIST].find(
                    {"_id": {"$in": [e.serial for e in chunk]}}, {"imei": 1, "labels": 1}
                )
            }
            ops = []
            for e in chunk:
                old = known.get(e.serial)
                if old is not None and old.get("imei") == e.imei and old.get("labels") == e.labels:
                    unchanged += 1
                    continue
                if old is None:
                    inserted += 1
                else:
                    updated += 1
                ops.append(
                    UpdateOne(
                        {"_id": e.serial},
                        {
                            "$set": {"imei": e.imei, "labels": e.labels, "updated_at": now},
                            "$setOnInsert": {"status": "available", "created_at": now},
                        },
                        upsert=True,
                    )
                )
            if ops:
                self.db[ALLOWLIST].bulk_write(ops, ordered=False)
        return ImportResult(inserted, updated, unchanged)

    def imei_conflicts(self, entries: list[AllowlistEntry]) -> dict[str, str]:
        """IMEIs of `entries` that the allowlist holds under another serial: imei -> serial."""
        conflicts: dict[str, str] = {}
        for chunk in _chunks(entries, IMPORT_CHUNK):
            wanted = {e.imei: e.serial for e in chunk}
            for doc in self.db[ALLOWLIST].find({"imei": {"$in": list(wanted)}}, {"imei": 1}):
                if wanted.get(doc["imei"]) != doc["_id"]:
                    conflicts[doc["imei"]] = doc["_id"]
        return conflicts

    def list_allowlist(
        self, *, status: str | None, after: str | None, limit: int
    ) -> list[Document]:
        filt: Document = {}
        if status:
            filt["status"] = status
        if after:
            filt["_id"] = {"$gt": after}
        return list(self.db[ALLOWLIST].find(filt).sort("_id", ASCENDING).limit(limit))

    def set_allowlist_status(self, serial: str, status: str, now: datetime, **extra: Any) -> None:
        self.db[ALLOWLIST].update_one(
            {"_id": serial}, {"$set": {"status": status, "updated_at": now, **extra}}
        )

    # -- devices ---------------------------------------------------------------------------------
    def device(self, device_uuid: str) -> Document | None:
        return self.db[DEVICES].find_one({"_id": device_uuid}, {"latest": 0})

    def existing_device(self, device_uuid: str) -> ExistingDevice | None:
        doc = self.db[DEVICES].find_one(
            {"_id": device_uuid}, {"status": 1, "certificate_id": 1, "rotation": 1}
        )
        if doc is None:
            return None
        rotation = doc.get("rotation") or {}
        pending = rotation.get("status") == "pending"
        return ExistingDevice(
            device_uuid=doc["_id"],
            status=str(doc.get("status") or "active"),
            certificate_id=doc.get("certificate_id"),
            rotation_requested_at=rotation.get("requested_at") if pending else None,
        )

    def register(self, reg: Registration) -> Document | None:
        """Upsert the device with its new certificate; the document as it was before."""
        e = reg.entry
        before = self.db[DEVICES].find_one_and_update(
            {"_id": reg.device_uuid},
            {
                "$set": {
                    "serial": e.serial,
                    "device_imei": e.imei,
                    "labels": e.labels,
                    "certificate_id": reg.certificate_id,
                    "certificate_expires_at": reg.certificate_expires_at,
                    "claim_certificate_id": reg.claim_certificate_id,
                    "provisioned_at": reg.at,
                    "provisioning": {"reason": reg.reason, "template_arn": reg.template_arn},
                    "status": "active",
                    "updatedAt": reg.at,
                },
                "$setOnInsert": {"createdAt": reg.at},
                "$unset": {"decommissioned_at": ""},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        previous = (before or {}).get("certificate_id")
        if previous and previous != reg.certificate_id:
            self.db[DEVICES].update_one(
                {"_id": reg.device_uuid},
                {
                    "$push": {
                        "retiring": {
                            "certificate_id": previous,
                            "replaced_by": reg.certificate_id,
                            "since": reg.at,
                        }
                    }
                },
            )
        if (before or {}).get("rotation", {}).get("status") == "pending":
            self.db[DEVICES].update_one(
                {"_id": reg.device_uuid},
                {
                    "$set": {
                        "rotation.status": "provisioned",
                        "rotation.provisioned_at": reg.at,
                        "rotation.to_certificate_id": reg.certificate_id,
                    }
                },
            )
        self.set_allowlist_status(
            e.serial, "provisioned", reg.at, provisioned_at=reg.at, device_uuid=reg.device_uuid
        )
        return before

    def update_device(self, device_uuid: str, update: Document) -> Document | None:
        return self.db[DEVICES].find_one_and_update(
            {"_id": device_uuid}, update, return_document=ReturnDocument.AFTER
        )

    def devices_retiring(self) -> list[Document]:
        return list(self.db[DEVICES].find({"retiring.0": {"$exists": True}}, {"latest": 0}))

    def expiring(self, before: datetime, limit: int) -> list[Document]:
        return list(
            self.db[DEVICES]
            .find(
                {"status": "active", "certificate_expires_at": {"$ne": None, "$lte": before}},
                {"latest": 0},
            )
            .sort("certificate_expires_at", ASCENDING)
            .limit(limit)
        )

    # -- attempts and audit ----------------------------------------------------------------------
    def claim_usage(self, claim_certificate_id: str, since: datetime) -> ClaimUsage:
        provisioned = self.db[DEVICES].count_documents(
            {"claim_certificate_id": claim_certificate_id}
        )
        recent = self.db[ATTEMPTS].count_documents(
            {
                "claim_certificate_id": claim_certificate_id,
                "at": {"$gte": since},
                "reason": {"$ne": RATE_LIMITED},
            }
        )
        return ClaimUsage(provisioned=provisioned, recent_attempts=recent)

    def record_attempt(self, attempt: Document) -> None:
        self.db[ATTEMPTS].insert_one(attempt)

    def attempts(self, filt: Document, limit: int) -> list[Document]:
        return list(self.db[ATTEMPTS].find(filt).sort("at", DESCENDING).limit(limit))

    def audit(self, entry: Document) -> None:
        self.db[AUDIT].insert_one(entry)


def _chunks(items: list[AllowlistEntry], size: int) -> list[list[AllowlistEntry]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
