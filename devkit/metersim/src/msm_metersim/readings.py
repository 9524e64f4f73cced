"""Plausible meter readings: 230 V ±5 %, a daily load shape, power factor 0.8-1.0, 3 phases.

Pure: the caller passes the time and the random source, so a seeded run is repeatable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Final

PHASES: Final = ("A", "B", "C")
NOMINAL_V: Final = 230.0
V_LOW: Final = NOMINAL_V * 0.95
V_HIGH: Final = NOMINAL_V * 1.05
MAX_CURRENT: Final = 60.0
MIN_TEMP: Final = 20.0
MAX_TEMP: Final = 60.0

# (centre hour UTC, height, width in hours): night base load plus morning, midday, evening humps.
_HUMPS: Final = ((7.5, 0.35, 1.2), (13.0, 0.2, 2.5), (19.0, 0.75, 2.0))
_BASE_LOAD: Final = 0.18


def load_factor(hour: float) -> float:
    """Share (0..1) of a household's peak current drawn at `hour` (0-24, wraps at midnight)."""
    total = _BASE_LOAD
    for centre, height, width in _HUMPS:
        distance = abs(hour - centre) % 24.0
        distance = min(distance, 24.0 - distance)
        total += height * math.exp(-(distance**2) / (2 * width**2))
    return min(1.0, total)


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """What makes one meter's readings its own: drawn once from its random source."""

    peak_current: float
    imbalance: tuple[float, float, float]
    power_factor: float
    ambient: float
    voltage_offset: float

    @classmethod
    def draw(cls, rng: random.Random) -> MeterProfile:
        return cls(
            peak_current=rng.uniform(15.0, MAX_CURRENT),
            imbalance=(rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)),
            power_factor=rng.uniform(0.85, 0.98),
            ambient=rng.uniform(20.0, 28.0),
            voltage_offset=rng.uniform(-4.0, 4.0),
        )


def sample(
    profile: MeterProfile, rng: random.Random, epoch_s: float, channel_id: int
) -> list[dict[str, Any]]:
    """One reading per phase of `channel_id` at `epoch_s` (without a timestamp)."""
    hour = (epoch_s % 86_400.0) / 3600.0
    load = load_factor(hour) * profile.peak_current
    gauss = rng.gauss
    readings = []
    for index, phase in enumerate(PHASES):
        volts = _clamp(NOMINAL_V + profile.voltage_offset + gauss(0.0, 1.5), V_LOW, V_HIGH)
        amps = _clamp(load * profile.imbalance[index] * (1.0 + gauss(0.0, 0.08)), 0.0, MAX_CURRENT)
        pf = _clamp(profile.power_factor + gauss(0.0, 0.02), 0.8, 1.0)
        apparent = volts * amps
        readings.append(
            {
                "channel_id": channel_id,
                "phase": phase,
                "temperature": round(
                    _clamp(profile.ambient + 0.35 * amps + gauss(0.0, 0.3), MIN_TEMP, MAX_TEMP), 2
                ),
                "line_voltage": round(volts, 2),
                "current": round(amps, 3),
                "active_power": round(apparent * pf, 2),
                "reactive_power": round(apparent * math.sqrt(1.0 - pf * pf), 2),
            }
        )
    return readings
