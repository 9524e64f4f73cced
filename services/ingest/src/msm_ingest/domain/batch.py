"""A batch of deliveries sorted into what must be written, published and acknowledged.

Handlers (`msm_ingest.handlers`) fill a `BatchPlan`; the pipeline carries it out. `D` is the
delivery (opaque here): it travels with the work it causes so it is acknowledged afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from msm_common.contracts import CommandAck, DeviceInfoMessage, PresenceEvent, Reading
from msm_common.contracts.timeparse import epoch_ms

from msm_ingest.domain import devices

D = TypeVar("D")

# `kind` label values of the messages metric.
TELEMETRY = "telemetry"
DEVICE_INFO = "device_info"
COMMAND_ACK = "command_ack"
COMMAND_ECHO = "command_echo"
PRESENCE = "presence"
UNKNOWN = "unknown"


@dataclass
class BatchPlan(Generic[D]):
    """Everything one batch asks for, in the order the pipeline needs it."""

    now: datetime
    readings: list[Reading] = field(default_factory=list)
    reading_ids: list[str] = field(default_factory=list)
    by_device: dict[str, list[Reading]] = field(default_factory=dict)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    telemetry_deliveries: list[D] = field(default_factory=list)
    readings_per_delivery: list[int] = field(default_factory=list)
    infos: list[tuple[DeviceInfoMessage, D, str]] = field(default_factory=list)
    presences: list[tuple[PresenceEvent, D, str]] = field(default_factory=list)
    command_acks: list[tuple[CommandAck, D, str]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], D]] = field(default_factory=list)
    skipped: list[D] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected_reasons: Counter[str] = field(default_factory=Counter)

    def add_readings(
        self, device_uuid: str, readings: tuple[Reading, ...], seen_at: datetime, delivery: D
    ) -> None:
        self.readings.extend(readings)
        # Reading.reading_id, with the time part computed once per timestamp (a message's
        # readings usually share theirs); a unit test holds the two to the same ids.
        ids, at, suffix = self.reading_ids, None, ""
        for r in readings:
            if r.timestamp is not at:
                at, suffix = r.timestamp, f":{epoch_ms(r.timestamp)}"
            ids.append(f"{r.device_uuid}:{r.channel_id}:{r.phase}{suffix}")
        self.by_device.setdefault(device_uuid, []).extend(readings)
        previous = self.last_seen.get(device_uuid)
        if previous is None or seen_at > previous:
            self.last_seen[device_uuid] = seen_at
        self.telemetry_deliveries.append(delivery)
        self.readings_per_delivery.append(len(readings))

    def reject(self, record: dict[str, Any], delivery: D, kind: str) -> None:
        self.rejected.append((record, delivery))
        self.outcomes[kind, "rejected"] += 1
        self.rejected_reasons[record["reason"]] += 1

    def skip(self, delivery: D, kind: str, outcome: str = "skipped") -> None:
        self.skipped.append(delivery)
        self.outcomes[kind, outcome] += 1

    def telemetry_documents(self) -> list[dict[str, Any]]:
        """The `telemetry` rows. `processed` (the seed's field) is true from the start: a row is
        written once and never updated; its event is guaranteed by the batch outbox instead."""
        docs = []
        for reading, reading_id in zip(self.readings, self.reading_ids, strict=True):
            docs.append(
                {
                    "_id": reading_id,
                    "device_uuid": reading.device_uuid,
                    "timestamp": reading.timestamp,
                    "channel_id": reading.channel_id,
                    "phase": reading.phase,
                    "temperature": reading.temperature,
                    "line_voltage": reading.line_voltage,
                    "current": reading.current,
                    "active_power": reading.active_power,
                    "reactive_power": reading.reactive_power,
                    "processed": True,
                }
            )
        return docs

    def newest_by_device(self) -> dict[str, dict[str, Reading]]:
        """Per device, the newest reading of each channel/phase in this batch."""
        return {uuid: devices.newest_per_key(rs) for uuid, rs in self.by_device.items()}

    @property
    def size(self) -> int:
        return (
            len(self.telemetry_deliveries)
            + len(self.infos)
            + len(self.presences)
            + len(self.command_acks)
            + len(self.rejected)
            + len(self.skipped)
        )
