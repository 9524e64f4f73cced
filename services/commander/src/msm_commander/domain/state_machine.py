"""What happens next to one device's commands (the statuses and their legal transitions are
msm_common's command document). Pure: `now` is given.

One command is in flight (`sent`) per device; the others wait in arrival order. A `sent` command
always has a deadline: past it, the command is resent (same id, a longer ack window each time)
until `max_attempts` sends, then it is `timed_out`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from msm_common.contracts.acks import AckStatus
from msm_common.contracts.command_document import (
    ACTIVE,
    FINAL,
    FINAL_VALUES,
    TRANSITIONS,
    can_transition,
)
from msm_common.contracts.command_document import CommandStatus as Status

__all__ = [
    "ACK_OUTCOMES",
    "ACTIVE",
    "FINAL",
    "FINAL_VALUES",
    "SUPERSEDABLE",
    "TRANSITIONS",
    "Action",
    "CommandView",
    "Decision",
    "RetryPolicy",
    "Status",
    "ack_outcome",
    "can_transition",
    "match_legacy_ack",
    "next_action",
    "reject_all",
]

# A newer queued command of the same type makes an older queued one pointless.
SUPERSEDABLE: Final = frozenset({"ntp", "mqtt", "sftp"})
ACK_OUTCOMES: Final[Mapping[AckStatus, Status]] = {
    AckStatus.SUCCESS: Status.SUCCEEDED,
    AckStatus.FAILED: Status.FAILED,
    AckStatus.REJECTED: Status.REJECTED,
}


def ack_outcome(status: AckStatus) -> Status | None:
    """The final state an ack leads to; None for `in_progress` (the device is still working)."""
    return ACK_OUTCOMES.get(status)


@dataclass(frozen=True)
class RetryPolicy:
    ack_timeout_s: float = 30.0
    max_attempts: int = 3
    backoff_factor: float = 2.0
    max_ack_timeout_s: float = 600.0

    def ack_window(self, attempt: int) -> timedelta:
        """How long attempt `attempt` (1-based) waits for its ack."""
        seconds = self.ack_timeout_s * self.backoff_factor ** max(attempt - 1, 0)
        return timedelta(seconds=min(seconds, self.max_ack_timeout_s))


@dataclass(frozen=True)
class CommandView:
    """What the state machine needs to know of a stored command."""

    command_id: str
    type: str
    status: Status
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    deadline_at: datetime | None = None
    sent_at: datetime | None = None


class Action(StrEnum):
    SEND = "send"  # queued -> sent, attempt 1
    RESEND = "resend"  # sent -> sent, attempt n+1
    HOLD = "hold"  # sent, deadline moved on: the device is offline or we cannot publish now
    TIME_OUT = "time_out"
    EXPIRE = "expire"
    SUPERSEDE = "supersede"
    REJECT = "reject"


_TARGETS: Final[Mapping[Action, Status]] = {
    Action.SEND: Status.SENT,
    Action.RESEND: Status.SENT,
    Action.HOLD: Status.SENT,
    Action.TIME_OUT: Status.TIMED_OUT,
    Action.EXPIRE: Status.EXPIRED,
    Action.SUPERSEDE: Status.SUPERSEDED,
    Action.REJECT: Status.REJECTED,
}


@dataclass(frozen=True)
class Decision:
    """Do `action` to a command found in `expected` state with `attempts` sends so far."""

    action: Action
    command_id: str
    expected: Status
    attempts: int
    reason: str
    deadline_at: datetime | None = None

    @property
    def target(self) -> Status:
        return _TARGETS[self.action]


def _order(commands: Iterable[CommandView]) -> list[CommandView]:
    return sorted(commands, key=lambda c: (c.created_at, c.command_id))


def next_action(
    device_commands: Sequence[CommandView],
    now: datetime,
    device_online: bool,
    *,
    policy: RetryPolicy,
    can_send: bool = True,
    reconnected_at: datetime | None = None,
) -> list[Decision]:
    """Decide, for one device, what expires, is superseded, times out, is resent or sent next.

    `can_send` is false while the MQTT connection is down: nothing is sent and no attempt is
    spent. `reconnected_at`: the device has just connected; what was sent before that moment
    went to a session that no longer exists, so it is resent now rather than at its deadline.
    """
    ordered = _order(c for c in device_commands if c.status in ACTIVE)
    decisions: list[Decision] = []
    waiting: list[CommandView] = []
    for cmd in ordered:
        if cmd.status is Status.QUEUED and now >= cmd.expires_at:
            decisions.append(_decide(Action.EXPIRE, cmd, "expired before it could be sent"))
        elif cmd.status is Status.QUEUED:
            waiting.append(cmd)
    decisions.extend(_supersede(waiting))
    superseded = {d.command_id for d in decisions if d.action is Action.SUPERSEDE}
    waiting = [c for c in waiting if c.command_id not in superseded]

    in_flight = False
    for cmd in (c for c in ordered if c.status is Status.SENT):
        decision = _in_flight(cmd, now, device_online and can_send, policy, reconnected_at)
        if decision is not None:
            decisions.append(decision)
        if decision is None or decision.target is Status.SENT:
            in_flight = True
    if not in_flight and waiting and device_online and can_send:
        head = waiting[0]
        decisions.append(_decide(Action.SEND, head, "sent", deadline_at=now + policy.ack_window(1)))
    return decisions


def _decide(
    action: Action, cmd: CommandView, reason: str, deadline_at: datetime | None = None
) -> Decision:
    return Decision(action, cmd.command_id, cmd.status, cmd.attempts, reason, deadline_at)


def _supersede(waiting: Sequence[CommandView]) -> list[Decision]:
    newest: dict[str, CommandView] = {}
    for cmd in waiting:
        if cmd.type in SUPERSEDABLE:
            newest[cmd.type] = cmd  # `waiting` is in arrival order: the last one wins
    return [
        _decide(Action.SUPERSEDE, cmd, f"superseded by {newest[cmd.type].command_id}")
        for cmd in waiting
        if cmd.type in newest and newest[cmd.type] is not cmd
    ]


def _in_flight(
    cmd: CommandView,
    now: datetime,
    deliverable: bool,
    policy: RetryPolicy,
    reconnected_at: datetime | None,
) -> Decision | None:
    """What to do with a sent command; None while it is still waiting for its ack."""
    deadline_passed = cmd.deadline_at is None or now >= cmd.deadline_at
    session_lost = (
        reconnected_at is not None
        and cmd.sent_at is not None
        and cmd.sent_at < reconnected_at
        and cmd.attempts < policy.max_attempts
    )
    if not (deadline_passed or session_lost):
        return None
    if now >= cmd.expires_at:
        return _decide(Action.EXPIRE, cmd, "expired while waiting for an acknowledgement")
    if cmd.attempts >= policy.max_attempts:
        reason = f"no acknowledgement after {cmd.attempts} attempt(s)"
        return _decide(Action.TIME_OUT, cmd, reason)
    if not deliverable:
        # Keep the attempt for when the device is back; a deadline is always set.
        reason = "device offline or broker unavailable; waiting"
        return _decide(Action.HOLD, cmd, reason, deadline_at=now + policy.ack_window(1))
    attempt = cmd.attempts + 1
    cause = "device reconnected" if session_lost and not deadline_passed else "no ack in time"
    reason = f"resent ({cause}), attempt {attempt} of {policy.max_attempts}"
    return _decide(Action.RESEND, cmd, reason, deadline_at=now + policy.ack_window(attempt))


def reject_all(device_commands: Sequence[CommandView], reason: str) -> list[Decision]:
    """Reject every queued command (unknown or decommissioned device)."""
    return [
        _decide(Action.REJECT, cmd, reason)
        for cmd in _order(device_commands)
        if cmd.status is Status.QUEUED
    ]


def match_legacy_ack(device_commands: Sequence[CommandView], command_type: str) -> str | None:
    """An ack without `command_id` belongs to the oldest in-flight command of its type."""
    candidates = [c for c in device_commands if c.status is Status.SENT and c.type == command_type]
    if not candidates:
        return None
    oldest = min(candidates, key=lambda c: (c.sent_at or c.created_at, c.created_at, c.command_id))
    return oldest.command_id
