"""The shared `commands` document: what api and commander store, and the transitions allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msm_common.contracts import command_document as cd
from msm_common.contracts.command_document import CommandStatus

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def mqtt_command(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "command_id": "c1",
        "device_uuid": "d1",
        "type_": "mqtt",
        "params": {"broker_ip": "h", "broker_password": "pw"},
        "requested_by": "op",
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
        "now": NOW,
        "idempotency_key": "k1",
    }
    fields.update(overrides)
    return cd.new_document(**fields)  # type: ignore[arg-type]


def test_a_queued_command_keeps_its_parameters_and_key_and_is_announced() -> None:
    doc = mqtt_command()
    assert doc["status"] == "queued" and doc["params"]["broker_password"] == "pw"  # type: ignore[index]
    assert doc["idempotency_key"] == "k1" and doc[cd.EVENT_PENDING] is True
    assert doc["history"] == [{"status": "queued", "at": NOW, "reason": "requested", "attempts": 0}]


def test_a_command_final_at_once_keeps_no_secret_and_no_key() -> None:
    doc = mqtt_command(status=CommandStatus.REJECTED, reason="unknown_device")
    assert doc["params"] == {"broker_ip": "h"}
    assert "idempotency_key" not in doc


def test_an_unannounced_command_without_attempt_counts_in_its_history() -> None:
    doc = mqtt_command(announce=False, history_attempts=None)
    assert cd.EVENT_PENDING not in doc
    assert doc["history"] == [{"status": "queued", "at": NOW, "reason": "requested"}]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("succeeded", CommandStatus.CANCELLED),
        ("sent", CommandStatus.CANCELLED),
        ("cancelled", CommandStatus.FAILED),
        ("queued", CommandStatus.TIMED_OUT),
    ],
)
def test_a_transition_the_state_machine_does_not_allow_is_refused(
    current: str, target: CommandStatus
) -> None:
    with pytest.raises(cd.IllegalTransition):
        cd.transition("ntp", target, "x", NOW, current=current)


def test_every_final_status_is_a_dead_end_and_every_active_one_can_finish() -> None:
    for status in cd.FINAL:
        assert not cd.TRANSITIONS[status]
    for status in cd.ACTIVE:
        assert cd.TRANSITIONS[status] & cd.FINAL


def test_a_final_transition_purges_secrets_and_may_free_other_fields() -> None:
    update = cd.transition(
        "sftp",
        CommandStatus.FAILED,
        "not published",
        NOW,
        current="queued",
        unset=("idempotency_key",),
        announce=False,
    )
    assert update["$set"] == {"status": "failed", "updated_at": NOW}
    assert update["$unset"] == {"idempotency_key": "", "params.password": ""}
    assert update["$push"]["history"] == {"status": "failed", "at": NOW, "reason": "not published"}
