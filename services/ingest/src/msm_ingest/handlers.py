"""One handler per message type, in an explicit registry; each adds its work to the batch plan.

Parsing and validation are the shared contracts' (`parse_device_message`); a message that fails
them, or comes from an unknown device when known devices are required, is quarantined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from msm_common.contracts import (
    CloudCommandEcho,
    CommandAck,
    ContractError,
    DeviceInfoMessage,
    PresenceEvent,
    TelemetryMessage,
    is_thing_name,
)
from msm_common.device_messages import DeviceMessage, parse_device_message

from msm_ingest.domain import batch
from msm_ingest.domain.batch import BatchPlan
from msm_ingest.domain.events import message_event_id
from msm_ingest.domain.quarantine import UNKNOWN_DEVICE, quarantine_record
from msm_ingest.ports import Delivery

Plan = BatchPlan[Delivery]


@dataclass(frozen=True)
class HandlerContext:
    """What handlers need besides the message: the device directory and quarantine limits."""

    known_devices: frozenset[str] | None = None  # None: telemetry from any device is accepted
    payload_cap: int = 4096


def kind_of(topic: str) -> str:
    """The metrics `kind` of a topic, from a small fixed set (labels stay bounded)."""
    if topic.startswith("msm/"):
        tail = topic.rsplit("/", 1)[-1]
        if tail == "telemetry":
            return batch.TELEMETRY
        if tail == "device_info":
            return batch.DEVICE_INFO
        if tail in ("reboot", "ntp", "mqtt", "sftp"):
            return batch.COMMAND_ACK
    elif topic.startswith("$aws/events/presence/"):
        return batch.PRESENCE
    return batch.UNKNOWN


def reject(
    plan: Plan, d: Delivery, ctx: HandlerContext, reason: str, detail: str, *, kind: str = ""
) -> None:
    record = quarantine_record(
        topic=d.topic,
        payload=d.payload,
        reason=reason,
        detail=detail,
        received_at=d.received_at,
        source=d.source,
        payload_cap=ctx.payload_cap,
    )
    plan.reject(record, d, kind or kind_of(d.topic))


def parse(d: Delivery) -> DeviceMessage | ContractError:
    """The typed message, or the contract error that says why there is none."""
    try:
        return parse_device_message(d.topic, d.payload, received_at=d.received_at)
    except ContractError as exc:
        return exc


def _unknown(ctx: HandlerContext, device_uuid: str) -> bool:
    return ctx.known_devices is not None and device_uuid not in ctx.known_devices


def on_telemetry(msg: TelemetryMessage, d: Delivery, plan: Plan, ctx: HandlerContext) -> None:
    if _unknown(ctx, msg.device_uuid):
        detail = f"device {msg.device_uuid!r} is not registered"
        reject(plan, d, ctx, UNKNOWN_DEVICE, detail, kind=batch.TELEMETRY)
        return
    plan.add_readings(msg.device_uuid, msg.readings, d.received_at, d)


def on_device_info(msg: DeviceInfoMessage, d: Delivery, plan: Plan, ctx: HandlerContext) -> None:
    if _unknown(ctx, msg.device_uuid):
        detail = f"device {msg.device_uuid!r} is not registered"
        reject(plan, d, ctx, UNKNOWN_DEVICE, detail, kind=batch.DEVICE_INFO)
        return
    plan.infos.append((msg, d, message_event_id(d.topic, d.payload)))


def on_command_ack(msg: CommandAck, d: Delivery, plan: Plan, ctx: HandlerContext) -> None:
    plan.command_acks.append((msg, d, message_event_id(d.topic, d.payload)))


def on_cloud_echo(msg: CloudCommandEcho, d: Delivery, plan: Plan, ctx: HandlerContext) -> None:
    # The backend's own command, seen because commands and acks share a topic.
    plan.skip(d, batch.COMMAND_ECHO)


def on_presence(msg: PresenceEvent, d: Delivery, plan: Plan, ctx: HandlerContext) -> None:
    # Lifecycle events also come for service clients (ids that are not thing names): skip them.
    if not is_thing_name(msg.client_id):
        plan.skip(d, batch.PRESENCE, "not_a_device")
        return
    plan.presences.append((msg, d, message_event_id(d.topic, d.payload)))


Handler = Callable[[Any, Delivery, Plan, HandlerContext], None]

HANDLERS: Mapping[type, Handler] = {
    TelemetryMessage: on_telemetry,
    DeviceInfoMessage: on_device_info,
    CommandAck: on_command_ack,
    CloudCommandEcho: on_cloud_echo,
    PresenceEvent: on_presence,
}


def handle(
    d: Delivery, parsed: DeviceMessage | ContractError, plan: Plan, ctx: HandlerContext
) -> None:
    """Route one parsed delivery to its handler, or to quarantine."""
    if isinstance(parsed, ContractError):
        reject(plan, d, ctx, parsed.reason, parsed.detail)
        return
    HANDLERS[type(parsed)](parsed, d, plan, ctx)


def devices_to_check(parsed: list[DeviceMessage | ContractError]) -> set[str]:
    """The devices whose registration decides where a batch's messages go."""
    return {m.device_uuid for m in parsed if isinstance(m, TelemetryMessage | DeviceInfoMessage)}
