"""The `commands` document, its updates, config documents and `command.status` events. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import DeviceCommand, secret_fields, validate_params
from msm_common.contracts.timeparse import EPOCH, format_timestamp

from msm_commander.domain.state_machine import FINAL, CommandView, Status

Document = dict[str, Any]
# Config commands whose success is recorded in the device's config document of the same name.
CONFIG_TYPES: Final = frozenset({"ntp", "mqtt", "sftp"})
# ... and in a flag on the device document.
DEVICE_FLAGS: Final[Mapping[str, str]] = {"mqtt": "mqtt_status", "sftp": "sftp_status"}
# Set on every transition, cleared once its command.status event is confirmed (the outbox flag).
EVENT_PENDING: Final = "event_pending"


def history_entry(status: Status, at: datetime, reason: str, attempts: int) -> Document:
    return {"status": status.value, "at": at, "reason": reason, "attempts": attempts}


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
    params = request.params
    if status in FINAL:
        params = _without_secrets(request.type.value, params)
    doc: Document = {
        "_id": request.command_id,
        "device_uuid": request.device_uuid,
        "type": request.type.value,
        "params": params,
        "status": status.value,
        "history": [history_entry(status, now, reason, 0)],
        "attempts": 0,
        "created_at": request.requested_at,
        "updated_at": now,
        "expires_at": request.expires_at,
        "requested_by": request.requested_by,
        EVENT_PENDING: True,
    }
    if request.idempotency_key is not None and status is Status.QUEUED:
        doc["idempotency_key"] = request.idempotency_key
    return doc


def malformed(command_id: str, device_uuid: str, reason: str, now: datetime) -> Document:
    """What is kept of a request that could not be read: its id, device and why it was refused."""
    return {
        "_id": command_id,
        "device_uuid": device_uuid,
        "type": None,
        "params": {},
        "status": Status.REJECTED.value,
        "history": [history_entry(Status.REJECTED, now, reason, 0)],
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "expires_at": now,
        "requested_by": None,
        EVENT_PENDING: True,
    }


def _without_secrets(type_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    hidden = secret_fields(type_) if type_ in CONFIG_TYPES else frozenset()
    return {k: v for k, v in params.items() if k not in hidden}


def transition(
    type_: str,
    target: Status,
    reason: str,
    now: datetime,
    *,
    attempts: int,
    set_: Mapping[str, Any] | None = None,
) -> Document:
    """The update for one transition: status, history, the outbox flag; secrets go when final.

    `attempts` is the count after this transition (a send increments it in the same update).
    """
    fields: Document = {"status": target.value, "updated_at": now, EVENT_PENDING: True}
    fields.update(set_ or {})
    update: Document = {
        "$set": fields,
        "$push": {"history": history_entry(target, now, reason, attempts)},
    }
    if target in FINAL and type_ in CONFIG_TYPES:
        hidden = secret_fields(type_)
        if hidden:
            update["$unset"] = {f"params.{name}": "" for name in sorted(hidden)}
    return update


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
