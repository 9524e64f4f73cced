"""How a simulated meter answers commands: rates of failure, rejection, lost acks; delay; legacy."""

from __future__ import annotations

import random
from dataclasses import dataclass

from msm_common.contracts import AckStatus


@dataclass(frozen=True)
class AckPolicy:
    """Per-meter answering behaviour. Rates are probabilities in [0, 1].

    `fail_rate` + `reject_rate` share one draw per command (at most 1 together); `drop_rate` is
    drawn per delivery, so a resent command gets a new chance to be answered.
    """

    fail_rate: float = 0.0
    reject_rate: float = 0.0
    drop_rate: float = 0.0
    ack_delay_ms: int = 0
    legacy: bool = False

    def __post_init__(self) -> None:
        for name in ("fail_rate", "reject_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        if self.fail_rate + self.reject_rate > 1.0:
            raise ValueError("fail_rate + reject_rate must not exceed 1")
        if self.ack_delay_ms < 0:
            raise ValueError("ack_delay_ms must not be negative")

    @property
    def ack_delay_s(self) -> float:
        return self.ack_delay_ms / 1000.0

    def outcome(self, rng: random.Random) -> AckStatus:
        """What the meter does with a new command: succeed, fail or reject it."""
        draw = rng.random()
        if draw < self.fail_rate:
            return AckStatus.FAILED
        if draw < self.fail_rate + self.reject_rate:
            return AckStatus.REJECTED
        return AckStatus.SUCCESS

    def drops(self, rng: random.Random) -> bool:
        """Whether this delivery's ack is lost (never published)."""
        return self.drop_rate > 0.0 and rng.random() < self.drop_rate
