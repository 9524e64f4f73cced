"""An in-memory `msm_api.ports.ApiStore`: devices, commands and config documents in dicts."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msm_api.domain import commands as dc
from msm_api.ports import Key
from support.mongo_update import apply_update

Document = dict[str, Any]


@dataclass
class InMemoryApiStore:
    devices: dict[str, Document] = field(default_factory=dict)
    commands: dict[str, Document] = field(default_factory=dict)
    configs: dict[str, dict[str, Document]] = field(default_factory=dict)

    def device(self, device_uuid: str) -> Document | None:
        return copy.deepcopy(self.devices.get(device_uuid))

    def devices_page(
        self, after: str | None, limit: int, *, online: bool | None = None, text: str | None = None
    ) -> list[Document]:
        def keep(d: Document) -> bool:
            connected = (d.get("connectivity") or {}).get("connected") is True
            found = text is None or any(
                text.lower() in str(d.get(f, "")).lower() for f in ("_id", "device_imei")
            )
            return (after is None or d["_id"] > after) and online in (None, connected) and found

        docs = sorted((d for d in self.devices.values() if keep(d)), key=lambda d: d["_id"])
        return copy.deepcopy(docs[:limit])

    def device_commands(
        self, device_uuid: str, before: Key | None, limit: int, *, status: str | None = None
    ) -> list[Document]:
        docs = sorted(
            (
                d
                for d in self.commands.values()
                if d["device_uuid"] == device_uuid
                and (status is None or d["status"] == status)
                and (before is None or (d["created_at"], d["_id"]) < before)
            ),
            key=lambda d: (d["created_at"], d["_id"]),
            reverse=True,
        )
        return copy.deepcopy(docs[:limit])

    def in_flight_commands(self, device_uuid: str, limit: int) -> list[Document]:
        docs = [
            d
            for d in self.commands.values()
            if d["device_uuid"] == device_uuid and d["status"] in dc.IN_FLIGHT
        ]
        return copy.deepcopy(sorted(docs, key=lambda d: d["created_at"])[:limit])

    def command(self, command_id: str) -> Document | None:
        return copy.deepcopy(self.commands.get(command_id))

    def command_by_idempotency_key(self, key: str) -> Document | None:
        found = (d for d in self.commands.values() if d.get("idempotency_key") == key)
        return copy.deepcopy(next(found, None))

    def insert_command(self, doc: Document) -> bool:
        key = doc.get("idempotency_key")
        if doc["_id"] in self.commands or (
            key is not None and self.command_by_idempotency_key(key) is not None
        ):
            return False
        self.commands[doc["_id"]] = copy.deepcopy(doc)
        return True

    def update_if_queued(self, command_id: str, update: Mapping[str, Any]) -> Document | None:
        doc = self.commands.get(command_id)
        if doc is None or doc["status"] != dc.QUEUED:
            return None
        apply_update(doc, update)
        return copy.deepcopy(doc)

    def config(self, kind: str, device_uuid: str) -> Document | None:
        return copy.deepcopy(self.configs.get(kind, {}).get(device_uuid))

    def configs_page(self, kind: str, after: str | None, limit: int) -> list[Document]:
        docs = sorted(self.configs.get(kind, {}).values(), key=lambda d: d["device_uuid"])
        return copy.deepcopy([d for d in docs if after is None or d["device_uuid"] > after][:limit])

    def latest_commands(self, kind: str, device_uuids: list[str]) -> dict[str, Document]:
        newest: dict[str, Document] = {}
        for d in sorted(self.commands.values(), key=lambda d: d["created_at"]):
            if d.get("type") == kind and d["device_uuid"] in device_uuids:
                newest[d["device_uuid"]] = {
                    "command_id": d["_id"],
                    "status": d["status"],
                    "created_at": d["created_at"],
                    "updated_at": d["updated_at"],
                }
        return newest
