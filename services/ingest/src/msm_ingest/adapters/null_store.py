"""A store that keeps nothing: the benchmark's pipeline ceiling (never used in production)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from msm_ingest.domain.devices import DeviceWrite
from msm_ingest.domain.events import OutEvent

Document = dict[str, Any]


class NullStore:
    def __init__(self) -> None:
        self.rows = 0

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

    def mark_processed(self, reading_ids: Sequence[str]) -> None:
        return None

    def unprocessed(self, limit: int) -> list[Document]:
        return []

    def outbox_add(self, events: Sequence[OutEvent], now: datetime) -> None:
        return None

    def outbox_due(self, limit: int) -> list[OutEvent]:
        return []

    def outbox_remove(self, event_ids: Sequence[str]) -> None:
        return None

    def count_pending(self, cap: int) -> int:
        return 0

    def ping(self) -> bool:
        return True
