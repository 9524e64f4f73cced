"""A store that keeps nothing: the benchmark's pipeline ceiling (never used in production)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.outbox import OutboxEntry

Document = dict[str, Any]


class NullStore:
    def __init__(self) -> None:
        self.rows = 0

    def prepare(self, retention_days: int) -> None:
        return None

    def insert_readings(self, docs: Sequence[Document]) -> list[bool]:
        self.rows += len(docs)
        return [True] * len(docs)

    def update_devices(self, writes: Sequence[DeviceWrite]) -> None:
        return None

    def apply(self, write: DeviceWrite, *, upsert: bool) -> bool:
        return True

    def quarantine(self, records: Sequence[Document]) -> None:
        return None

    def known_devices(self, device_uuids: Iterable[str]) -> set[str]:
        return set(device_uuids)

    def readings(self, reading_ids: Sequence[str]) -> list[Document]:
        return []

    def outbox_add(self, entry: OutboxEntry) -> None:
        return None

    def outbox_due(self, older_than: datetime, not_owner: str, limit: int) -> list[OutboxEntry]:
        return []

    def outbox_remove(self, batch_ids: Sequence[str]) -> None:
        return None

    def outbox_count(self, cap: int) -> int:
        return 0

    def ping(self) -> bool:
        return True
