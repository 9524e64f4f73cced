"""What MSM publishes on RabbitMQ: CloudEvents 1.0 envelopes on `msm.events`, and its topology."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from msm_common.adapters.amqp_topology import COMMAND_REQUEST_KEY
from msm_common.contracts import _checks
from msm_common.contracts.errors import from_validation_error
from msm_common.contracts.telemetry import Reading, telemetry_event_id
from msm_common.contracts.timeparse import format_timestamp, utc_ms

# --- AMQP ------------------------------------------------------------------------------------
EVENTS_EXCHANGE_TYPE: Final = "topic"
COMMANDS_EXCHANGE_TYPE: Final = "direct"
COMMAND_REQUEST_ROUTING_KEY: Final = COMMAND_REQUEST_KEY

# --- event types; the routing key is the type without `msm.`, then `.{device_uuid}` ------------
TELEMETRY_RECEIVED: Final = "msm.telemetry.received"
DEVICE_INFO: Final = "msm.device.info"
DEVICE_PRESENCE: Final = "msm.device.presence"
COMMAND_ACK: Final = "msm.command.ack"
COMMAND_STATUS: Final = "msm.command.status"
DEVICE_PROVISIONED: Final = "msm.device.provisioned"
EVENT_TYPES: Final = frozenset(
    {
        TELEMETRY_RECEIVED,
        DEVICE_INFO,
        DEVICE_PRESENCE,
        COMMAND_ACK,
        COMMAND_STATUS,
        DEVICE_PROVISIONED,
    }
)


def routing_key(event_type: str, device_uuid: str) -> str:
    """`msm.telemetry.received` + `dev-1` -> `telemetry.received.dev-1`."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not an MSM event type")
    return f"{event_type.removeprefix('msm.')}.{_checks.check_device_uuid(device_uuid)}"


# --- the envelope ------------------------------------------------------------------------------

_Text = Annotated[str, Field(strict=True, min_length=1, max_length=512)]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode; `subject` is the device uuid."""

    # Unknown (extension) attributes from other producers are tolerated and dropped.
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: _Text
    source: _Text
    type: _Text
    subject: _Text | None = None
    time: Annotated[datetime, AfterValidator(utc_ms)]
    datacontenttype: Literal["application/json"] = "application/json"
    data: Any = None

    @property
    def routing_key(self) -> str:
        """Where this event goes on `msm.events` (needs an MSM type and a device subject)."""
        return routing_key(self.type, self.subject or "")

    def to_json(self) -> bytes:
        body = self.model_dump(exclude_none=True)
        body["time"] = format_timestamp(self.time)
        return orjson.dumps(body, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)

    @classmethod
    def from_json(cls, payload: bytes, *, max_bytes: int = _checks.MAX_PAYLOAD_BYTES) -> CloudEvent:
        """Parse a structured-mode event; raise ContractError if it is not one."""
        obj = _checks.require_object(_checks.load_json(payload, max_bytes=max_bytes), "event")
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise from_validation_error(exc) from None


def make_event(
    type: str,
    source: str,
    subject: str | None,
    data: Any,
    *,
    id: str | None = None,
    time: datetime,
) -> CloudEvent:
    """Build an event; `id` defaults to a random UUID (pass a deterministic one to dedupe)."""
    return CloudEvent(
        id=id or str(uuid.uuid4()), source=source, type=type, subject=subject, time=time, data=data
    )


def telemetry_event(readings: Sequence[Reading], *, source: str) -> CloudEvent:
    """The event of one device's readings at one instant (a meter's sample of its phases).

    Its id is `telemetry_event_id` of the reading ids, so a redelivery has the same id; each
    reading keeps its own `reading_id` in `data.readings` for consumers that dedupe per reading.
    """
    if not readings:
        raise ValueError("a telemetry event needs at least one reading")
    first = readings[0]
    if any(r.device_uuid != first.device_uuid or r.timestamp != first.timestamp for r in readings):
        raise ValueError("a telemetry event holds the readings of one device at one instant")
    data = {
        "device_uuid": first.device_uuid,
        "timestamp": format_timestamp(first.timestamp),
        "readings": [r.to_event_entry() for r in readings],
    }
    return make_event(
        TELEMETRY_RECEIVED,
        source,
        first.device_uuid,
        data,
        id=telemetry_event_id(r.reading_id for r in readings),
        time=first.timestamp,
    )
