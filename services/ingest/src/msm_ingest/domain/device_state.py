"""Coalesced device state: a device's `last_seen` and latest readings, written at most once per
device per interval, and at once on a change that matters.

Telemetry rows are the system of record; the device document's `last_seen` and `latest` are a
summary that readers may find up to one interval old (the API falls back to the newest rows
through the (device_uuid, timestamp) index). So the pipeline does not write them per message:
it merges what each batch saw per device here and asks for the writes that are due:
- a device this process has not written within the interval (its first message, or the first
  after a silence longer than the interval) is due at once;
- otherwise it is due one interval after its last write, whether or not more messages come, so
  the document is never more than about one interval behind;
- `changed(device)` (connectivity) makes it due at once.
Times are monotonic seconds passed in by the caller (no clock read here).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from msm_common.contracts import Reading

from msm_ingest.domain.devices import DeviceWrite, telemetry_writes


@dataclass
class _Pending:
    due_at: float
    last_seen: datetime
    newest: dict[str, Reading] = field(default_factory=dict)


class DeviceStateCoalescer:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._pending: dict[str, _Pending] = {}
        self._written_at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._pruned_at = 0.0

    def observe(
        self,
        newest_by_device: Mapping[str, Mapping[str, Reading]],
        last_seen: Mapping[str, datetime],
        now: float,
    ) -> None:
        """Merge a batch's newest reading per channel/phase and `last_seen` per device."""
        for device_uuid, newest in newest_by_device.items():
            seen = last_seen[device_uuid]
            held = self._pending.get(device_uuid)
            if held is None:
                written = self._written_at.get(device_uuid)
                fresh = written is None or now - written >= self.interval_s
                due = now if written is None or fresh else written + self.interval_s
                held = self._pending[device_uuid] = _Pending(due, seen)
                heapq.heappush(self._heap, (due, device_uuid))
            elif seen > held.last_seen:
                held.last_seen = seen
            for key, reading in newest.items():
                current = held.newest.get(key)
                if current is None or reading.timestamp > current.timestamp:
                    held.newest[key] = reading

    def changed(self, device_uuid: str, now: float) -> None:
        """A change that matters (connectivity): write what is held for the device at once."""
        held = self._pending.get(device_uuid)
        if held is not None and held.due_at > now:
            held.due_at = now
            heapq.heappush(self._heap, (now, device_uuid))

    def take_due(
        self, now: float, utcnow: datetime, *, everything: bool = False
    ) -> list[DeviceWrite]:
        """The device writes due at `now` (all held ones with `everything`, at shutdown)."""
        newest: dict[str, dict[str, Reading]] = {}
        seen: dict[str, datetime] = {}
        while self._heap and (everything or self._heap[0][0] <= now):
            due, device_uuid = heapq.heappop(self._heap)
            held = self._pending.get(device_uuid)
            if held is None or (held.due_at != due and not everything):
                continue  # an older heap entry of a device made due earlier
            del self._pending[device_uuid]
            newest[device_uuid], seen[device_uuid] = held.newest, held.last_seen
            self._written_at[device_uuid] = now
        self._prune(now)
        return telemetry_writes(newest, seen, utcnow) if newest else []

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def _prune(self, now: float) -> None:
        # Devices not written within the interval are "first message" again: forget them.
        if now - self._pruned_at < self.interval_s:
            return
        self._pruned_at = now
        horizon = now - self.interval_s
        self._written_at = {d: t for d, t in self._written_at.items() if t > horizon}
