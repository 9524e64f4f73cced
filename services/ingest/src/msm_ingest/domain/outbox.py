"""The per-batch outbox entry: what a batch still has to announce when RabbitMQ did not confirm
its events in time.

One small document per batch, never one per row: the telemetry events as lists of reading ids
(one list per event, so a republished event has the same readings and the same id) and the rarer
events (device info, presence, command acks) whole. It is removed once RabbitMQ confirmed them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from msm_ingest.domain.events import OutEvent

Document = dict[str, Any]


@dataclass
class OutboxEntry:
    batch_id: str
    owner: str  # the ingest process that wrote it (its own entries it retries itself)
    created_at: datetime
    telemetry: list[list[str]] = field(default_factory=list)  # reading ids, one list per event
    others: list[OutEvent] = field(default_factory=list)

    def to_document(self) -> Document:
        return {
            "_id": self.batch_id,
            "owner": self.owner,
            "created_at": self.created_at,
            "telemetry": self.telemetry,
            "events": [
                {"_id": e.event_id, "routing_key": e.routing_key, "body": e.body}
                for e in self.others
            ],
        }

    @classmethod
    def from_document(cls, doc: Document) -> OutboxEntry:
        return cls(
            batch_id=doc["_id"],
            owner=doc.get("owner", ""),
            created_at=doc["created_at"],
            telemetry=[list(ids) for ids in doc.get("telemetry", ())],
            others=[
                OutEvent(e["routing_key"], bytes(e["body"]), e["_id"])
                for e in doc.get("events", ())
            ],
        )

    @property
    def reading_ids(self) -> list[str]:
        return [rid for ids in self.telemetry for rid in ids]

    @property
    def size(self) -> int:
        """Events in this entry."""
        return len(self.telemetry) + len(self.others)
