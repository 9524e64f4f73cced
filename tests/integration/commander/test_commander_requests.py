"""Command requests: stored by someone else, unknown devices, duplicate keys, poison messages."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from commander_harness import EventTap, doc, until, utcnow
from msm_common.adapters.amqp_topology import DEAD_LETTER_EXCHANGE
from support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def dead_letters(amqp_url, queue_names):
    tap = EventTap(amqp_url, DEAD_LETTER_EXCHANGE, (f"dead.{queue_names['requests_queue']}",))
    yield tap
    tap.close()


def test_a_request_nobody_stored_is_stored_and_delivered(
    commander, api, meter, mongo_db, status_events
) -> None:
    m = meter()
    cid = api.request(m.uuid, "sftp", store=False, idempotency_key="k-foreign")
    done = until(mongo_db, cid, "succeeded")
    assert [h["status"] for h in done["history"]] == ["queued", "sent", "succeeded"]
    assert done["requested_by"] == "tester" and done["idempotency_key"] == "k-foreign"
    assert "password" not in done["params"]
    events = wait_for(
        "3 status events", lambda: len(status_events.events()) >= 3 and status_events.events(), 5
    )
    assert [e["data"]["status"] for e in events] == ["queued", "sent", "succeeded"]


def test_a_request_for_an_unknown_device_is_rejected(commander, api, meter, mongo_db) -> None:
    m = meter(known=False)
    cid = api.request(m.uuid, "mqtt", store=False)
    rejected = until(mongo_db, cid, "rejected")
    assert rejected["history"][-1]["reason"] == "unknown_device"
    assert "broker_password" not in rejected["params"] and m.ids() == []


def test_a_stored_command_whose_device_is_gone_is_rejected(commander, api, meter, mongo_db) -> None:
    m = meter(known=False)
    cid = api.request(m.uuid, "reboot")
    assert until(mongo_db, cid, "rejected")["history"][-1]["reason"] == "unknown_device"


def test_unknown_devices_can_be_allowed(start_commander, api, meter, mongo_db) -> None:
    start_commander(allow_unknown_devices=True)
    m = meter(known=False)
    until(mongo_db, api.request(m.uuid, "reboot", store=False), "succeeded")


def test_a_decommissioned_device_gets_nothing(commander, api, meter, mongo_db) -> None:
    m = meter()
    mongo_db["devices"].update_one({"_id": m.uuid}, {"$set": {"status": "decommissioned"}})
    cid = api.request(m.uuid, "reboot")
    assert until(mongo_db, cid, "rejected")["history"][-1]["reason"] == "device_decommissioned"


def test_a_duplicate_idempotency_key_is_rejected(commander, api, meter, mongo_db) -> None:
    m = meter()
    first = api.request(m.uuid, "reboot", idempotency_key="same-key")
    second = api.request(m.uuid, "reboot", idempotency_key="same-key", store=False)
    until(mongo_db, first, "succeeded")
    rejected = until(mongo_db, second, "rejected")
    assert rejected["history"][-1]["reason"] == (
        f"duplicate_idempotency_key: already used by command {first}"
    )
    assert m.ids() == [first]


def test_a_redelivered_request_is_delivered_once(commander, api, meter, mongo_db) -> None:
    m = meter()
    cid = api.request(m.uuid, "ntp")
    until(mongo_db, cid, "succeeded")
    body = orjson.dumps({**orjson.loads(_request_body(mongo_db, cid))})
    api.publish_raw(body)
    again = api.request(m.uuid, "reboot")  # processed after the replay
    until(mongo_db, again, "succeeded")
    assert m.ids() == [cid, again]


def _request_body(db, command_id: str) -> bytes:
    d = doc(db, command_id)
    return orjson.dumps(
        {
            "command_id": command_id,
            "device_uuid": d["device_uuid"],
            "type": d["type"],
            "params": d["params"],
            "requested_by": "tester",
            "requested_at": d["created_at"].isoformat(),
            "expires_at": d["expires_at"].isoformat(),
        }
    )


def test_malformed_requests_are_dead_lettered_and_rejected_when_identifiable(
    commander, api, meter, mongo_db, dead_letters
) -> None:
    m = meter()
    queued = api.request(m.uuid, "reboot", store=True)
    bad_params = orjson.dumps(
        {
            "command_id": "bad-1",
            "device_uuid": m.uuid,
            "type": "ntp",
            "params": {"server_1": "not a host!"},
            "requested_by": "x",
            "requested_at": "2026-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    )
    api.publish_raw(bad_params)
    api.publish_raw(b"\xff not json at all")
    api.publish_raw(b'{"command_id": "bad-2"}')
    after = api.request(m.uuid, "ntp")  # the commander is still working

    until(mongo_db, queued, "succeeded")
    until(mongo_db, after, "succeeded")
    rejected = until(mongo_db, "bad-1", "rejected")
    assert rejected["history"][-1]["reason"].startswith("malformed_request: params.server_1")
    dead = wait_for(
        "3 dead letters", lambda: len(dead_letters.bodies) >= 3 and dead_letters.bodies, 10
    )
    assert sorted(dead) == sorted([bad_params, b"\xff not json at all", b'{"command_id": "bad-2"}'])
    assert doc(mongo_db, "bad-2") is None  # no device: nothing to attach a state to
    assert m.ids() == [queued, after]


def test_poison_events_are_dead_lettered_too(
    commander, amqp_url, queue_names, api, meter, mongo_db, relay
) -> None:
    tap = EventTap(amqp_url, DEAD_LETTER_EXCHANGE, (f"dead.{queue_names['acks_queue']}",))
    try:
        relay._publish("msm.command.ack", "dev-x", {"status": "what?"})
        wait_for("a dead-lettered ack event", lambda: tap.bodies, 10)
        m = meter()
        until(mongo_db, api.request(m.uuid, "reboot"), "succeeded")
    finally:
        tap.close()


def test_unconfirmed_status_events_of_finished_commands_are_republished(
    commander, mongo_db, status_events
) -> None:
    """What a crash between a final transition and its event's confirm leaves behind."""
    at = utcnow() - timedelta(minutes=1)
    history = [
        {"status": s, "at": at, "reason": s, "attempts": n}
        for s, n in (("queued", 0), ("sent", 1), ("succeeded", 1))
    ]
    mongo_db["commands"].insert_one(
        {
            "_id": "crashed-1",
            "device_uuid": "dev-crash",
            "type": "reboot",
            "params": {},
            "status": "succeeded",
            "history": history,
            "attempts": 1,
            "created_at": at,
            "updated_at": at,
            "expires_at": at + timedelta(days=1),
            "event_pending": True,
        }
    )

    events = wait_for(
        "the republished history",
        lambda: len(status_events.events()) >= 3 and status_events.events(),
        10,
    )
    assert [(e["id"], e["data"]["previous"], e["data"]["status"]) for e in events[:3]] == [
        ("crashed-1:0", None, "queued"),
        ("crashed-1:1", "queued", "sent"),
        ("crashed-1:2", "sent", "succeeded"),
    ]
    wait_for("the flag cleared", lambda: "event_pending" not in doc(mongo_db, "crashed-1"), 5)
