"""In-memory stand-ins for the commander's ports: a store, a broker side, an event sink.

`InMemoryStore` implements `msm_commander.ports.CommandStore` with the real store's guarantees
that the scheduler relies on: a write is guarded on the state it was read in (status, attempts,
history length), one `sent` command per device, unique `_id` and idempotency key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from msm_commander.domain.documents import (
    DEVICE_FLAGS,
    EVENT_PENDING,
    Document,
    config_document,
    is_online,
)
from msm_commander.domain.state_machine import FINAL_VALUES, Status
from msm_commander.ports import AlreadyInFlight
from msm_common.secrets import SecretBox
from support.mongo_update import apply_update

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class InMemoryStore:
    """The commander's store in dictionaries: `commands`, `devices`, `configs[kind][device]`."""

    commands: dict[str, Document] = field(default_factory=dict)
    devices: dict[str, Document] = field(default_factory=dict)
    configs: dict[str, dict[str, Document]] = field(default_factory=dict)
    published_marks: list[tuple[str, int]] = field(default_factory=list)

    def ensure_indexes(self, telemetry_retention_days: int) -> None:
        pass

    def add_device(self, device_uuid: str, *, connected: bool | None = None, **fields: Any) -> None:
        doc: Document = {"_id": device_uuid, **fields}
        if connected is not None:
            doc["connectivity"] = {"connected": connected, "timestamp": NOW}
        self.devices[device_uuid] = doc

    # -- reads --------------------------------------------------------------------------------
    def get(self, command_id: str) -> Document | None:
        doc = self.commands.get(command_id)
        return copy.deepcopy(doc) if doc is not None else None

    def device(self, device_uuid: str) -> Document | None:
        doc = self.devices.get(device_uuid)
        return copy.deepcopy(doc) if doc is not None else None

    def active(self, device_uuid: str) -> list[Document]:
        docs = [
            d
            for d in self.commands.values()
            if d["device_uuid"] == device_uuid and d["status"] in (Status.QUEUED, Status.SENT)
        ]
        return copy.deepcopy(sorted(docs, key=lambda d: (d["created_at"], d["_id"])))

    def by_idempotency_key(self, key: str) -> Document | None:
        found = (d for d in self.commands.values() if d.get("idempotency_key") == key)
        doc = next(found, None)
        return {"_id": doc["_id"]} if doc is not None else None

    # -- guarded writes -----------------------------------------------------------------------
    def _as_read(self, doc: Mapping[str, Any]) -> Document | None:
        stored = self.commands.get(str(doc["_id"]))
        if stored is None or stored["status"] != doc["status"]:
            return None
        if stored.get("attempts", 0) != doc.get("attempts", 0):
            return None
        if len(stored.get("history") or []) != len(doc.get("history") or []):
            return None
        return stored

    def apply(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        stored = self._as_read(doc)
        if stored is None:
            return False
        apply_update(stored, update)
        return True

    def claim(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        device_uuid = doc.get("device_uuid")
        if any(
            d["device_uuid"] == device_uuid and d["status"] == Status.SENT
            for d in self.commands.values()
        ):
            raise AlreadyInFlight(str(device_uuid))
        return self.apply(doc, update)

    def extend_deadline(self, doc: Mapping[str, Any], deadline_at: datetime, now: datetime) -> bool:
        stored = self.commands.get(str(doc["_id"]))
        if stored is None or stored["status"] != Status.SENT:
            return False
        if stored.get("attempts", 0) != doc.get("attempts", 0):
            return False
        stored["deadline_at"] = deadline_at
        return True

    def record_ack(self, command_id: str, ack: Mapping[str, Any], deadline_at: datetime) -> bool:
        stored = self.commands.get(command_id)
        if stored is None or stored["status"] != Status.SENT:
            return False
        stored.update({"ack": dict(ack), "deadline_at": deadline_at})
        return True

    def insert(self, doc: Document) -> str | None:
        if doc["_id"] in self.commands:
            return "_id"
        key = doc.get("idempotency_key")
        if key is not None and self.by_idempotency_key(key) is not None:
            return "idempotency_key"
        self.commands[str(doc["_id"])] = copy.deepcopy(doc)
        return None

    def apply_config(self, doc: Mapping[str, Any], now: datetime) -> None:
        kind, device_uuid = str(doc["type"]), str(doc["device_uuid"])
        self.configs.setdefault(kind, {})[device_uuid] = config_document(doc, now)
        flag = DEVICE_FLAGS.get(kind)
        if flag is not None and device_uuid in self.devices:
            self.devices[device_uuid].update({flag: True, "updatedAt": now})

    # -- the ticker's queries -----------------------------------------------------------------
    def _with(self, status: Status) -> list[Document]:
        return [d for d in self.commands.values() if d["status"] == status]

    def devices_past_deadline(self, now: datetime, limit: int) -> set[str]:
        due = [
            d["device_uuid"]
            for d in self._with(Status.SENT)
            if d.get("deadline_at") is None or d["deadline_at"] <= now
        ]
        return set(due[:limit])

    def devices_with_expired(self, now: datetime, limit: int) -> set[str]:
        expired = [d["device_uuid"] for d in self._with(Status.QUEUED) if d["expires_at"] <= now]
        return set(expired[:limit])

    def queued_page(
        self, after: tuple[datetime, str] | None, before: datetime, limit: int
    ) -> list[Document]:
        docs = sorted(
            (d for d in self._with(Status.QUEUED) if d["updated_at"] <= before),
            key=lambda d: (d["updated_at"], d["_id"]),
        )
        if after is not None:
            docs = [d for d in docs if (d["updated_at"], d["_id"]) > after]
        return copy.deepcopy(docs[:limit])

    def stalled(self, device_uuids: Iterable[str]) -> set[str]:
        busy = {d["device_uuid"] for d in self._with(Status.SENT)}
        return {u for u in device_uuids if is_online(self.devices.get(u)) and u not in busy}

    def pending_events(self, before: datetime, limit: int) -> list[Document]:
        docs = [
            d
            for d in self.commands.values()
            if d.get(EVENT_PENDING) and d["status"] in FINAL_VALUES and d["updated_at"] <= before
        ]
        return copy.deepcopy(docs[:limit])

    def mark_events_published(self, marks: Iterable[tuple[str, int]]) -> None:
        for command_id, index in marks:
            stored = self.commands.get(command_id)
            if stored is not None and len(stored.get("history") or []) == index + 1:
                stored.pop(EVENT_PENDING, None)
                self.published_marks.append((command_id, index))

    def count_in_flight(self) -> int:
        return len(self._with(Status.SENT))


@dataclass
class RecordingSender:
    """The broker side: records what was sent; `connected` and `accepts` are switches."""

    connected: bool = True
    accepts: bool = True
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def send(self, topic: str, payload: bytes) -> bool:
        if not self.accepts:
            return False
        self.sent.append((topic, payload))
        return True


@dataclass
class RecordingEvents:
    """`command.status` events as (command_id, status, reason), in publication order."""

    published: list[tuple[str, str, str]] = field(default_factory=list)

    def publish(self, doc: Mapping[str, Any], indexes: Iterable[int]) -> None:
        history = doc.get("history") or []
        for index in indexes:
            entry = history[index]
            self.published.append((str(doc["_id"]), entry["status"], entry["reason"]))

    def statuses(self, command_id: str) -> list[str]:
        return [status for cid, status, _ in self.published if cid == command_id]


class MemoryKeyring:
    """A `msm_common.secrets.Keyring` with one key held in memory."""

    def __init__(self) -> None:
        self._fernet = Fernet(Fernet.generate_key())

    def current(self) -> tuple[str, Fernet]:
        return "memory", self._fernet

    def opener(self, ref: str) -> Fernet | MultiFernet:
        return self._fernet


def secret_box() -> SecretBox:
    return SecretBox(MemoryKeyring())
