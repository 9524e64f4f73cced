"""Certificates localiot issued: ownership tokens, which thing each one registered, revocation.

The ownership token binds RegisterThing to the certificate CreateKeysAndCertificate (or
CreateCertificateFromCsr) returned; only its SHA-256 is stored, and it expires (1 h by default).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection

COLLECTION = "localiot_certificates"


def new_ownership_token() -> str:
    return secrets.token_urlsafe(48)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CertificateRecord:
    certificate_id: str
    certificate_arn: str
    common_name: str
    certificate_pem: str
    token_digest: str
    token_expires_at: datetime
    created_at: datetime
    thing_name: str | None = None
    revoked_at: datetime | None = None


class CertificateStore(Protocol):
    def add(self, record: CertificateRecord) -> None: ...

    def by_token(self, token: str) -> CertificateRecord | None: ...

    def mark_registered(self, certificate_id: str, thing_name: str) -> None: ...

    def claim_revocation(self, certificate_id: str, at: datetime) -> bool:
        """Mark revoked; True only for the caller that did it (so it is done once)."""
        ...

    def registered(self) -> list[CertificateRecord]:
        """Certificates with a thing and not revoked."""
        ...

    def thing_of(self, common_name: str) -> str | None:
        """The thing a registered, unrevoked certificate (by its CN) belongs to."""
        ...


class InMemoryCertificateStore:
    def __init__(self) -> None:
        self._records: dict[str, CertificateRecord] = {}
        self._lock = threading.Lock()

    def add(self, record: CertificateRecord) -> None:
        with self._lock:
            self._records[record.certificate_id] = record

    def by_token(self, token: str) -> CertificateRecord | None:
        digest = token_digest(token)
        with self._lock:
            return next((r for r in self._records.values() if r.token_digest == digest), None)

    def mark_registered(self, certificate_id: str, thing_name: str) -> None:
        with self._lock:
            record = self._records[certificate_id]
            self._records[certificate_id] = replace(record, thing_name=thing_name)

    def claim_revocation(self, certificate_id: str, at: datetime) -> bool:
        with self._lock:
            record = self._records.get(certificate_id)
            if record is None or record.revoked_at is not None:
                return False
            self._records[certificate_id] = replace(record, revoked_at=at)
            return True

    def registered(self) -> list[CertificateRecord]:
        with self._lock:
            return [r for r in self._records.values() if r.thing_name and not r.revoked_at]

    def thing_of(self, common_name: str) -> str | None:
        found = (r.thing_name for r in self.registered() if r.common_name == common_name)
        return next(found, None)


class MongoCertificateStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._coll = collection

    def ensure_indexes(self) -> None:
        self._coll.create_indexes(
            [
                IndexModel([("token_digest", ASCENDING)], name="token"),
                IndexModel([("thing_name", ASCENDING)], name="thing"),
                IndexModel([("common_name", ASCENDING)], name="common_name"),
            ]
        )

    def add(self, record: CertificateRecord) -> None:
        doc = _to_doc(record)
        self._coll.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def by_token(self, token: str) -> CertificateRecord | None:
        doc = self._coll.find_one({"token_digest": token_digest(token)})
        return _from_doc(doc) if doc else None

    def mark_registered(self, certificate_id: str, thing_name: str) -> None:
        self._coll.update_one({"_id": certificate_id}, {"$set": {"thing_name": thing_name}})

    def claim_revocation(self, certificate_id: str, at: datetime) -> bool:
        result = self._coll.update_one(
            {"_id": certificate_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return result.modified_count == 1

    def registered(self) -> list[CertificateRecord]:
        cursor = self._coll.find({"thing_name": {"$ne": None}, "revoked_at": None})
        return [_from_doc(doc) for doc in cursor]

    def thing_of(self, common_name: str) -> str | None:
        doc = self._coll.find_one(
            {"common_name": common_name, "thing_name": {"$ne": None}, "revoked_at": None},
            {"thing_name": 1},
        )
        return str(doc["thing_name"]) if doc else None


def _to_doc(record: CertificateRecord) -> dict[str, Any]:
    return {
        "_id": record.certificate_id,
        "certificate_arn": record.certificate_arn,
        "common_name": record.common_name,
        "certificate_pem": record.certificate_pem,
        "token_digest": record.token_digest,
        "token_expires_at": record.token_expires_at,
        "created_at": record.created_at,
        "thing_name": record.thing_name,
        "revoked_at": record.revoked_at,
    }


def _from_doc(doc: dict[str, Any]) -> CertificateRecord:
    return CertificateRecord(
        certificate_id=doc["_id"],
        certificate_arn=doc["certificate_arn"],
        common_name=doc["common_name"],
        certificate_pem=doc["certificate_pem"],
        token_digest=doc["token_digest"],
        token_expires_at=doc["token_expires_at"],
        created_at=doc["created_at"],
        thing_name=doc.get("thing_name"),
        revoked_at=doc.get("revoked_at"),
    )
