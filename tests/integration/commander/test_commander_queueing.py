"""Offline devices, presence, supersede, expiry and cancel."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from commander_harness import Ack, always, doc, until, utcnow
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def status(db, command_id: str) -> str:
    return doc(db, command_id)["status"]


def go_online(db, relay, meter) -> None:
    """What ingest does on a connect: record connectivity, then publish the presence event
    (stamped with the moment of the connection, which came first)."""
    connected_at = utcnow()
    db["devices"].update_one({"_id": meter.uuid}, {"$set": {"connectivity.connected": True}})
    relay.presence(meter.uuid, True, at=connected_at)


def test_an_offline_device_gets_its_queued_commands_in_order_when_it_connects(
    commander, api, meter, mongo_db, relay
) -> None:
    m = meter(online=False)
    ids = [api.request(m.uuid, t) for t in ("reboot", "ntp", "sftp")]
    time.sleep(1.0)  # several ticks
    assert [status(mongo_db, c) for c in ids] == ["queued"] * 3 and m.ids() == []

    go_online(mongo_db, relay, m)
    for cid in ids:
        until(mongo_db, cid, "succeeded")
    assert m.ids() == ids


def test_presence_alone_wakes_the_device(commander, api, meter, mongo_db, relay) -> None:
    """The event is enough even before ingest's connectivity write is visible."""
    m = meter(online=False)
    cid = api.request(m.uuid, "reboot")
    time.sleep(0.5)
    relay.presence(m.uuid, True)
    until(mongo_db, cid, "succeeded")


def test_a_device_never_seen_connecting_counts_as_online(commander, api, meter, mongo_db) -> None:
    m = meter(online=None)
    until(mongo_db, api.request(m.uuid, "reboot"), "succeeded")


def test_a_newer_config_supersedes_a_queued_older_one(
    commander, api, meter, mongo_db, relay
) -> None:
    m = meter(online=False)
    old = api.request(m.uuid, "ntp", {"server_1": "old.example.com"})
    reboot = api.request(m.uuid, "reboot")
    new = api.request(m.uuid, "ntp", {"server_1": "new.example.com"})
    superseded = until(mongo_db, old, "superseded")
    assert superseded["history"][-1]["reason"] == f"superseded by {new}"

    go_online(mongo_db, relay, m)
    until(mongo_db, new, "succeeded")
    assert m.ids() == [reboot, new]
    assert mongo_db["ntp"].find_one({"device_uuid": m.uuid})["server_1"] == "new.example.com"


def test_a_config_already_sent_is_not_superseded(commander, api, meter, mongo_db) -> None:
    m = meter(always(Ack("success", delay=0.5)))
    first = api.request(m.uuid, "mqtt")
    wait_for("first delivery", m.ids, 5)
    second = api.request(
        m.uuid,
        "mqtt",
        {**doc(mongo_db, first)["params"], "broker_password": "pw2", "data_interval": 30},
    )
    until(mongo_db, second, "succeeded")
    assert status(mongo_db, first) == "succeeded" and m.ids() == [first, second]
    assert mongo_db["mqtt"].find_one({"device_uuid": m.uuid})["data_interval"] == 30


def test_queued_commands_expire_while_the_device_is_offline(
    commander, api, meter, mongo_db, relay
) -> None:
    m = meter(online=False)
    short = api.request(m.uuid, "reboot", ttl=1.0)
    long = api.request(m.uuid, "ntp")
    expired = until(mongo_db, short, "expired", timeout=5)
    assert expired["history"][-1]["reason"] == "expired before it could be sent"
    assert status(mongo_db, long) == "queued"

    go_online(mongo_db, relay, m)
    until(mongo_db, long, "succeeded")
    assert m.ids() == [long]


def test_a_cancelled_command_is_never_sent(commander, api, meter, mongo_db, relay) -> None:
    m = meter(online=False)
    keep1, drop, keep2 = (api.request(m.uuid, t) for t in ("reboot", "ntp", "sftp"))
    assert api.cancel(drop)

    go_online(mongo_db, relay, m)
    until(mongo_db, keep2, "succeeded")
    assert m.ids() == [keep1, keep2] and status(mongo_db, drop) == "cancelled"


def test_a_command_sent_to_a_device_that_went_offline_waits_without_spending_attempts(
    quick_commander, api, meter, mongo_db, relay
) -> None:
    m = meter(lambda _cmd, nth: [Ack(None if nth == 1 else "success")])
    cid = api.request(m.uuid, "reboot")
    wait_for("first delivery", m.ids, 5)
    mongo_db["devices"].update_one({"_id": m.uuid}, {"$set": {"connectivity.connected": False}})
    relay.presence(m.uuid, False)
    time.sleep(2.5)  # well past the 0.6 + 0.9 + 1.35 s of three attempts
    held = doc(mongo_db, cid)
    assert (held["status"], held["attempts"], m.ids()) == ("sent", 1, [cid])
    # always a live deadline: the ticker (every 0.2-1 s) keeps pushing it on; allow a slow tick
    assert held["deadline_at"] > utcnow() - timedelta(seconds=5)

    go_online(mongo_db, relay, m)
    done = until(mongo_db, cid, "succeeded")
    assert done["attempts"] == 2 and m.ids() == [cid, cid]
