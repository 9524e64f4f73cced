"""The commands document, its updates, device payloads and status events; ack/presence parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from msm_commander.domain import documents
from msm_commander.domain.messages import parse_ack_event, parse_presence_event
from msm_commander.domain.state_machine import Status
from msm_common.contracts import CommandRequest, ContractError, DeviceCommand, make_event
from msm_common.contracts.acks import AckStatus
from msm_common.contracts.events import COMMAND_ACK, DEVICE_PRESENCE

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MQTT = {
    "broker_ip": "10.0.0.1",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "s3cret",
    "data_interval": 60,
}


def request(**overrides) -> CommandRequest:
    fields = dict(
        command_id="c1",
        device_uuid="dev-1",
        type="mqtt",
        params=MQTT,
        requested_by="alice",
        requested_at=NOW,
        expires_at=NOW + DAY,
        idempotency_key="k1",
    )
    fields.update(overrides)
    return CommandRequest(**fields)


def test_a_stored_request_is_queued_with_its_history_and_key() -> None:
    doc = documents.from_request(request(), NOW, Status.QUEUED, "requested")
    assert doc["status"] == "queued" and doc["params"] == MQTT
    assert doc["history"] == [{"status": "queued", "at": NOW, "reason": "requested", "attempts": 0}]
    assert (doc["idempotency_key"], doc["created_at"], doc["expires_at"]) == ("k1", NOW, NOW + DAY)


def test_a_request_rejected_at_once_keeps_no_secret_and_no_key() -> None:
    doc = documents.from_request(request(), NOW, Status.REJECTED, "unknown_device")
    assert "broker_password" not in doc["params"] and "idempotency_key" not in doc
    assert doc["history"][0]["reason"] == "unknown_device"


def test_a_final_transition_purges_secrets_and_records_history() -> None:
    update = documents.transition("mqtt", Status.SUCCEEDED, "acknowledged", NOW, attempts=1)
    assert update["$set"]["status"] == "succeeded" and update["$set"]["event_pending"] is True
    assert update["$push"]["history"] == {
        "status": "succeeded",
        "at": NOW,
        "reason": "acknowledged",
        "attempts": 1,
    }
    assert update["$unset"] == {"params.broker_password": ""}
    sftp = documents.transition("sftp", Status.TIMED_OUT, "no ack", NOW, attempts=3)
    assert sftp["$unset"] == {"params.password": ""}
    assert "$unset" not in documents.transition("ntp", Status.FAILED, "x", NOW, attempts=1)


def test_a_send_counts_the_attempt_and_sets_the_deadline() -> None:
    update = documents.send_update("reboot", "sent", NOW, NOW + timedelta(seconds=30), attempts=0)
    assert update["$inc"] == {"attempts": 1}
    assert update["$set"]["deadline_at"] == NOW + timedelta(seconds=30)
    assert update["$set"]["sent_at"] == NOW and "$unset" not in update
    assert update["$push"]["history"]["attempts"] == 1


def test_the_device_payload_is_the_contract_command_with_its_parameters() -> None:
    doc = documents.from_request(request(), NOW, Status.QUEUED, "requested")
    payload = documents.device_payload(doc, DAY)
    body = orjson.loads(payload)
    assert body["command_id"] == "c1" and body["origin"] == "cloud" and body["type"] == "mqtt"
    assert body["broker_password"] == "s3cret" and "issued_at" in body and "expires_at" in body
    assert DeviceCommand.from_payload(payload).command_id == "c1"


def test_unusable_stored_parameters_cannot_become_a_payload() -> None:
    doc = documents.from_request(
        request(type="ntp", params={"server_1": "pool.ntp.org"}), NOW, Status.QUEUED, "requested"
    )
    doc["params"] = {"server_1": "not a host!"}
    with pytest.raises(ContractError):
        documents.device_payload(doc, DAY)


def test_the_config_document_keeps_the_parameters_and_names_the_command() -> None:
    doc = documents.from_request(request(), NOW, Status.QUEUED, "requested")
    config = documents.config_document(doc, NOW)
    assert config == {"device_uuid": "dev-1", **MQTT, "updated_at": NOW, "command_id": "c1"}


def test_status_event_data_per_history_entry() -> None:
    doc = documents.from_request(request(), NOW, Status.QUEUED, "requested")
    doc["history"].append(documents.history_entry(Status.SENT, NOW, "sent", 1))
    data = documents.status_event_data(doc, 1)
    assert data == {
        "command_id": "c1",
        "device_uuid": "dev-1",
        "type": "mqtt",
        "status": "sent",
        "previous": "queued",
        "reason": "sent",
        "at": "2026-01-01T12:00:00.000Z",
        "attempts": 1,
    }
    assert documents.status_event_data(doc, 0)["previous"] is None
    assert documents.status_event_id("c1", 1) == "c1:1"


def test_a_missing_expiry_takes_the_default() -> None:
    view = documents.view(
        {"_id": "x", "type": "reboot", "status": "queued", "created_at": NOW}, DAY
    )
    assert view.expires_at == NOW + DAY and view.attempts == 0


def _event(type_: str, subject: str, data: object) -> bytes:
    return make_event(type_, "msm-ingest", subject, data, time=NOW).to_json()


def test_ack_events_are_parsed_from_the_ingest_contract() -> None:
    data = {
        "command_id": "c1",
        "command_type": "ntp",
        "status": "success",
        "message": "ok",
        "received_at": "2026-01-01T12:00:01Z",
    }
    ack = parse_ack_event(_event(COMMAND_ACK, "dev-1", data), "command.ack.dev-1", now=NOW)
    assert (ack.device_uuid, ack.command_id, ack.status, ack.message) == (
        "dev-1",
        "c1",
        AckStatus.SUCCESS,
        "ok",
    )
    assert ack.received_at == NOW + timedelta(seconds=1)
    legacy = parse_ack_event(
        _event(
            COMMAND_ACK,
            "dev-1",
            {"command_id": None, "command_type": "reboot", "status": "OK", "message": None},
        ),
        "command.ack.dev-1",
        now=NOW,
    )
    assert (legacy.command_id, legacy.status, legacy.received_at) == (None, AckStatus.SUCCESS, NOW)


@pytest.mark.parametrize(
    "data",
    [
        {"command_id": "c1", "command_type": "ntp", "status": "maybe"},
        {"command_id": "c1", "command_type": "nope", "status": "success"},
        {"command_id": 5, "command_type": "ntp", "status": "success"},
        "not an object",
    ],
)
def test_off_contract_ack_events_are_refused(data) -> None:
    with pytest.raises(ContractError):
        parse_ack_event(_event(COMMAND_ACK, "dev-1", data), "command.ack.dev-1", now=NOW)
    with pytest.raises(ContractError):
        parse_ack_event(b"{not json", "command.ack.dev-1", now=NOW)


def test_presence_events() -> None:
    data = {
        "device_uuid": "dev-1",
        "connected": True,
        "timestamp": 1767268800000,
        "version_number": 3,
        "disconnect_reason": None,
    }
    presence = parse_presence_event(
        _event(DEVICE_PRESENCE, "dev-1", data), "device.presence.dev-1", now=NOW
    )
    assert (presence.device_uuid, presence.connected, presence.timestamp) == ("dev-1", True, NOW)
    with pytest.raises(ContractError):
        parse_presence_event(
            _event(DEVICE_PRESENCE, "dev-1", {"connected": "yes"}), "device.presence.dev-1", now=NOW
        )
