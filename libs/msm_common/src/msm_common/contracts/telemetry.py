"""Telemetry from `msm/{uuid}/telemetry`: one reading, or a batch under `readings`.

This is the ingest hot path. A payload of exactly the documented shape is decoded and checked in
one pass by msgspec (C); anything else (an unknown field, a wrong type, a value out of range, bad
JSON) goes through the field-by-field checks in plain Python, which name the first bad field.
Both paths accept the same payloads with the same result: a hypothesis test holds them to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec

from msm_common.contracts import _checks
from msm_common.contracts.errors import FIELD_INVALID, ContractError, field_error, short_repr
from msm_common.contracts.timeparse import (
    TimeWindow,
    epoch_ms,
    parse_in_window,
)

MAX_READINGS: Final = 64
MAX_CHANNEL_ID: Final = 64
# Phases as the firmware may name them -> the name we store.
PHASES: Final[dict[str, str]] = {"A": "A", "B": "B", "C": "C", "L1": "A", "L2": "B", "L3": "C"}

# (field, low, high): the seed's measurements and the bounds a meter can physically report.
MEASURES: Final[tuple[tuple[str, float, float], ...]] = (
    ("temperature", -40.0, 150.0),  # degC
    ("line_voltage", 0.0, 1000.0),  # V
    ("current", 0.0, 10_000.0),  # A
    ("active_power", -10_000_000.0, 10_000_000.0),  # W, negative when exporting
    ("reactive_power", -10_000_000.0, 10_000_000.0),  # var
)


class Reading(NamedTuple):
    """One channel/phase measurement at one instant (immutable; a NamedTuple for speed)."""

    device_uuid: str
    timestamp: datetime
    channel_id: int
    phase: str
    temperature: float
    line_voltage: float
    current: float
    active_power: float
    reactive_power: float

    @property
    def reading_id(self) -> str:
        """Deterministic id: a redelivered reading gets the same id (Mongo `_id`, event id)."""
        return f"{self.device_uuid}:{self.channel_id}:{self.phase}:{epoch_ms(self.timestamp)}"

    def to_document(self, device_uuid: str | None = None) -> dict[str, Any]:
        """The `telemetry` collection document, as ingest stores it: written once, never updated.

        `processed` is the seed's field, true from the start: the row's event is guaranteed by
        the batch outbox, not by a later per-row update.

        `device_uuid` may be passed for symmetry with callers that hold it; it must match.
        """
        if device_uuid is not None and device_uuid != self.device_uuid:
            raise ValueError(f"reading belongs to {self.device_uuid!r}, not {device_uuid!r}")
        return {
            "_id": self.reading_id,
            "device_uuid": self.device_uuid,
            "timestamp": self.timestamp,
            **self._measurement(),
            "processed": True,
        }

    def to_event_entry(self) -> dict[str, Any]:
        """This reading inside the `data.readings` of its `msm.telemetry.received` event."""
        return {"reading_id": self.reading_id, **self._measurement()}

    def _measurement(self) -> dict[str, Any]:
        """The channel and what was measured on it, alike in the document and the event."""
        return {
            "channel_id": self.channel_id,
            "phase": self.phase,
            "temperature": self.temperature,
            "line_voltage": self.line_voltage,
            "current": self.current,
            "active_power": self.active_power,
            "reactive_power": self.reactive_power,
        }


def telemetry_event_id(reading_ids: Iterable[str]) -> str:
    """The id of the event announcing these readings: the same set of readings (a redelivered
    message, a republish by the sweeper) always gets the same id, in any order."""
    text = "".join([reading_id + "\n" for reading_id in sorted(set(reading_ids))])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TelemetryMessage:
    """The readings of one telemetry publish, duplicates (same reading id) dropped."""

    device_uuid: str
    readings: tuple[Reading, ...]


def parse_telemetry_payload(
    device_uuid: str,
    payload: bytes,
    *,
    received_at: datetime,
    max_bytes: int = _checks.MAX_PAYLOAD_BYTES,
) -> TelemetryMessage:
    """Decode and validate a telemetry payload; raise ContractError naming the first bad field."""
    if len(payload) <= max_bytes:
        fast = _fast_message(device_uuid, payload, received_at)
        if fast is not None:
            return fast
    data = _checks.load_json(payload, max_bytes=max_bytes)
    return parse_telemetry(device_uuid, data, received_at=received_at)


_Timestamp = int | float | str | None
# The documented shape, nothing more: an unknown field makes the checked path decide.
_FastReading = msgspec.defstruct(
    "_FastReading",
    [
        ("channel_id", Annotated[int, msgspec.Meta(ge=0, le=MAX_CHANNEL_ID)]),
        ("phase", Literal["A", "B", "C", "L1", "L2", "L3"]),
        *((name, Annotated[float, msgspec.Meta(ge=low, le=high)]) for name, low, high in MEASURES),
        ("timestamp", _Timestamp, None),
    ],
    forbid_unknown_fields=True,
)
_FastBatch = msgspec.defstruct(
    "_FastBatch",
    [
        (
            "readings",
            Annotated[
                list[_FastReading],  # type: ignore[valid-type]  # a class made by defstruct
                msgspec.Meta(min_length=1, max_length=MAX_READINGS),
            ],
        ),
        ("timestamp", _Timestamp, None),
    ],
    forbid_unknown_fields=True,
)
_decode_batch = msgspec.json.Decoder(_FastBatch).decode
_decode_single = msgspec.json.Decoder(_FastReading).decode


def _fast_message(
    device_uuid: str, payload: bytes, received_at: datetime
) -> TelemetryMessage | None:
    """The message if the payload has exactly the documented shape and valid timestamps; None
    sends it through the checked path (which also produces the error, if there is one)."""
    try:
        if b'"readings"' in payload:
            batch: Any = _decode_batch(payload)
            items, shared = batch.readings, batch.timestamp
        else:
            items, shared = [_decode_single(payload)], None
        window = TimeWindow.around(received_at)
        shared_at = None if shared is None else parse_in_window(shared, window, "timestamp")
        readings: list[Reading] = []
        seen: set[tuple[int, str, datetime]] = set()
        for item in items:
            own = item.timestamp
            at = shared_at if own is None else parse_in_window(own, window, "timestamp")
            if at is None:
                return None
            phase = PHASES[item.phase]
            key = (item.channel_id, phase, at)
            if key not in seen:
                seen.add(key)
                readings.append(
                    Reading(
                        device_uuid, at, item.channel_id, phase, item.temperature,
                        item.line_voltage, item.current, item.active_power, item.reactive_power,
                    )
                )  # fmt: skip
    except (
        msgspec.DecodeError,
        ContractError,
        RecursionError,
        ValueError,
    ):  # UnicodeDecodeError too
        return None
    return TelemetryMessage(device_uuid, tuple(readings))


def parse_telemetry(device_uuid: str, data: object, *, received_at: datetime) -> TelemetryMessage:
    """Validate a decoded telemetry payload; raise ContractError naming the first bad field."""
    obj = _checks.require_object(data, "telemetry payload")
    window = TimeWindow.around(received_at)
    if "readings" not in obj:
        return TelemetryMessage(device_uuid, (_reading(device_uuid, obj, None, window),))

    items = obj["readings"]
    if type(items) is not list or not 1 <= len(items) <= MAX_READINGS:
        raise field_error("readings", f"must be an array of 1..{MAX_READINGS} reading objects")
    shared = obj.get("timestamp")
    shared_at = None if shared is None else parse_in_window(shared, window, "timestamp")
    readings: list[Reading] = []
    seen: set[tuple[int, str, datetime]] = set()
    for index, item in enumerate(items):
        try:
            if type(item) is not dict:
                raise ContractError(FIELD_INVALID, "must be a reading object")
            reading = _reading(device_uuid, item, shared_at, window)
        except ContractError as exc:
            raise exc.within(f"readings[{index}]") from None
        key = (reading.channel_id, reading.phase, reading.timestamp)
        if key not in seen:
            seen.add(key)
            readings.append(reading)
    return TelemetryMessage(device_uuid, tuple(readings))


_NUMBER: Final = frozenset({float, int})  # type() of a JSON number (bool is not int here)
(_T_LOW, _T_HIGH), (_V_LOW, _V_HIGH), (_C_LOW, _C_HIGH), (_P_LOW, _P_HIGH), (_Q_LOW, _Q_HIGH) = (
    (low, high) for _, low, high in MEASURES
)


def _reading(
    device_uuid: str, obj: dict[str, Any], shared_at: datetime | None, window: TimeWindow
) -> Reading:
    """One checked reading. A well-formed one takes the fast path (one expression, the same
    rules as `_checked_reading`); anything else goes through the field-by-field checks, which
    name the first bad field. A unit test holds the two paths to the same results."""
    raw_time = obj.get("timestamp")
    if raw_time is None and shared_at is not None:
        try:
            channel_id = obj["channel_id"]
            phase = PHASES[obj["phase"]]
            t, v, c, p, q = (
                obj["temperature"],
                obj["line_voltage"],
                obj["current"],
                obj["active_power"],
                obj["reactive_power"],
            )
        except (KeyError, TypeError):  # missing, or an unhashable phase: say which below
            pass
        else:
            number = _NUMBER
            if (
                type(channel_id) is int
                and 0 <= channel_id <= MAX_CHANNEL_ID
                and type(t) in number
                and type(v) in number
                and type(c) in number
                and type(p) in number
                and type(q) in number
                and _T_LOW <= t <= _T_HIGH
                and _V_LOW <= v <= _V_HIGH
                and _C_LOW <= c <= _C_HIGH
                and _P_LOW <= p <= _P_HIGH
                and _Q_LOW <= q <= _Q_HIGH
            ):
                return Reading(
                    device_uuid, shared_at, channel_id, phase, float(t), float(v), float(c),
                    float(p), float(q),
                )  # fmt: skip
    return _checked_reading(device_uuid, obj, shared_at, window)


def _checked_reading(
    device_uuid: str, obj: dict[str, Any], shared_at: datetime | None, window: TimeWindow
) -> Reading:
    raw_time = obj.get("timestamp")
    if raw_time is not None:
        timestamp = parse_in_window(raw_time, window, "timestamp")
    elif shared_at is not None:
        timestamp = shared_at
    else:
        raise field_error("timestamp", "required (on the reading or the batch)", missing=True)
    channel_id = _checks.integer(obj, "channel_id", "", 0, MAX_CHANNEL_ID)
    phase = obj.get("phase")
    stored_phase = PHASES.get(phase) if type(phase) is str else None
    if stored_phase is None:
        if "phase" not in obj:
            raise field_error("phase", "required", missing=True)
        raise field_error("phase", f"must be one of A, B, C, L1, L2, L3, got {short_repr(phase)}")
    values: list[float] = []
    for name, low, high in MEASURES:
        value = obj.get(name)
        if (type(value) is float or type(value) is int) and low <= value <= high:
            values.append(float(value))
        else:
            raise _checks.number_error(obj, name, "", low, high)
    return Reading(device_uuid, timestamp, channel_id, stored_phase, *values)
