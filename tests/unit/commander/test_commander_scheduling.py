"""The scheduler and the ticker on in-memory fakes: retries, timeouts, expiry, offline devices,
superseded and cancelled commands, the outbox."""

from __future__ import annotations

from datetime import timedelta

from commander_world import DEVICE, NTP, World
from msm_common.contracts.command_document import CommandStatus, transition


def test_no_ack_means_resends_with_longer_windows_then_timed_out(world: World) -> None:
    command_id = world.request("reboot")
    assert world.later(29) == set() and world.sent_ids() == [command_id]
    world.later(1)  # the first 30 s window is over
    assert world.sent_ids() == [command_id] * 2 and world.status(command_id) == "sent"
    world.later(59)
    assert len(world.sender.sent) == 2  # the second window is 60 s
    world.later(1)
    assert len(world.sender.sent) == 3
    world.later(120)
    assert world.status(command_id) == "timed_out"
    assert world.store.commands[command_id]["history"][-1]["reason"] == (
        "no acknowledgement after 3 attempt(s)"
    )
    assert world.events.statuses(command_id)[-1] == "timed_out"


def test_an_ack_to_a_resend_still_succeeds(world: World) -> None:
    command_id = world.request("reboot")
    world.later(30)
    world.ack(command_id)
    assert world.status(command_id) == "succeeded"


def test_a_timed_out_command_lets_the_next_one_go(world: World) -> None:
    first = world.request("reboot", ttl=timedelta(days=1))
    second = world.request("ntp", NTP, ttl=timedelta(days=1))
    for seconds in (30, 60, 120):
        world.later(seconds)
    assert (world.status(first), world.status(second)) == ("timed_out", "sent")


def test_a_queued_command_expires_while_its_device_is_offline(world: World) -> None:
    world.store.add_device(DEVICE, connected=False)
    command_id = world.request("reboot", ttl=timedelta(minutes=10))
    assert world.later(599) == set() and world.status(command_id) == "queued"
    assert world.later(1) == {DEVICE}
    assert world.status(command_id) == "expired" and world.sender.sent == []


def test_a_sent_command_expires_instead_of_being_resent(world: World) -> None:
    command_id = world.request("reboot", ttl=timedelta(seconds=20))
    world.later(30)
    assert world.status(command_id) == "expired"
    assert world.sent_ids() == [command_id]


def test_an_offline_device_keeps_its_attempt_until_it_is_back(world: World) -> None:
    command_id = world.request("reboot")
    world.presence(False)
    world.later(30)
    world.later(30)
    doc = world.store.commands[command_id]
    assert doc["status"] == "sent" and doc["attempts"] == 1
    assert doc["deadline_at"] == world.now + timedelta(seconds=30)  # held, not resent
    world.presence(True)
    assert world.sent_ids() == [command_id, command_id]


def test_nothing_is_sent_while_the_broker_is_unreachable(world: World) -> None:
    world.sender.connected = False
    command_id = world.request("reboot")
    assert world.status(command_id) == "queued"
    world.sender.connected = True
    world.later(10)  # the ticker wakes the stalled device (stall grace 5 s)
    assert world.status(command_id) == "sent"


def test_a_newer_config_of_the_same_kind_supersedes_the_waiting_one(world: World) -> None:
    busy = world.request("reboot")
    old = world.request("ntp", NTP)
    world.clock.now += timedelta(seconds=1)
    new = world.request("ntp", {**NTP, "server_1": "ntp.example.org"})
    assert world.status(old) == "superseded"
    assert world.store.commands[old]["history"][-1]["reason"] == f"superseded by {new}"
    world.ack(busy)
    assert world.status(new) == "sent"
    assert world.sent_payload()["server_1"] == "ntp.example.org"


def test_a_command_cancelled_by_the_api_is_never_sent(world: World) -> None:
    busy = world.request("reboot")
    cancelled = world.request("ntp", NTP)
    doc = world.store.commands[cancelled]
    update = transition("ntp", CommandStatus.CANCELLED, "cancelled by operator", world.now)
    assert world.store.apply(doc, update)
    nxt = world.request("reboot")
    world.ack(busy)
    assert world.status(cancelled) == "cancelled"
    assert world.sent_ids() == [busy, nxt]


def test_a_decommissioned_device_gets_its_queued_commands_rejected(world: World) -> None:
    busy = world.request("reboot")
    waiting = world.request("ntp", NTP)
    world.store.devices[DEVICE]["status"] = "decommissioned"
    world.ack(busy)
    assert world.status(waiting) == "rejected"
    assert world.store.commands[waiting]["history"][-1]["reason"] == "device_decommissioned"


def test_the_ticker_republishes_unconfirmed_events_of_finished_commands(world: World) -> None:
    command_id = world.request("reboot")
    world.ack(command_id)
    world.events.published.clear()
    world.later(11)  # past the outbox grace (10 s)
    assert world.events.statuses(command_id) == ["queued", "sent", "succeeded"]
    world.store.mark_events_published([(command_id, 2)])
    world.events.published.clear()
    world.later(11)
    assert world.events.published == []


def test_the_in_flight_gauge_counts_sent_commands(world: World) -> None:
    world.request("reboot")
    world.request("reboot", device="meter-0002")  # unknown: rejected, not in flight
    world.later(1)
    registry = world.commander.metrics.registry
    assert registry.get_sample_value("msm_commander_in_flight") == 1
