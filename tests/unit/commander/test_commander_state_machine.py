"""The command state machine, table-driven: what happens next to one device's commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msm_commander.domain.state_machine import (
    ACTIVE,
    FINAL,
    Action,
    CommandView,
    RetryPolicy,
    Status,
    ack_outcome,
    can_transition,
    match_legacy_ack,
    next_action,
    reject_all,
)
from msm_common.contracts.acks import AckStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(ack_timeout_s=30, max_attempts=3, backoff_factor=2.0, max_ack_timeout_s=100)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cmd(
    cid: str,
    type_: str = "reboot",
    status: Status = Status.QUEUED,
    *,
    created: float = 0,
    expires: float = 3600,
    attempts: int = 0,
    deadline: float | None = None,
    sent: float | None = None,
) -> CommandView:
    return CommandView(
        command_id=cid,
        type=type_,
        status=status,
        created_at=s(created),
        expires_at=s(expires),
        attempts=attempts,
        deadline_at=None if deadline is None else s(deadline),
        sent_at=None if sent is None else s(sent),
    )


def plan(commands, now=10.0, online=True, **kw) -> list[tuple[Action, str]]:
    decisions = next_action(commands, s(now), online, policy=POLICY, **kw)
    return [(d.action, d.command_id) for d in decisions]


SENT = Status.SENT
CASES = [
    # (name, commands, online, expected [(action, id)]), all planned at s(10)
    ("nothing to do", [], True, []),
    (
        "idle online device: the oldest queued goes",
        [cmd("b", created=2), cmd("a", created=1)],
        True,
        [(Action.SEND, "a")],
    ),
    ("same instant: ordered by id", [cmd("b"), cmd("a")], True, [(Action.SEND, "a")]),
    ("offline device: everything waits", [cmd("a"), cmd("b", created=1)], False, []),
    (
        "one in flight: the rest wait",
        [cmd("a", status=SENT, attempts=1, deadline=40, sent=5), cmd("b", created=1)],
        True,
        [],
    ),
    (
        "queued past expiry expires, the next is sent",
        [cmd("a", expires=5), cmd("b", created=1)],
        True,
        [(Action.EXPIRE, "a"), (Action.SEND, "b")],
    ),
    (
        "expiry applies to offline devices too",
        [cmd("a", expires=5)],
        False,
        [(Action.EXPIRE, "a")],
    ),
    (
        "newer config supersedes an older queued one of the same type",
        [cmd("a", "ntp"), cmd("b", "reboot", created=1), cmd("c", "ntp", created=2)],
        True,
        [(Action.SUPERSEDE, "a"), (Action.SEND, "b")],
    ),
    (
        "three of a kind: only the newest survives",
        [cmd("a", "mqtt"), cmd("b", "mqtt", created=1), cmd("c", "mqtt", created=2)],
        False,
        [(Action.SUPERSEDE, "a"), (Action.SUPERSEDE, "b")],
    ),
    ("reboots are never superseded", [cmd("a"), cmd("b", created=1)], False, []),
    (
        "a sent config is not superseded by a newer queued one",
        [cmd("a", "ntp", SENT, attempts=1, deadline=40, sent=5), cmd("b", "ntp", created=1)],
        True,
        [],
    ),
    (
        "different config types do not supersede each other",
        [cmd("a", "ntp"), cmd("b", "sftp", created=1)],
        True,
        [(Action.SEND, "a")],
    ),
    (
        "an expired newer config does not supersede",
        [cmd("a", "ntp"), cmd("b", "ntp", created=1, expires=5)],
        True,
        [(Action.EXPIRE, "b"), (Action.SEND, "a")],
    ),
    (
        "deadline passed with attempts left: resend",
        [cmd("a", status=SENT, attempts=1, deadline=9, sent=0)],
        True,
        [(Action.RESEND, "a")],
    ),
    (
        "deadline passed, attempts exhausted: timed out, next sent",
        [cmd("a", status=SENT, attempts=3, deadline=9, sent=0), cmd("b", created=1)],
        True,
        [(Action.TIME_OUT, "a"), (Action.SEND, "b")],
    ),
    (
        "deadline passed while offline: held, no attempt spent",
        [cmd("a", status=SENT, attempts=1, deadline=9, sent=0)],
        False,
        [(Action.HOLD, "a")],
    ),
    (
        "exhausted and offline: still times out",
        [cmd("a", status=SENT, attempts=3, deadline=9, sent=0)],
        False,
        [(Action.TIME_OUT, "a")],
    ),
    (
        "sent past expiry at its deadline: expired, not resent",
        [cmd("a", status=SENT, attempts=1, deadline=9, sent=0, expires=8)],
        True,
        [(Action.EXPIRE, "a")],
    ),
    (
        "sent past expiry before its deadline: still waits for the ack",
        [cmd("a", status=SENT, attempts=1, deadline=20, sent=0, expires=8)],
        True,
        [],
    ),
    (
        "a sent command without a deadline is due (crash safety)",
        [cmd("a", status=SENT, attempts=1, deadline=None, sent=0)],
        True,
        [(Action.RESEND, "a")],
    ),
    (
        "finished commands are ignored",
        [cmd("a", status=Status.SUCCEEDED), cmd("b", status=Status.CANCELLED), cmd("c", created=1)],
        True,
        [(Action.SEND, "c")],
    ),
]


@pytest.mark.parametrize(
    ("name", "commands", "online", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_next_action(name, commands, online, expected) -> None:
    assert plan(commands, online=online) == expected


def test_send_sets_the_first_ack_window_and_resends_back_off() -> None:
    (send,) = next_action([cmd("a")], s(10), True, policy=POLICY)
    assert (send.target, send.attempts, send.deadline_at) == (Status.SENT, 0, s(40))
    second = next_action(
        [cmd("a", status=SENT, attempts=1, deadline=40, sent=10)], s(40), True, policy=POLICY
    )[0]
    assert (second.action, second.deadline_at, second.reason) == (
        Action.RESEND,
        s(40 + 60),
        "resent (no ack in time), attempt 2 of 3",
    )
    third = next_action(
        [cmd("a", status=SENT, attempts=2, deadline=100, sent=40)], s(100), True, policy=POLICY
    )[0]
    assert third.deadline_at == s(100 + 100)  # 120 s capped at max_ack_timeout_s


def test_ack_window_grows_by_the_factor() -> None:
    policy = RetryPolicy(ack_timeout_s=1.0, max_attempts=5, backoff_factor=1.5)
    assert [policy.ack_window(n).total_seconds() for n in (1, 2, 3)] == [1.0, 1.5, 2.25]


def test_hold_moves_the_deadline_on_without_spending_an_attempt() -> None:
    (hold,) = next_action(
        [cmd("a", status=SENT, attempts=1, deadline=9, sent=0)], s(10), False, policy=POLICY
    )
    assert (hold.action, hold.target, hold.attempts, hold.deadline_at) == (
        Action.HOLD,
        Status.SENT,
        1,
        s(40),
    )


def test_broker_down_holds_and_sends_nothing() -> None:
    commands = [cmd("a", status=SENT, attempts=1, deadline=9, sent=0), cmd("b", created=1)]
    assert plan(commands, 10, True, can_send=False) == [(Action.HOLD, "a")]
    assert plan([cmd("b")], 10, True, can_send=False) == []


def test_reconnect_resends_what_went_to_the_old_session_only() -> None:
    before = cmd("a", status=SENT, attempts=1, deadline=40, sent=5)
    assert plan([before], 10, True, reconnected_at=s(8)) == [(Action.RESEND, "a")]
    after = cmd("a", status=SENT, attempts=1, deadline=40, sent=9)
    assert plan([after], 10, True, reconnected_at=s(8)) == []
    last_attempt = cmd("a", status=SENT, attempts=3, deadline=40, sent=5)
    assert plan([last_attempt], 10, True, reconnected_at=s(8)) == []  # waits for its deadline


def test_superseded_reason_names_the_newer_command() -> None:
    decisions = next_action(
        [cmd("a", "ntp"), cmd("b", "ntp", created=1)], s(10), False, policy=POLICY
    )
    assert [(d.action, d.reason) for d in decisions] == [(Action.SUPERSEDE, "superseded by b")]


def test_reject_all_rejects_only_queued_commands() -> None:
    commands = [cmd("a", status=SENT, attempts=1, deadline=40), cmd("b", created=1), cmd("c")]
    decisions = reject_all(commands, "unknown_device")
    assert [(d.action, d.command_id, d.reason) for d in decisions] == [
        (Action.REJECT, "c", "unknown_device"),
        (Action.REJECT, "b", "unknown_device"),
    ]


@pytest.mark.parametrize(
    ("commands", "type_", "expected"),
    [
        ([], "ntp", None),
        ([cmd("a", "ntp")], "ntp", None),  # queued: never sent, nothing to acknowledge
        ([cmd("a", "ntp", SENT, attempts=1, sent=3)], "ntp", "a"),
        ([cmd("a", "ntp", SENT, attempts=1, sent=3)], "reboot", None),
        (
            [
                cmd("b", "ntp", SENT, attempts=1, sent=5, created=1),
                cmd("a", "ntp", SENT, attempts=1, sent=3),
            ],
            "ntp",
            "a",
        ),
        ([cmd("a", "ntp", Status.SUCCEEDED, attempts=1, sent=3)], "ntp", None),
    ],
)
def test_legacy_ack_matches_the_oldest_in_flight_command_of_its_type(
    commands, type_, expected
) -> None:
    assert match_legacy_ack(commands, type_) == expected


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("queued", "sent", True),
        ("queued", "cancelled", True),
        ("queued", "superseded", True),
        ("queued", "expired", True),
        ("queued", "rejected", True),
        ("queued", "succeeded", False),
        ("queued", "timed_out", False),
        ("sent", "sent", True),
        ("sent", "succeeded", True),
        ("sent", "failed", True),
        ("sent", "rejected", True),
        ("sent", "timed_out", True),
        ("sent", "expired", True),
        ("sent", "cancelled", False),
        ("sent", "queued", False),
        ("succeeded", "sent", False),
        ("cancelled", "sent", False),
        ("timed_out", "succeeded", False),
    ],
)
def test_transition_table(current, target, allowed) -> None:
    assert can_transition(current, target) is allowed


def test_every_decision_is_an_allowed_transition() -> None:
    for _name, commands, online, _expected in CASES:
        by_id = {c.command_id: c for c in commands}
        for d in next_action(commands, s(10), online, policy=POLICY):
            assert can_transition(by_id[d.command_id].status, d.target), d


def test_final_states_are_the_non_active_ones() -> None:
    assert {Status.QUEUED, Status.SENT} == ACTIVE
    assert len(FINAL) == 7 and not (ACTIVE & FINAL)


@pytest.mark.parametrize(
    ("ack", "expected"),
    [
        (AckStatus.SUCCESS, Status.SUCCEEDED),
        (AckStatus.FAILED, Status.FAILED),
        (AckStatus.REJECTED, Status.REJECTED),
        (AckStatus.IN_PROGRESS, None),
    ],
)
def test_ack_outcome(ack, expected) -> None:
    assert ack_outcome(ack) == expected
