"""Delivery and acknowledgements: the commander against real Mongo, RabbitMQ and mosquitto."""

from __future__ import annotations

import itertools
import time

import pytest
from commander_harness import Ack, always
from support.command_samples import MQTT, NTP, SFTP
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def final(db, command_id: str, timeout: float = 10.0) -> dict:
    return wait_for(
        f"command {command_id} to finish",
        lambda: (
            (d := db["commands"].find_one({"_id": command_id}))
            and d["status"] not in ("queued", "sent")
            and d
        ),
        timeout,
    )


def statuses(doc: dict) -> list[str]:
    return [h["status"] for h in doc["history"]]


def test_every_command_type_succeeds_and_updates_its_config(
    commander, api, meter, mongo_db, status_events, secret_box
) -> None:
    m = meter()
    ids = [api.request(m.uuid, t) for t in ("reboot", "ntp", "mqtt", "sftp")]
    docs = [final(mongo_db, cid) for cid in ids]

    assert [d["status"] for d in docs] == ["succeeded"] * 4
    assert m.ids() == ids  # one each, in arrival order
    assert all(statuses(d) == ["queued", "sent", "succeeded"] for d in docs)
    assert all(d["attempts"] == 1 and d["ack"]["status"] == "success" for d in docs)
    # Each payload is the contract command.
    first = m.received[2].body
    assert first["origin"] == "cloud" and first["type"] == "mqtt" and "expires_at" in first
    assert first["broker_password"] == MQTT["broker_password"]
    # Secrets are purged from finished commands but kept in the device's config documents.
    assert "broker_password" not in docs[2]["params"] and "password" not in docs[3]["params"]
    ntp = mongo_db["ntp"].find_one({"device_uuid": m.uuid})
    mqtt = mongo_db["mqtt"].find_one({"device_uuid": m.uuid})
    sftp = mongo_db["sftp"].find_one({"device_uuid": m.uuid})
    assert {k: ntp[k] for k in NTP} == NTP and ntp["command_id"] == ids[1]
    # ... encrypted: only the commander's key opens them.
    assert mqtt["broker_password"] != MQTT["broker_password"]
    assert secret_box.open(mqtt["broker_password"]) == MQTT["broker_password"]
    assert secret_box.open(sftp["password"]) == SFTP["password"]
    mqtt["broker_password"], sftp["password"] = MQTT["broker_password"], SFTP["password"]
    assert {k: mqtt[k] for k in MQTT} == MQTT and mqtt["command_id"] == ids[2]
    assert {k: sftp[k] for k in SFTP} == SFTP and sftp["command_id"] == ids[3]
    device = mongo_db["devices"].find_one({"_id": m.uuid})
    assert device["mqtt_status"] is True and device["sftp_status"] is True
    # Every transition was announced on msm.events as a command.status CloudEvent.
    events = wait_for(
        "8 command.status events",
        lambda: len(status_events.events()) >= 8 and status_events.events(),
        5,
    )
    mine = [e for e in events if e["data"]["command_id"] == ids[1]]
    assert [(e["data"]["previous"], e["data"]["status"]) for e in mine] == [
        ("queued", "sent"),
        ("sent", "succeeded"),
    ]
    assert all(e["type"] == "msm.command.status" and e["subject"] == m.uuid for e in mine)
    assert mine[0]["data"]["attempts"] == 1 and mine[0]["data"]["type"] == "ntp"
    # ... and the outbox flag is cleared once RabbitMQ confirmed them.
    wait_for(
        "outbox flags cleared",
        lambda: mongo_db["commands"].count_documents({"event_pending": True}) == 0,
        5,
    )


@pytest.mark.parametrize("status", ["failed", "rejected"])
def test_failure_and_reject_acks_finish_the_command_with_the_device_message(
    commander, api, meter, mongo_db, status
) -> None:
    m = meter(always(Ack(status, message="disk full")))
    cid = api.request(m.uuid, "sftp")
    nxt = api.request(m.uuid, "reboot")
    doc = final(mongo_db, cid)

    assert doc["status"] == status and doc["history"][-1]["reason"] == "disk full"
    assert "password" not in doc["params"]
    assert mongo_db["sftp"].find_one({"device_uuid": m.uuid}) is None  # config unchanged
    assert mongo_db["devices"].find_one({"_id": m.uuid})["sftp_status"] is False
    assert final(mongo_db, nxt)["status"] == status  # the device is free for the next one


def test_an_unacknowledged_command_is_resent_with_the_same_id_then_times_out(
    quick_commander, api, meter, mongo_db
) -> None:
    m = meter(always(Ack(None)))
    cid = api.request(m.uuid, "ntp")
    doc = final(mongo_db, cid)

    assert doc["status"] == "timed_out" and doc["attempts"] == 3
    assert m.ids() == [cid, cid, cid]
    assert statuses(doc) == ["queued", "sent", "sent", "sent", "timed_out"]
    gaps = [b.at - a.at for a, b in zip(m.received, m.received[1:], strict=False)]
    assert gaps[1] > gaps[0]  # the ack window grows between attempts (0.6 s, then 0.9 s)


def test_a_resend_that_is_acknowledged_succeeds(quick_commander, api, meter, mongo_db) -> None:
    m = meter(lambda _cmd, nth: [Ack(None if nth == 1 else "success")])
    cid = api.request(m.uuid, "reboot")
    doc = final(mongo_db, cid)
    assert (doc["status"], doc["attempts"], m.ids()) == ("succeeded", 2, [cid, cid])


def test_in_progress_gives_the_device_a_fresh_ack_window(
    quick_commander, api, meter, mongo_db
) -> None:
    m = meter(
        always(
            Ack("in_progress", delay=0.3), Ack("in_progress", delay=0.7), Ack("success", delay=1.1)
        )
    )
    cid = api.request(m.uuid, "mqtt")
    doc = final(mongo_db, cid)
    assert (doc["status"], doc["attempts"], m.ids()) == ("succeeded", 1, [cid])


def test_duplicate_acks_are_harmless(commander, api, meter, mongo_db, status_events) -> None:
    m = meter(always(Ack("success"), Ack("success", delay=0.1), Ack("failed", delay=0.2)))
    cid = api.request(m.uuid, "reboot")
    doc = final(mongo_db, cid)
    wait_for("status events", lambda: len(status_events.events()) >= 2, 5)
    time.sleep(0.6)  # the late duplicates have arrived and been ignored
    doc = mongo_db["commands"].find_one({"_id": cid})
    assert doc["status"] == "succeeded" and statuses(doc) == ["queued", "sent", "succeeded"]
    assert len([e for e in status_events.events() if e["data"]["status"] == "succeeded"]) == 1


def test_legacy_acks_without_id_match_the_oldest_in_flight_command_of_their_type(
    commander, api, meter, mongo_db
) -> None:
    m = meter(always(Ack("OK", legacy=True)))
    first, second = api.request(m.uuid, "ntp"), api.request(m.uuid, "reboot")
    assert final(mongo_db, first)["status"] == "succeeded"
    assert final(mongo_db, second)["status"] == "succeeded"
    assert mongo_db["ntp"].find_one({"device_uuid": m.uuid})["command_id"] == first


def test_a_legacy_ack_of_another_type_matches_nothing(
    quick_commander, api, meter, mongo_db, relay
) -> None:
    m = meter(always(Ack(None)))
    cid = api.request(m.uuid, "ntp")
    wait_for("delivery", m.ids, 5)
    relay.ack(m.uuid, "reboot", None, "success")
    doc = final(mongo_db, cid)
    assert doc["status"] == "timed_out"


def test_one_command_in_flight_per_device_in_arrival_order(
    commander, api, meter, mongo_db, relay
) -> None:
    m = meter(always(Ack("success", delay=0.25)))
    ids = [api.request(m.uuid, t) for t in ("reboot", "ntp", "reboot", "sftp", "reboot")]
    docs = [final(mongo_db, cid) for cid in ids]

    assert [d["status"] for d in docs] == ["succeeded"] * 5
    assert m.ids() == ids
    # Each was sent only after the previous one was acknowledged.
    for before, after in itertools.pairwise(docs):
        assert after["sent_at"] >= before["history"][-1]["at"]
