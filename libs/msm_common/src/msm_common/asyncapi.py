"""The AsyncAPI 3.0 document of what MSM speaks on RabbitMQ, generated from the contracts.

`msm.events` (topic exchange): CloudEvents 1.0 envelopes, one channel per event type, routed by
`{type without msm.}.{device_uuid}`. `msm.commands` (direct exchange): the API's command
requests for the commander. The schemas come from the models that encode and validate these
messages (`CloudEvent`, `CommandRequest`, the command statuses and ack statuses), so the document
cannot drift from the code.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic.json_schema import models_json_schema

from msm_common.adapters import amqp_topology
from msm_common.contracts.acks import AckStatus
from msm_common.contracts.command_document import CommandStatus
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import CommandType
from msm_common.contracts.events import (
    COMMAND_ACK,
    COMMAND_STATUS,
    DEVICE_INFO,
    DEVICE_PRESENCE,
    DEVICE_PROVISIONED,
    TELEMETRY_RECEIVED,
    CloudEvent,
)
from msm_common.identifiers import THING_NAME_PATTERN

REF: Final = "#/components/schemas/{model}"
_AMQP: Final = "0.3.0"  # AsyncAPI AMQP bindings version
_UUID: Final = {"type": "string", "pattern": THING_NAME_PATTERN, "description": "device uuid"}
_TIME: Final = {"type": "string", "format": "date-time"}
_OBJECT: Final = {"type": "object"}

# What each event's `data` holds (beside `device_uuid`), and what it says.
_EVENTS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    TELEMETRY_RECEIVED: (
        "Readings of one device at one instant were stored (id: same readings, same id).",
        {
            "timestamp": _TIME,
            "readings": {"type": "array", "items": {"type": "object"}, "minItems": 1},
        },
    ),
    DEVICE_INFO: ("A device reported its info (IMEI, IP, firmware, link states).", {}),
    DEVICE_PRESENCE: (
        "A device connected or disconnected (AWS IoT lifecycle event).",
        {"connected": {"type": "boolean"}, "timestamp": _TIME},
    ),
    COMMAND_ACK: (
        "A device acknowledged a command.",
        {
            "command_id": {"type": ["string", "null"]},
            "command_type": {"type": "string", "enum": [t.value for t in CommandType]},
            "status": {"type": "string", "enum": [s.value for s in AckStatus]},
            "message": {"type": ["string", "null"]},
        },
    ),
    COMMAND_STATUS: (
        "A command changed status (id `{command_id}:{history index}`: one per transition).",
        {
            "command_id": {"type": "string"},
            "type": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": [s.value for s in CommandStatus]},
            "previous": {"type": ["string", "null"], "enum": [*CommandStatus, None]},
            "reason": {"type": ["string", "null"]},
            "at": _TIME,
            "attempts": {"type": "integer", "minimum": 0},
        },
    ),
    DEVICE_PROVISIONED: ("A device was provisioned (registered with its certificate).", {}),
}


def _name(event_type: str) -> str:
    """`msm.telemetry.received` -> `telemetryReceived`."""
    first, *rest = event_type.removeprefix("msm.").split(".")
    return first + "".join(part.capitalize() for part in rest)


def _exchange(name: str, kind: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": name, "type": kind, "durable": True, "autoDelete": False},
            "bindingVersion": _AMQP,
        }
    }


def _event_message(event_type: str) -> dict[str, Any]:
    summary, fields = _EVENTS[event_type]
    data = {
        "type": "object",
        "properties": {"device_uuid": _UUID, **fields},
        "required": ["device_uuid"],
    }
    return {
        "name": event_type,
        "title": event_type,
        "summary": summary,
        "contentType": "application/json",
        "payload": {
            "allOf": [
                {"$ref": REF.format(model="CloudEvent")},
                {
                    "type": "object",
                    "properties": {"type": {"const": event_type}, "subject": _UUID, "data": data},
                    "required": ["id", "type", "subject", "data"],
                },
            ]
        },
    }


def _event_channel(event_type: str) -> dict[str, Any]:
    name = _name(event_type)
    return {
        "address": event_type.removeprefix("msm.") + ".{device_uuid}",
        "title": f"{amqp_topology.EVENTS_EXCHANGE}: {event_type}",
        "parameters": {"device_uuid": {"description": "the device (= AWS IoT thing name)"}},
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": _exchange(amqp_topology.EVENTS_EXCHANGE, "topic"),
    }


def build(version: str = "1.0.0") -> dict[str, Any]:
    """The whole document (JSON-ready)."""
    _, defs = models_json_schema(
        [(CloudEvent, "serialization"), (CommandRequest, "validation")], ref_template=REF
    )
    channels: dict[str, Any] = {_name(t): _event_channel(t) for t in _EVENTS}
    messages: dict[str, Any] = {_name(t): _event_message(t) for t in _EVENTS}
    operations: dict[str, Any] = {
        f"send{_name(t)[0].upper()}{_name(t)[1:]}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_name(t)}"},
            "summary": _EVENTS[t][0],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": _AMQP}},
        }
        for t in _EVENTS
    }
    channels["commandRequests"] = {
        "address": amqp_topology.COMMAND_REQUEST_KEY,
        "title": f"{amqp_topology.COMMANDS_EXCHANGE}: command requests",
        "messages": {"commandRequest": {"$ref": "#/components/messages/commandRequest"}},
        "bindings": _exchange(amqp_topology.COMMANDS_EXCHANGE, "direct"),
    }
    messages["commandRequest"] = {
        "name": "command.request",
        "title": "Command request",
        "summary": "The API asks the commander to deliver a command (its id is the message id).",
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model="CommandRequest")},
    }
    operations["receiveCommandRequest"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/commandRequests"},
        "summary": (
            f"The commander consumes `{amqp_topology.COMMAND_REQUESTS_QUEUE}` (quorum, manual "
            f"acks); poison messages go to `{amqp_topology.DEAD_LETTER_EXCHANGE}`."
        ),
        "bindings": {"amqp": {"ack": True, "bindingVersion": _AMQP}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "MSM events and commands",
            "version": version,
            "description": (
                "What MSM publishes on RabbitMQ for other systems (`msm.events`: CloudEvents 1.0, "
                "persistent, at least once: deduplicate by the event `id`) and the command "
                "requests between its services (`msm.commands`). Dead letters go to the "
                f"`{amqp_topology.DEAD_LETTER_EXCHANGE}` topic exchange, routed "
                "`dead.{queue}`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "the deployment's RabbitMQ (locally 127.0.0.1:5672)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": defs.get("$defs", {}), "messages": messages},
    }
