"""One handler per message type, dependencies passed in; the registry maps type -> handler.

Every handler ends by scheduling the device, so a redelivered message (after a crash between
its writes and its acknowledgement) also finishes whatever the first delivery left half done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from msm_common.contracts.acks import CommandAck
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.errors import ContractError
from msm_common.identifiers import is_command_id, is_thing_name

from msm_commander.domain import documents
from msm_commander.domain.messages import PresenceChanged
from msm_commander.domain.state_machine import (
    RetryPolicy,
    Status,
    ack_outcome,
    match_legacy_ack,
)
from msm_commander.metrics import CommanderMetrics
from msm_commander.ports import CommandStore
from msm_commander.scheduler import UNKNOWN_DEVICE, Scheduler

log = logging.getLogger(__name__)
_ACK_REASONS: Final[Mapping[Status, str]] = {
    Status.SUCCEEDED: "acknowledged by the device",
    Status.FAILED: "the device reported a failure",
    Status.REJECTED: "the device rejected the command",
}


@dataclass
class Deps:
    store: CommandStore
    scheduler: Scheduler
    policy: RetryPolicy
    allow_unknown: bool
    default_expiry: timedelta

    @property
    def metrics(self) -> CommanderMetrics:
        return self.scheduler.metrics

    def now(self) -> datetime:
        return self.scheduler.clock()


# -- command requests ---------------------------------------------------------------------------
def handle_request(d: Deps, request: CommandRequest) -> None:
    """Store the request if nobody did (rejecting what cannot be delivered), then schedule."""
    active = d.store.active(request.device_uuid)
    if any(doc["_id"] == request.command_id for doc in active):  # the usual case: the API's
        d.metrics.requests.labels("stored_by_api").inc()
        d.scheduler.schedule(request.device_uuid, active=active)
        return
    doc = d.store.get(request.command_id)
    device_uuid = request.device_uuid
    if doc is None:
        d.metrics.requests.labels(_store_request(d, request)).inc()
    else:  # already finished (a redelivery), or filed under another device
        d.metrics.requests.labels("stored_by_api").inc()
        device_uuid = str(doc.get("device_uuid") or device_uuid)
    d.scheduler.schedule(device_uuid)


def _store_request(d: Deps, request: CommandRequest) -> str:
    now = d.now()
    known = d.allow_unknown or d.store.device(request.device_uuid) is not None
    status, reason = (Status.QUEUED, "requested") if known else (Status.REJECTED, UNKNOWN_DEVICE)
    doc = documents.from_request(request, now, status, reason)
    refused = d.store.insert(doc)
    if refused == "idempotency_key" and request.idempotency_key is not None:
        holder = d.store.by_idempotency_key(request.idempotency_key) or {"_id": "?"}
        status = Status.REJECTED
        reason = f"duplicate_idempotency_key: already used by command {holder['_id']}"
        doc = documents.from_request(request, now, status, reason)
        refused = d.store.insert(doc)
    if refused is not None:
        return "already_stored"  # a concurrent delivery stored it first
    d.scheduler.events.publish(doc, [0])
    if status is Status.REJECTED:
        d.metrics.finished.labels(request.type.value, status.value).inc()
        log.info(
            "command %s rejected: %s",
            request.command_id,
            reason,
            extra={"command_id": request.command_id, "device_uuid": request.device_uuid},
        )
        return "rejected"
    return "stored"


def handle_malformed_request(d: Deps, body: bytes, error: ContractError) -> None:
    """Give an identifiable but unreadable request a final state; the message is dead-lettered."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(obj, dict):
        return
    command_id, device_uuid = obj.get("command_id"), obj.get("device_uuid")
    if not (isinstance(command_id, str) and isinstance(device_uuid, str)):
        return
    if not (is_command_id(command_id) and is_thing_name(device_uuid)):
        return
    reason = f"malformed_request: {error.detail}"
    now = d.now()
    doc = d.store.get(command_id)
    if doc is None:
        new = documents.malformed(command_id, device_uuid, reason, now)
        if d.store.insert(new) is None:
            d.scheduler.events.publish(new, [0])
            d.metrics.finished.labels("unknown", Status.REJECTED.value).inc()
    elif doc.get("status") == Status.QUEUED.value:
        d.scheduler.finish(doc, Status.REJECTED, reason, now)


# -- acknowledgements -----------------------------------------------------------------------------
def handle_ack(d: Deps, ack: CommandAck) -> None:
    d.metrics.acks.labels(ack.status.value, _ack(d, ack)).inc()
    # It just spoke, so it is connected: its next command can go at once. A fresh read: a
    # request that arrived meanwhile saw this command in flight and left the next send to us.
    d.scheduler.schedule(ack.device_uuid, online=True)


def _answered(d: Deps, ack: CommandAck) -> dict[str, Any] | None:
    """The command an ack answers: by its id, or (old firmware) the oldest in flight."""
    if ack.command_id is not None:
        doc = d.store.get(ack.command_id)
        return doc if doc is not None and doc.get("device_uuid") == ack.device_uuid else None
    docs = d.store.active(ack.device_uuid)
    views = [documents.view(doc, d.default_expiry) for doc in docs]
    command_id = match_legacy_ack(views, ack.command_type.value)
    return next((x for x in docs if x["_id"] == command_id), None)


def _ack(d: Deps, ack: CommandAck) -> str:
    """Apply the ack to the command it answers; returns what became of it."""
    doc = _answered(d, ack)
    if doc is None:
        return "unmatched"  # no such command for this device, or nothing in flight (legacy)
    if doc["status"] != Status.SENT.value or doc.get("type") != ack.command_type.value:
        return "not_in_flight"  # a duplicate, or a late ack for a finished command
    now = d.now()
    record = {"status": ack.status.value, "message": ack.message, "at": ack.received_at}
    target = ack_outcome(ack.status)
    if target is None:  # in_progress: a fresh ack window for the same attempt
        window = d.policy.ack_window(int(doc.get("attempts") or 1))
        d.store.record_ack(str(doc["_id"]), record, now + window)
        return "in_progress"
    if target is Status.SUCCEEDED and doc.get("type") in documents.CONFIG_TYPES:
        # Before the transition: it purges the secrets the config document keeps.
        d.store.apply_config(doc, now)
    reason = ack.message or _ACK_REASONS[target]
    if not d.scheduler.finish(doc, target, reason, now, set_={"ack": record}):
        return "raced"
    sent_at = doc.get("sent_at")
    if sent_at is not None:
        latency = max((now - sent_at).total_seconds(), 0.0)
        d.metrics.ack_latency.labels(str(doc.get("type"))).observe(latency)
    return target.value


# -- presence -------------------------------------------------------------------------------------
def handle_presence(d: Deps, presence: PresenceChanged) -> None:
    """A device connected: send what waits for it (what went to its old session, again)."""
    if not presence.connected:
        return  # what is queued stays queued; a sent command is held at its deadline
    device = d.store.device(presence.device_uuid) or {}
    stored = device.get("connectivity") or {}
    newer = stored.get("timestamp") or stored.get("since")
    if stored.get("connected") is False and newer is not None and newer > presence.timestamp:
        return  # an old event: the device has disconnected since
    d.scheduler.schedule(presence.device_uuid, online=True, reconnected_at=presence.timestamp)


Handler = Callable[[Deps, Any], None]
HANDLERS: Final[Mapping[type, Handler]] = {
    CommandRequest: handle_request,
    CommandAck: handle_ack,
    PresenceChanged: handle_presence,
}


def dispatch(d: Deps, message: object) -> None:
    HANDLERS[type(message)](d, message)
