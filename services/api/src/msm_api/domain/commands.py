"""The `commands` document as the API creates, shows and cancels it (msm_common's model)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

from msm_common.contracts import command_document as cd
from msm_common.contracts.command_document import ACTIVE_VALUES, CommandStatus
from msm_common.contracts.commands import CommandType

from msm_api.domain.redact import redact

QUEUED: Final = CommandStatus.QUEUED
IN_FLIGHT: Final = ACTIVE_VALUES


def new_command_id() -> str:
    return uuid.uuid4().hex


def request_digest(secret: bytes, device_uuid: str, type_: str, params: dict[str, Any]) -> str:
    """Fingerprint of a request, to tell a replay from a reused Idempotency-Key (keyed: no leak)."""
    body = json.dumps([device_uuid, type_, params], sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def new_command(
    *,
    command_id: str,
    device_uuid: str,
    type_: CommandType,
    params: dict[str, Any],
    requested_by: str,
    now: datetime,
    ttl: timedelta,
    idempotency_key: str | None,
    digest: str,
) -> dict[str, Any]:
    """A queued command as the API stores it (the commander announces its later transitions)."""
    doc = cd.new_document(
        command_id=command_id,
        device_uuid=device_uuid,
        type_=type_.value,
        params=params,
        requested_by=requested_by,
        created_at=now,
        expires_at=now + ttl,
        now=now,
        idempotency_key=idempotency_key,
        announce=False,
        history_attempts=None,
    )
    doc["request_digest"] = digest
    return doc


def cancel_update(type_: str, actor: str, now: datetime) -> dict[str, Any]:
    """Queued -> cancelled, recorded in history; the secrets go with it."""
    return cd.transition(
        type_,
        CommandStatus.CANCELLED,
        f"cancelled by {actor}",
        now,
        current=CommandStatus.QUEUED,
        announce=False,
    )


def unpublished_update(type_: str, reason: str, now: datetime) -> dict[str, Any]:
    """Queued -> failed: RabbitMQ never confirmed it; its key is freed for a retry."""
    return cd.transition(
        type_,
        CommandStatus.FAILED,
        reason,
        now,
        current=CommandStatus.QUEUED,
        unset=("idempotency_key",),
        announce=False,
    )


def public_command(doc: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a command: never its secrets nor internal bookkeeping."""
    out = {
        "command_id": doc["_id"],
        "device_uuid": doc.get("device_uuid"),
        "type": doc.get("type"),
        "params": redact(str(doc.get("type")), doc.get("params") or {}, purged=True),
        "status": doc.get("status"),
        "history": doc.get("history") or [],
        "attempts": doc.get("attempts", 0),
        "requested_by": doc.get("requested_by"),
    }
    for name in ("created_at", "updated_at", "expires_at", "sent_at", "deadline_at", "ack"):
        out[name] = doc.get(name)
    if "idempotency_key" in doc:
        out["idempotency_key"] = doc["idempotency_key"]
    return out
