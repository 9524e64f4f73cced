"""A meter's telemetry message as the tests publish it (the shape ingest reads)."""

from __future__ import annotations

from typing import Any

import orjson


def telemetry_payload(ts_ms: int, phases: str = "ABC", channel: int = 0, **overrides: Any) -> bytes:
    """One message at `ts_ms`: a reading per phase of `channel`; `overrides` change its fields."""
    reading = {
        "channel_id": channel,
        "temperature": 25.0,
        "line_voltage": 230.0,
        "current": 5.0,
        "active_power": 1000.0,
        "reactive_power": 10.0,
    }
    reading.update(overrides)
    return orjson.dumps({"timestamp": ts_ms, "readings": [dict(reading, phase=p) for p in phases]})
