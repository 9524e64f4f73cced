"""What the handlers, the scheduler and the ticker need from the commander's database.

`adapters.store.MongoStore` is the real one; tests use an in-memory fake behind the same
Protocol. Every write is guarded on the state `doc` was read in: False means someone moved first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from msm_commander.domain.documents import Document


class AlreadyInFlight(Exception):
    """The device already has a `sent` command: this one stays queued."""


class CommandStore(Protocol):
    def ensure_indexes(self, telemetry_retention_days: int) -> None: ...

    # -- reads --------------------------------------------------------------------------------
    def get(self, command_id: str) -> Document | None: ...

    def device(self, device_uuid: str) -> Document | None:
        """The device's `connectivity` and `status`; None for a device nobody registered."""
        ...

    def active(self, device_uuid: str) -> list[Document]:
        """The device's queued and sent commands, oldest first."""
        ...

    def by_idempotency_key(self, key: str) -> Document | None: ...

    # -- guarded writes -----------------------------------------------------------------------
    def apply(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        """Apply `update` if the command is still as read in `doc`."""
        ...

    def claim(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        """queued -> sent; raises AlreadyInFlight if the device has a sent command already."""
        ...

    def extend_deadline(
        self, doc: Mapping[str, Any], deadline_at: datetime, now: datetime
    ) -> bool: ...

    def record_ack(
        self, command_id: str, ack: Mapping[str, Any], deadline_at: datetime
    ) -> bool: ...

    def insert(self, doc: Document) -> str | None:
        """None if stored, else the unique key that refused it ("_id" or "idempotency_key")."""
        ...

    def apply_config(self, doc: Mapping[str, Any], now: datetime) -> None:
        """Make a succeeded config command's parameters the device's current config."""
        ...

    # -- the ticker's queries -----------------------------------------------------------------
    def devices_past_deadline(self, now: datetime, limit: int) -> set[str]: ...

    def devices_with_expired(self, now: datetime, limit: int) -> set[str]: ...

    def queued_page(
        self, after: tuple[datetime, str] | None, before: datetime, limit: int
    ) -> list[Document]: ...

    def stalled(self, device_uuids: Iterable[str]) -> set[str]: ...

    def pending_events(self, before: datetime, limit: int) -> list[Document]: ...

    def mark_events_published(self, marks: Iterable[tuple[str, int]]) -> None: ...

    def count_in_flight(self) -> int: ...
