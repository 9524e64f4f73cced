"""Device shadow `reported` state from ingest, and the per-device throttle that paces it.

Between two sends to one device, what ingest learned is merged here (newest reading per
channel/phase, latest `last_seen`, latest device info) and rendered as one partial `reported`
document when the device's turn comes; AWS merges partial documents into the shadow.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from msm_common.contracts import DeviceInfoMessage, Reading, format_timestamp

from msm_ingest.domain.devices import latest_value

Fragment = dict[str, Any]


@dataclass
class ShadowState:
    """What is waiting to be reported for one device."""

    latest: dict[str, Reading] = field(default_factory=dict)
    last_seen: datetime | None = None
    info: Fragment = field(default_factory=dict)

    def add_readings(self, newest: Mapping[str, Reading], last_seen: datetime) -> None:
        for key, reading in newest.items():
            held = self.latest.get(key)
            if held is None or reading.timestamp >= held.timestamp:
                self.latest[key] = reading
        if self.last_seen is None or last_seen > self.last_seen:
            self.last_seen = last_seen

    def add_info(self, msg: DeviceInfoMessage) -> None:
        self.info.update(info_fragment(msg))

    def merge(self, other: ShadowState) -> None:
        if other.last_seen is not None:
            self.add_readings(other.latest, other.last_seen)
        self.info.update(other.info)

    def render(self) -> Fragment:
        """The partial `reported` document (JSON-ready)."""
        reported: Fragment = dict(self.info)
        if self.latest:
            reported["latest"] = {
                key: {**latest_value(r), "timestamp": format_timestamp(r.timestamp)}
                for key, r in self.latest.items()
            }
        if self.last_seen is not None:
            reported["last_seen"] = format_timestamp(self.last_seen)
        return reported


def info_fragment(msg: DeviceInfoMessage) -> Fragment:
    return {
        "device_imei": msg.device_imei,
        "device_ip": msg.device_ip,
        "firmware_version": msg.firmware_version,
        "mqtt_status": msg.mqtt_status,
        "sftp_status": msg.sftp_status,
    }


class ShadowThrottle:
    """At most one shadow update per device every `min_interval` seconds (monotonic time)."""

    def __init__(self, min_interval: float, max_devices: int = 1_000_000) -> None:
        self.min_interval = min_interval
        self.max_devices = max_devices
        self._pending: dict[str, ShadowState] = {}
        self._last_sent: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def offer(self, device_uuid: str, state: ShadowState, now: float) -> bool:
        """Queue `state` for `device_uuid`; False when too many devices are waiting."""
        held = self._pending.get(device_uuid)
        if held is not None:
            held.merge(state)
            return True
        if len(self._pending) >= self.max_devices:
            return False
        self._pending[device_uuid] = state
        last = self._last_sent.get(device_uuid)
        due = now if last is None else max(now, last + self.min_interval)
        heapq.heappush(self._heap, (due, device_uuid))
        return True

    def take_due(self, now: float) -> list[tuple[str, Fragment]]:
        """The devices whose next update may go out now, with their rendered fragment."""
        ready: list[tuple[str, Fragment]] = []
        while self._heap and self._heap[0][0] <= now:
            _, device_uuid = heapq.heappop(self._heap)
            ready.append((device_uuid, self._pending.pop(device_uuid).render()))
            self._last_sent[device_uuid] = now
        if len(self._last_sent) > self.max_devices:
            horizon = now - self.min_interval
            self._last_sent = {d: t for d, t in self._last_sent.items() if t > horizon}
        return ready

    def seconds_to_next(self, now: float) -> float | None:
        """Seconds until the next update is due; None when nothing waits."""
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    @property
    def waiting(self) -> int:
        return len(self._pending)
