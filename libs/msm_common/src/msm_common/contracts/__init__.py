"""Message contracts: every MQTT payload, AMQP message and event envelope MSM speaks.

Parsers raise only `ContractError` (`reason` machine code, `detail` naming the field).
Topics are built and parsed in `msm_common.topics`, which imports from here (never the
reverse); `msm_common.device_messages` (topic + payload -> message) sits above both.
"""

from __future__ import annotations

# The exchanges are declared once, by the topology module; re-exported with the contracts.
from msm_common.adapters.amqp_topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
)
from msm_common.contracts._checks import MAX_PAYLOAD_BYTES, check_device_uuid, load_json
from msm_common.contracts.acks import (
    AckStatus,
    CloudCommandEcho,
    CommandAck,
    parse_command_topic_message,
)
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import (
    SECRET_FIELDS,
    CommandParams,
    CommandType,
    DeviceCommand,
    MqttParams,
    NtpParams,
    RebootParams,
    SftpParams,
    params_model_for,
    secret_fields,
    strip_secrets,
    validate_params,
)
from msm_common.contracts.device_info import DeviceInfoMessage, parse_device_info
from msm_common.contracts.errors import ContractError, TopicError
from msm_common.contracts.events import (
    COMMAND_ACK,
    COMMAND_REQUEST_ROUTING_KEY,
    COMMAND_STATUS,
    DEVICE_INFO,
    DEVICE_PRESENCE,
    DEVICE_PROVISIONED,
    TELEMETRY_RECEIVED,
    CloudEvent,
    make_event,
    routing_key,
    telemetry_event,
)
from msm_common.contracts.presence import PresenceEvent, parse_presence
from msm_common.contracts.telemetry import (
    Reading,
    TelemetryMessage,
    parse_telemetry,
    telemetry_event_id,
)
from msm_common.contracts.timeparse import format_timestamp, parse_timestamp
from msm_common.identifiers import is_thing_name

__all__ = [
    "COMMANDS_EXCHANGE",
    "COMMAND_ACK",
    "COMMAND_REQUEST_ROUTING_KEY",
    "COMMAND_STATUS",
    "DEAD_LETTER_EXCHANGE",
    "DEVICE_INFO",
    "DEVICE_PRESENCE",
    "DEVICE_PROVISIONED",
    "EVENTS_EXCHANGE",
    "MAX_PAYLOAD_BYTES",
    "SECRET_FIELDS",
    "TELEMETRY_RECEIVED",
    "AckStatus",
    "CloudCommandEcho",
    "CloudEvent",
    "CommandAck",
    "CommandParams",
    "CommandRequest",
    "CommandType",
    "ContractError",
    "DeviceCommand",
    "DeviceInfoMessage",
    "MqttParams",
    "NtpParams",
    "PresenceEvent",
    "Reading",
    "RebootParams",
    "SftpParams",
    "TelemetryMessage",
    "TopicError",
    "check_device_uuid",
    "format_timestamp",
    "is_thing_name",
    "load_json",
    "make_event",
    "params_model_for",
    "parse_command_topic_message",
    "parse_device_info",
    "parse_presence",
    "parse_telemetry",
    "parse_timestamp",
    "routing_key",
    "secret_fields",
    "strip_secrets",
    "telemetry_event",
    "telemetry_event_id",
    "validate_params",
]
