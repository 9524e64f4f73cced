"""The commander's view of the shared `commands` document, config documents, `command.status`
events. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from msm_common.contracts.command_document import (
    CONFIG_TYPES,
    EVENT_PENDING,
    Document,
    history_entry,
    new_document,
    transition,
)
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import DeviceCommand, validate_params
from msm_common.contracts.timeparse import EPOCH, format_timestamp

from msm_commander.domain.state_machine import CommandView, Status

__all__ = [
    "CONFIG_TYPES",
    "DEVICE_FLAGS",
    "EVENT_PENDING",
    "Document",
    "config_document",
    "device_payload",
    "from_request",
    "history_entry",
    "is_online",
    "malformed",
    "send_update",
    "status_event_data",
    "status_event_id",
    "transition",
    "view",
]
# A succeeded mqtt/sftp command is also recorded in a flag on the device document.
DEVICE_FLAGS: Final[Mapping[str, str]] = {"mqtt": "mqtt_status", "sftp": "sftp_status"}


def is_online(device: Mapping[str, Any] | None) -> bool:
    """Connectivity as ingest records it; a device never seen connecting counts as online."""
    if device is None:
        return True
    return (device.get("connectivity") or {}).get("connected") is not False


def view(doc: Mapping[str, Any], default_expiry: timedelta) -> CommandView:
    """The state machine's view of a stored command (a missing expiry gets the default)."""
    # A document without any timestamp is not one the API wrote: it sorts first and expires.
    created = doc.get("created_at") or doc.get("updated_at") or EPOCH
    return CommandView(
        command_id=str(doc["_id"]),
        type=str(doc.get("type")),
        status=Status(doc["status"]),
        created_at=created,
        expires_at=doc.get("expires_at") or created + default_expiry,
        attempts=int(doc.get("attempts") or 0),
        deadline_at=doc.get("deadline_at"),
        sent_at=doc.get("sent_at"),
    )


def from_request(request: CommandRequest, now: datetime, status: Status, reason: str) -> Document:
    """A command document for a request nobody stored first (queued, or rejected at once)."""
    return new_document(
        command_id=request.command_id,
        device_uuid=request.device_uuid,
        type_=request.type.value,
        params=request.params,
        requested_by=request.requested_by,
        created_at=request.requested_at,
        expires_at=request.expires_at,
        now=now,
        status=status,
        reason=reason,
        idempotency_key=request.idempotency_key,
    )


def malformed(command_id: str, device_uuid: str, reason: str, now: datetime) -> Document:
    """What is kept of a request that could not be read: its id, device and why it was refused."""
    return new_document(
        command_id=command_id,
        device_uuid=device_uuid,
        type_=None,
        params={},
        requested_by=None,
        created_at=now,
        expires_at=now,
        now=now,
        status=Status.REJECTED,
        reason=reason,
    )


def send_update(
    type_: str, reason: str, now: datetime, deadline_at: datetime, attempts: int
) -> Document:
    """queued -> sent or a resend: one more attempt, a new deadline."""
    update = transition(
        type_,
        Status.SENT,
        reason,
        now,
        attempts=attempts + 1,
        set_={"sent_at": now, "deadline_at": deadline_at},
    )
    update["$inc"] = {"attempts": 1}
    return update


def device_payload(doc: Mapping[str, Any], default_expiry: timedelta) -> bytes:
    """The bytes the meter receives; raises ContractError/ValueError for unusable parameters."""
    cmd = view(doc, default_expiry)
    return DeviceCommand(
        command_id=cmd.command_id,
        type=cmd.type,  # type: ignore[arg-type]  # validated by the model
        issued_at=cmd.created_at,
        expires_at=cmd.expires_at,
        params=validate_params(cmd.type, doc.get("params") or {}),
    ).to_payload()


def config_document(doc: Mapping[str, Any], now: datetime) -> Document:
    """A device's current config after `doc` succeeded (secrets kept: re-sync needs them)."""
    return {
        "device_uuid": doc["device_uuid"],
        **dict(doc.get("params") or {}),
        "updated_at": now,
        "command_id": doc["_id"],
    }


def status_event_data(doc: Mapping[str, Any], index: int) -> Document:
    """`command.status` data for history entry `index` of a stored command."""
    history = doc.get("history") or []
    entry = history[index]
    return {
        "command_id": doc["_id"],
        "device_uuid": doc.get("device_uuid"),
        "type": doc.get("type"),
        "status": entry.get("status"),
        "previous": history[index - 1].get("status") if index > 0 else None,
        "reason": entry.get("reason"),
        "at": format_timestamp(entry["at"]),
        "attempts": entry.get("attempts", doc.get("attempts", 0)),
    }


def status_event_id(command_id: str, index: int) -> str:
    """Deterministic per transition, so consumers can drop a republished duplicate."""
    return f"{command_id}:{index}"
