"""The meter state machine: what it publishes and how it answers commands (no I/O)."""

from __future__ import annotations

import random
import uuid as uuidlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from msm_common.contracts import (
    AckStatus,
    CommandAck,
    DeviceCommand,
    DeviceInfoMessage,
    TelemetryMessage,
    validate_params,
)
from msm_common.device_messages import parse_device_message
from msm_metersim import AckPolicy, Meter, MeterSpec
from msm_metersim.meter import Publish, Reboot

NOW = datetime(2025, 6, 1, 18, 30, tzinfo=UTC).timestamp()
UUID = "meter-0001"
MQTT = {
    "broker_ip": "10.0.0.9",
    "broker_port": 8883,
    "broker_user": "m",
    "broker_password": "hunter2",
    "data_interval": 15,
}


def make_meter(seed: int = 7, **spec) -> Meter:
    policy = spec.pop("policy", AckPolicy())
    return Meter(MeterSpec(UUID, serial="SIM-000001", **spec), policy, random.Random(seed))


def command_bytes(type_: str, command_id: str | None = None, *, expires_in=300, **params) -> bytes:
    issued = datetime.fromtimestamp(NOW, UTC)
    return DeviceCommand(
        command_id=command_id or uuidlib.uuid4().hex,
        type=type_,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=expires_in),
        params=validate_params(type_, params),
    ).to_payload()


def deliver(meter: Meter, type_: str, payload: bytes):
    return meter.on_message(f"msm/{UUID}/{type_}", payload, NOW)


def parse(message: Publish):
    return parse_device_message(
        message.topic, message.payload, received_at=datetime.fromtimestamp(NOW, UTC)
    )


def acks_of(reaction) -> list[CommandAck]:
    return [parse(a) for a in reaction.actions if isinstance(a, Publish) and a.ack is not None]


# -- payloads are on contract ------------------------------------------------------------------


@pytest.mark.parametrize("batch", [False, True])
def test_telemetry_is_on_contract_with_three_phases_per_channel(batch):
    meter = make_meter(batch=batch, channels=2)

    messages = [parse(m) for m in meter.telemetry(NOW)]

    assert all(isinstance(m, TelemetryMessage) for m in messages)
    assert len(messages) == (1 if batch else 6)
    readings = [r for m in messages for r in m.readings]
    assert sorted((r.channel_id, r.phase) for r in readings) == [
        (c, p) for c in (1, 2) for p in "ABC"
    ]
    assert {r.timestamp.timestamp() for r in readings} == {NOW}


def test_on_connect_the_meter_announces_itself_and_reports_its_shadow():
    meter = make_meter()

    info, report, get = meter.on_connected(NOW)

    parsed = parse(info)
    assert isinstance(parsed, DeviceInfoMessage)
    assert len(parsed.device_imei) == 15 and parsed.device_imei.isdigit()
    assert (parsed.mqtt_status, parsed.sftp_status, parsed.extra["serial"]) == (
        True,
        False,
        "SIM-000001",
    )
    assert report.topic == f"$aws/things/{UUID}/shadow/update"
    assert orjson.loads(report.payload)["state"]["reported"]["data_interval"] == 60
    assert get.topic == f"$aws/things/{UUID}/shadow/get"


@pytest.mark.parametrize("legacy", [False, True])
def test_acks_are_on_contract_and_legacy_ones_carry_no_command_id(legacy):
    meter = make_meter(policy=AckPolicy(legacy=legacy))

    [ack] = acks_of(deliver(meter, "ntp", command_bytes("ntp", "c-1", server_1="pool.ntp.org")))

    assert ack.status is AckStatus.SUCCESS
    assert ack.command_id == (None if legacy else "c-1")


# -- answering commands --------------------------------------------------------------------------


def test_acks_and_foreign_payloads_on_the_command_topic_are_ignored():
    meter = make_meter()
    own_ack = b'{"command_id": "c-1", "status": "success", "message": "ntp applied"}'

    for payload in (own_ack, b'{"status":"ok"}', b"OK", b"not json", b"[1, 2]"):
        reaction = deliver(meter, "ntp", payload)
        assert reaction.actions == [] and reaction.delivery is None


def test_a_resent_command_gets_the_same_ack_and_is_applied_once():
    meter = make_meter()
    payload = command_bytes("reboot", "r-1")

    first, second = deliver(meter, "reboot", payload), deliver(meter, "reboot", payload)

    assert acks_of(first) == acks_of(second)
    assert [type(a) for a in first.actions] == [Publish, Reboot]
    assert [type(a) for a in second.actions] == [Publish]
    assert (first.delivery.duplicate, second.delivery.duplicate) == (False, True)
    assert meter.reboots == 1


def test_reboot_is_scheduled_after_the_ack_and_its_delay():
    meter = make_meter(reboot_downtime_s=3.0, policy=AckPolicy(ack_delay_ms=500))

    ack, reboot = deliver(meter, "reboot", command_bytes("reboot", delay_s=5)).actions

    assert isinstance(ack, Publish) and ack.delay_s == 0.5
    assert isinstance(reboot, Reboot) and reboot.delay_s > 5 and reboot.downtime_s == 3.0


@pytest.mark.parametrize("kind", ["mqtt", "sftp"])
def test_a_config_command_sets_data_interval_and_reports_it_without_secrets(kind):
    meter = make_meter()
    params = (
        MQTT
        if kind == "mqtt"
        else {
            "server_ip": "10.0.0.8",
            "server_port": 22,
            "username": "m",
            "password": "hunter2",
            "data_interval": 15,
        }
    )

    reaction = deliver(meter, kind, command_bytes(kind, **params))

    assert meter.data_interval == 15
    [report] = [a for a in reaction.actions if a.ack is None]
    assert b"hunter2" not in report.payload
    assert orjson.loads(report.payload)["state"]["reported"][kind]["data_interval"] == 15


def test_invalid_and_expired_commands_are_rejected_and_not_applied():
    meter = make_meter()
    bad = orjson.dumps(
        {
            "command_id": "x-1",
            "type": "mqtt",
            "origin": "cloud",
            "issued_at": "2025-06-01T18:00:00Z",
            "expires_at": "2025-06-01T19:00:00Z",
            "broker_ip": "10.0.0.1",
            "data_interval": 5,
        }
    )
    issued = datetime.fromtimestamp(NOW - 600, UTC)
    expired = DeviceCommand(
        command_id="x-2",
        type="mqtt",
        issued_at=issued,
        expires_at=issued + timedelta(seconds=60),
        params=validate_params("mqtt", MQTT),
    ).to_payload()

    [invalid_ack] = acks_of(deliver(meter, "mqtt", bad))
    [expired_ack] = acks_of(deliver(meter, "mqtt", expired))

    assert invalid_ack.status is AckStatus.REJECTED and "broker_port" in invalid_ack.message
    assert (expired_ack.status, expired_ack.message) == (AckStatus.REJECTED, "command expired")
    assert meter.data_interval == 60 and meter.config == {}


def test_a_failed_config_is_not_applied():
    meter = make_meter(policy=AckPolicy(fail_rate=1.0))

    [ack] = acks_of(deliver(meter, "mqtt", command_bytes("mqtt", **MQTT)))

    assert ack.status is AckStatus.FAILED
    assert meter.data_interval == 60


def test_a_dropped_ack_is_never_published_but_the_command_is_applied():
    meter = make_meter(policy=AckPolicy(drop_rate=1.0))

    reaction = deliver(meter, "mqtt", command_bytes("mqtt", **MQTT))

    assert acks_of(reaction) == [] and reaction.delivery.acked is False
    assert meter.data_interval == 15


def test_seeded_meters_decide_the_same_way():
    policy = AckPolicy(fail_rate=0.3, reject_rate=0.3, drop_rate=0.2)
    commands = [command_bytes("ntp", f"c-{i}", server_1="pool.ntp.org") for i in range(40)]

    def run():
        meter = make_meter(seed=42, policy=policy)
        return [
            (r.delivery.outcome, r.delivery.acked)
            for r in (deliver(meter, "ntp", c) for c in commands)
        ]

    outcomes = run()
    assert outcomes == run()
    assert {o for o, _ in outcomes} == {AckStatus.SUCCESS, AckStatus.FAILED, AckStatus.REJECTED}
    assert {a for _, a in outcomes} == {True, False}


def test_commands_for_another_meter_are_ignored():
    meter = make_meter()

    reaction = meter.on_message("msm/someone-else/ntp", command_bytes("ntp", server_1="a.b"), NOW)

    assert reaction.delivery is None


# -- shadow --------------------------------------------------------------------------------------


def test_a_shadow_delta_sets_data_interval_and_reports_it_back():
    meter = make_meter()

    [report] = meter.on_message(
        f"$aws/things/{UUID}/shadow/update/delta", b'{"state":{"data_interval":30}}', NOW
    ).actions

    assert meter.data_interval == 30
    assert orjson.loads(report.payload) == {"state": {"reported": {"data_interval": 30}}}


def test_a_pending_delta_from_shadow_get_is_applied_and_nonsense_is_not():
    meter = make_meter()
    got = b'{"state":{"desired":{"data_interval":45},"delta":{"data_interval":45}},"version":3}'

    meter.on_message(f"$aws/things/{UUID}/shadow/get/accepted", got, NOW)
    for bad in (b'{"state":{"data_interval":0}}', b'{"state":{"data_interval":true}}', b"{"):
        meter.on_message(f"$aws/things/{UUID}/shadow/update/delta", bad, NOW)

    assert meter.data_interval == 45
