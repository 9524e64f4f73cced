"""What the device, command and config views need from the database.

`adapters.store.MongoApiStore` is the real one; unit tests use an in-memory fake behind the
same Protocol. (Telemetry pages and the auth side still read MongoDB directly.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

Document = dict[str, Any]
Key = tuple[datetime, str]  # (created_at, _id): a position in a newest-first page


class ApiStore(Protocol):
    # -- devices ------------------------------------------------------------------------------
    def device(self, device_uuid: str) -> Document | None: ...

    def devices_page(
        self, after: str | None, limit: int, *, online: bool | None = None, text: str | None = None
    ) -> list[Document]:
        """Devices by `_id` after `after` (online or not; `text` in the uuid or IMEI, any case),
        at most `limit`, each with its `latest` readings."""
        ...

    def device_commands(
        self, device_uuid: str, before: Key | None, limit: int, *, status: str | None = None
    ) -> list[Document]:
        """The device's commands newest first, (created_at, `_id`) before `before`."""
        ...

    def in_flight_commands(self, device_uuid: str, limit: int) -> list[Document]:
        """The device's queued and sent commands, oldest first (`_id`, type, status, created_at)."""
        ...

    def latest_readings(self, device_uuid: str, latest: Mapping[str, Any]) -> Document:
        """The device document's `latest`, with what telemetry holds that is newer."""
        ...

    # -- commands -----------------------------------------------------------------------------
    def command(self, command_id: str) -> Document | None: ...

    def command_by_idempotency_key(self, key: str) -> Document | None: ...

    def insert_command(self, doc: Document) -> bool:
        """False if a command with the same idempotency key (or id) is stored already."""
        ...

    def update_if_queued(self, command_id: str, update: Mapping[str, Any]) -> Document | None:
        """Apply `update` to a command still queued; the command after it, else None."""
        ...

    # -- configs ------------------------------------------------------------------------------
    def config(self, kind: str, device_uuid: str) -> Document | None: ...

    def configs_page(self, kind: str, after: str | None, limit: int) -> list[Document]:
        """Config documents of `kind` by device_uuid, after `after`; at most `limit`."""
        ...

    def latest_commands(self, kind: str, device_uuids: list[str]) -> dict[str, Document]:
        """The newest command of `kind` per device: command_id, status, created_at, updated_at."""
        ...
