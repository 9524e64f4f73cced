"""The handlers' success paths on in-memory fakes: requests, acks, presence."""

from __future__ import annotations

import pytest
from commander_world import DEVICE, MQTT, NTP, World
from msm_commander.bootstrap import bootstrap
from msm_commander.handlers import dispatch
from msm_commander.settings import CommanderSettings
from msm_common import topics
from msm_common.contracts.acks import AckStatus
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import CommandType


def test_a_request_for_an_online_device_is_sent_at_once(world: World) -> None:
    command_id = world.request("reboot")
    assert world.status(command_id) == "sent"
    assert world.sender.sent[0][0] == topics.command(DEVICE, "reboot")
    assert world.sent_payload()["command_id"] == command_id
    assert world.events.statuses(command_id) == ["queued", "sent"]


def test_a_request_the_api_stored_first_is_sent_once(world: World) -> None:
    command_id = world.request("reboot", stored_by_api=True)
    assert world.status(command_id) == "sent"
    assert world.sent_ids() == [command_id]


def test_a_redelivered_request_sends_nothing_twice(world: World) -> None:
    command_id = world.request("reboot")
    doc = world.store.commands[command_id]
    again = CommandRequest(
        command_id=command_id,
        device_uuid=DEVICE,
        type=CommandType.REBOOT,
        requested_by="operator",
        requested_at=doc["created_at"],
        expires_at=doc["expires_at"],
    )
    dispatch(world.commander.deps, again)
    assert world.sent_ids() == [command_id]


def test_a_second_command_waits_for_the_first_ones_ack(world: World) -> None:
    first = world.request("reboot")
    second = world.request("ntp", NTP)
    assert (world.status(first), world.status(second)) == ("sent", "queued")
    world.ack(first)
    assert (world.status(first), world.status(second)) == ("succeeded", "sent")
    assert world.sent_ids() == [first, second]


def test_the_device_receives_its_secret_in_clear_the_store_keeps_it_sealed(world: World) -> None:
    command_id = world.request("mqtt", MQTT)
    assert world.sent_payload()["broker_password"] == "mqtt-secret"
    stored = world.store.commands[command_id]["params"]["broker_password"]
    assert stored != "mqtt-secret"


def test_a_request_for_an_unknown_device_is_rejected(world: World) -> None:
    command_id = world.request("reboot", device="meter-unknown")
    assert world.status(command_id) == "rejected"
    assert world.store.commands[command_id]["history"][-1]["reason"] == "unknown_device"
    assert world.sender.sent == []


def test_a_reused_idempotency_key_is_rejected_naming_the_first_command(world: World) -> None:
    first = world.request("reboot", idempotency_key="k-1")
    second = world.request("reboot", idempotency_key="k-1")
    assert world.status(second) == "rejected"
    assert first in world.store.commands[second]["history"][-1]["reason"]


def test_a_success_ack_finishes_the_command(world: World) -> None:
    command_id = world.request("reboot")
    world.ack(command_id)
    doc = world.store.commands[command_id]
    assert doc["status"] == "succeeded" and doc["ack"]["status"] == "success"
    assert world.events.statuses(command_id) == ["queued", "sent", "succeeded"]


def test_a_config_ack_updates_the_devices_config_and_drops_the_secret(world: World) -> None:
    command_id = world.request("mqtt", MQTT)
    world.ack(command_id, "mqtt")
    assert world.status(command_id) == "succeeded"
    config = world.store.configs["mqtt"][DEVICE]
    assert config["command_id"] == command_id and config["broker_ip"] == "10.1.2.3"
    assert world.store.devices[DEVICE]["mqtt_status"] is True
    assert "broker_password" not in world.store.commands[command_id]["params"]


def test_an_ntp_ack_records_the_ntp_config(world: World) -> None:
    command_id = world.request("ntp", NTP)
    world.ack(command_id, "ntp")
    assert world.store.configs["ntp"][DEVICE]["server_1"] == "pool.ntp.org"


def test_a_failure_ack_fails_the_command_with_the_devices_message(world: World) -> None:
    command_id = world.request("reboot")
    world.ack(command_id, status=AckStatus.FAILED, message="flash busy")
    assert world.status(command_id) == "failed"
    assert world.store.commands[command_id]["history"][-1]["reason"] == "flash busy"


def test_an_in_progress_ack_gives_a_fresh_window_without_a_resend(world: World) -> None:
    command_id = world.request("reboot")
    world.later(20)
    world.ack(command_id, status=AckStatus.IN_PROGRESS)
    world.later(20)  # 40 s after the send, 20 s into the fresh 30 s window
    assert world.status(command_id) == "sent" and world.sent_ids() == [command_id]


def test_a_legacy_ack_without_id_answers_the_command_in_flight(world: World) -> None:
    command_id = world.request("reboot")
    world.ack(None, "reboot")
    assert world.status(command_id) == "succeeded"


def test_a_reconnect_resends_what_went_to_the_old_session(world: World) -> None:
    command_id = world.request("reboot")
    world.later(5)
    world.presence(True)
    assert world.sent_ids() == [command_id, command_id]
    assert world.store.commands[command_id]["attempts"] == 2


def test_a_device_coming_online_receives_what_waited(world: World) -> None:
    world.store.add_device(DEVICE, connected=False)
    command_id = world.request("reboot")
    assert world.status(command_id) == "queued" and world.sender.sent == []
    world.presence(True)
    assert world.status(command_id) == "sent"


def test_a_misspelt_part_is_refused_not_silently_built() -> None:
    with pytest.raises(TypeError):
        bootstrap(CommanderSettings(env="test"), sotre=object())  # type: ignore[call-arg]
