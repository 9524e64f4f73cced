"""Commands end to end: the API -> RabbitMQ -> msm-commander -> mosquitto -> metersim meters ->
their acks -> msm-ingest -> command.ack events -> the commander -> the API's answers.

Everything runs as operators run it (`msm-api`, `msm-ingest`, `msm-commander`, and `msm-localiot`
for presence unless one is already running) on a database and RabbitMQ queues of this module's
own; ingest listens to this module's meters only. Each test drives meters of its own and counts
what they received (metersim's journal).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from msm_common.adapters.amqp_topology import COMMAND_REQUEST_KEY, COMMANDS_EXCHANGE
from msm_common.secrets import is_sealed
from support.commander_stack import (
    MQTT,
    NTP,
    SFTP,
    Stack,
    running_stack,
)
from support.e2e import http, ready, wait_for
from support.secrets_scan import plaintext_anywhere

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(endpoints: Any, amqp_url: str, tmp_path_factory: Any) -> Iterator[Stack]:
    yield from running_stack(endpoints, amqp_url, tmp_path_factory.mktemp("e2e-commander"))


def test_every_command_type_succeeds_and_updates_its_config(stack: Stack) -> None:
    device = stack.meter()
    ids = [stack.command(device, t) for t in ("ntp", "mqtt", "sftp", "reboot")]
    done = [stack.until(cid) for cid in ids]

    assert [c["status"] for c in done] == ["succeeded"] * 4
    assert [h["status"] for h in done[0]["history"]] == ["queued", "sent", "succeeded"]
    assert stack.received(device) == [(cid, 1) for cid in ids]
    # The API shows each device's current configuration, never a password.
    ntp = stack.get(f"/api/ntp?device_uuid={device}")["items"][0]
    mqtt = stack.get(f"/api/mqtt?device_uuid={device}")["items"][0]
    sftp = stack.get(f"/api/sftp?device_uuid={device}")["items"][0]
    assert (ntp["server_1"], ntp["command_id"]) == (NTP["server_1"], ids[0])
    assert mqtt["broker_ip"] == MQTT["broker_ip"] and mqtt["broker_password_set"] is True
    assert "broker_password" not in mqtt and "password" not in sftp
    assert sftp["data_interval"] == SFTP["data_interval"]
    status = stack.get(f"/api/devices/{device}/status")
    assert status["mqtt_status"] is True and status["sftp_status"] is True
    # The meter applied them (its own state), and the commands keep no secret.
    meter = stack.fleet.meters[device]
    assert meter.config["mqtt"]["broker_password"] == MQTT["broker_password"]
    stored = stack.db["commands"].find_one({"_id": ids[1]})
    assert "broker_password" not in stored["params"]


@pytest.mark.parametrize(
    ("policy", "final"), [({"fail_rate": 1.0}, "failed"), ({"reject_rate": 1.0}, "rejected")]
)
def test_failure_and_reject_acks(stack: Stack, policy: dict[str, float], final: str) -> None:
    device = stack.meter(**policy)
    cid = stack.command(device, "sftp")
    done = stack.until(cid)
    assert done["status"] == final and "simulated" in done["history"][-1]["reason"]
    assert stack.get(f"/api/sftp?device_uuid={device}")["items"][0]["configured"] is False
    assert stack.get(f"/api/devices/{device}/status")["sftp_status"] is False


def test_dropped_acks_are_retried_then_timed_out(stack: Stack) -> None:
    device = stack.meter(drop_rate=1.0)
    cid = stack.command(device, "ntp")
    done = stack.until(cid, timeout=30)
    assert done["status"] == "timed_out" and done["attempts"] == 3
    assert stack.received(device) == [(cid, 3)]  # the same command id, three sends


def test_an_offline_meter_gets_its_queued_commands_in_order_when_it_reconnects(
    stack: Stack,
) -> None:
    device = stack.meter()
    stack.take_offline(device)
    ids = [stack.command(device, t) for t in ("reboot", "ntp", "sftp")]
    time.sleep(1.5)
    assert [stack.status(c)["status"] for c in ids] == ["queued"] * 3
    assert stack.received(device) == []

    stack.bring_online(device)
    assert [stack.until(c)["status"] for c in ids] == ["succeeded"] * 3
    assert stack.received(device) == [(c, 1) for c in ids]


def test_a_newer_config_supersedes_a_queued_one(stack: Stack) -> None:
    device = stack.meter()
    stack.take_offline(device)
    old = stack.command(device, "ntp", {"server_1": "old.example.com"})
    new = stack.command(device, "ntp", {"server_1": "new.example.com"})
    superseded = stack.until(old, "superseded")
    assert superseded["history"][-1]["reason"] == f"superseded by {new}"

    stack.bring_online(device)
    assert stack.until(new)["status"] == "succeeded"
    assert stack.received(device) == [(new, 1)]
    assert stack.get(f"/api/ntp?device_uuid={device}")["items"][0]["server_1"] == "new.example.com"


def test_a_queued_command_expires(stack: Stack) -> None:
    device = stack.meter()
    stack.take_offline(device)
    cid = stack.command(device, "reboot")
    # The API gives every command its configured lifetime (>= 60 s); a request with a short one
    # is what a client asking for it would get: the same document with an earlier expires_at.
    soon = datetime.now(UTC) + timedelta(seconds=1)
    stack.db["commands"].update_one({"_id": cid}, {"$set": {"expires_at": soon}})
    expired = stack.until(cid, "expired", timeout=10)
    assert expired["history"][-1]["reason"] == "expired before it could be sent"
    stack.bring_online(device)
    keep = stack.command(device, "ntp")
    assert stack.until(keep)["status"] == "succeeded"
    assert stack.received(device) == [(keep, 1)]


def test_a_cancelled_command_is_never_delivered(stack: Stack) -> None:
    device = stack.meter()
    stack.take_offline(device)
    cancel, keep = stack.command(device, "reboot"), stack.command(device, "ntp")
    status, body = http("POST", f"{stack.api}/api/commands/{cancel}/cancel", {}, stack.token)
    assert status == 200 and body["status"] == "cancelled", body

    stack.bring_online(device)
    assert stack.until(keep)["status"] == "succeeded"
    assert stack.status(cancel)["status"] == "cancelled"
    assert stack.received(device) == [(keep, 1)]


def test_legacy_acks_without_a_command_id(stack: Stack) -> None:
    device = stack.meter(legacy=True)
    ids = [stack.command(device, t) for t in ("ntp", "mqtt")]
    assert [stack.until(c)["status"] for c in ids] == ["succeeded"] * 2
    assert stack.get(f"/api/mqtt?device_uuid={device}")["items"][0]["command_id"] == ids[1]


def test_sigkill_of_the_commander_mid_flight(stack: Stack) -> None:
    """Kill -9 while commands are in flight: none lost, none sent more than 3 times."""
    meters = [stack.meter(ack_delay_ms=150, drop_rate=0.2) for _ in range(2)]
    sent = {
        m: [stack.command(m, t) for t in ("ntp", "mqtt", "sftp", "ntp", "mqtt", "sftp")]
        for m in meters
    }
    for pause in (0.4, 0.9, 0.6):
        time.sleep(pause)
        stack.commander.kill()
        stack.commander.start()
    wait_for("commander ready", lambda: stack.commander.alive() and ready(stack.commander_port), 60)
    ids = [c for cs in sent.values() for c in cs]
    final = {c: stack.until(c, timeout=60) for c in ids}

    for m in meters:
        got = dict(stack.received(m))
        for cid in sent[m]:
            command = final[cid]
            assert command["status"] in ("succeeded", "timed_out", "superseded"), command
            assert got.get(cid, 0) <= command["attempts"] <= 3, (cid, got, command)
        delivered = [c for c, _n in stack.received(m)]
        assert delivered == [c for c in sent[m] if c in delivered]  # one at a time, in order
    assert not stack.db["commands"].count_documents(
        {"_id": {"$in": ids}, "status": {"$in": ["queued", "sent"]}}
    )


def test_secrets_travel_encrypted_and_only_the_device_gets_them_in_clear(
    stack: Stack, amqp_url: str
) -> None:
    """From the API to the meter: the database and the RabbitMQ request hold ciphertext only."""
    with CommandTap(amqp_url) as tap:
        device = stack.meter()
        ids = [stack.command(device, "mqtt"), stack.command(device, "sftp")]
        done = [stack.until(cid) for cid in ids]
        requests = tap.bodies(ids)

    assert [c["status"] for c in done] == ["succeeded"] * 2
    config = stack.fleet.meters[device].config
    assert config["mqtt"]["broker_password"] == MQTT["broker_password"]
    assert config["sftp"]["password"] == SFTP["password"]
    plain = (MQTT["broker_password"], SFTP["password"])
    assert plaintext_anywhere(stack.db, plain) == []
    assert len(requests) == 2 and not any(p.encode() in b for b in requests for p in plain)
    # The finished commands keep no secret; the configs the meter accepted keep ciphertext.
    stored = [stack.db["commands"].find_one({"_id": cid}) for cid in ids]
    assert "broker_password" not in stored[0]["params"] and "password" not in stored[1]["params"]
    assert is_sealed(stack.db["mqtt"].find_one({"device_uuid": device})["broker_password"])
    assert is_sealed(stack.db["sftp"].find_one({"device_uuid": device})["password"])


class CommandTap:
    """A queue of our own bound to msm.commands: a copy of every command request published."""

    def __init__(self, amqp_url: str) -> None:
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self._ch = self._conn.channel()
        self._ch.exchange_declare(COMMANDS_EXCHANGE, "direct", durable=True)
        self._queue = self._ch.queue_declare("", exclusive=True).method.queue
        self._ch.queue_bind(self._queue, COMMANDS_EXCHANGE, COMMAND_REQUEST_KEY)

    def __enter__(self) -> CommandTap:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._conn.close()

    def bodies(self, command_ids: list[str]) -> list[bytes]:
        """The request bodies of these commands (other tests' requests are skipped)."""
        found: list[bytes] = []
        while (got := self._ch.basic_get(self._queue, auto_ack=True))[0] is not None:
            body = got[2]
            if any(cid.encode() in body for cid in command_ids):
                found.append(body)
        return found
