"""Commands end to end: the API -> RabbitMQ -> msm-commander -> mosquitto -> metersim meters ->
their acks -> msm-ingest -> command.ack events -> the commander -> the API's answers.

Everything runs as operators run it (`msm-api`, `msm-ingest`, `msm-commander`, and `msm-localiot`
for presence unless one is already running) on a database and RabbitMQ queues of this module's
own; ingest listens to this module's meters only. Each test drives meters of its own and counts
what they received (metersim's journal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from msm_common.adapters import mongo
from msm_metersim import AckPolicy, Fleet
from support.e2e import answers, free_port, http, wait_for
from support.services import ROOT, unique

pytestmark = pytest.mark.e2e
BIN = ROOT / ".venv/bin"
ADMIN = ("e2e-commands@example.com", "e2e-commands-password-1")
NTP = {"server_1": "pool.ntp.org", "server_2": "time.example.com"}
MQTT = {
    "broker_ip": "10.9.8.7",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "e2e-mqtt-secret",
    "data_interval": 30,
}
SFTP = {
    "server_ip": "sftp.example.com",
    "server_port": 22,
    "username": "meter",
    "password": "e2e-sftp-secret",
    "data_interval": 600,
}
PARAMS: dict[str, dict[str, Any]] = {"reboot": {}, "ntp": NTP, "mqtt": MQTT, "sftp": SFTP}
# The commander's retry policy here: 1 s, then 1.5 s and 2.25 s for an ack, 3 sends at most.
COMMANDER_ENV = {
    "MSM_ACK_TIMEOUT_S": "1.0",
    "MSM_RETRY_BACKOFF_FACTOR": "1.5",
    "MSM_MAX_ATTEMPTS": "3",
    "MSM_TICK_INTERVAL_S": "0.2",
    "MSM_STALL_GRACE_S": "1",
    "MSM_OUTBOX_GRACE_S": "2",
}
METERS = 12
FINAL = {"succeeded", "failed", "rejected", "timed_out", "expired", "cancelled", "superseded"}


class Process:
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.env, self.log = name, env, logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / self.name)], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        return self

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        return True

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Stack:
    api: str
    token: str
    fleet: Fleet
    db: Any
    commander: Process
    commander_port: int
    free: list[str]

    def meter(self, **policy: Any) -> str:
        """A meter no other test uses, answering as `policy` says."""
        device = self.free.pop()
        self.fleet.set_policy(device, AckPolicy(**policy))
        return device

    def command(self, device: str, type_: str, params: dict[str, Any] | None = None) -> str:
        status, body = http(
            "POST",
            f"{self.api}/api/devices/{device}/{type_}",
            PARAMS[type_] if params is None else params,
            self.token,
        )
        assert status == 202, body
        return str(body["command_id"])

    def get(self, path: str) -> Any:
        status, body = http("GET", f"{self.api}{path}", token=self.token)
        assert status == 200, body
        return body

    def status(self, command_id: str) -> dict[str, Any]:
        return self.get(f"/api/commands/{command_id}")

    def until(self, command_id: str, *wanted: str, timeout: float = 20) -> dict[str, Any]:
        wanted = wanted or tuple(FINAL)
        return wait_for(
            f"{command_id} {wanted}",
            lambda: (c := self.status(command_id))["status"] in wanted and c,
            timeout,
        )

    def online(self, device: str) -> bool:
        return bool(self.get(f"/api/devices/{device}/status")["online"])

    def take_offline(self, device: str) -> None:
        self.fleet.take_offline(device)
        wait_for(f"{device} offline in the API", lambda: not self.online(device), 20)

    def bring_online(self, device: str) -> None:
        self.fleet.bring_online(device)

    def received(self, device: str) -> list[tuple[str | None, int]]:
        """(command id, deliveries) in the order the meter first received them."""
        return [(c.command_id, c.deliveries) for c in self.fleet.received_commands(device)]


@pytest.fixture(scope="module")
def stack(endpoints: Any, amqp_url: str, tmp_path_factory: Any) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-commander")
    client = mongo.connect(endpoints.mongo_uri)
    db_name = unique("e2ecmd").replace("-", "_")
    db = client[db_name]
    tag = unique("e2e")
    devices = [unique("e2e-meter") for _ in range(METERS)]
    ports = {name: free_port() for name in ("api", "ingest", "commander", "localiot")}
    env = {
        **os.environ,
        "MSM_ENV": "test",
        "MSM_MONGO_DB": db_name,
        "MSM_AMQP_URL": amqp_url,
        "MSM_LOG_LEVEL": "INFO",
    }
    api = Process(
        "msm-api",
        {
            **env,
            "MSM_API_PORT": str(ports["api"]),
            "MSM_WORKERS": "1",
            "MSM_ADMIN_EMAIL": ADMIN[0],
            "MSM_ADMIN_PASSWORD": ADMIN[1],
            "MSM_SECRETS_DIR": str(logs / "secrets"),
            "MSM_METRICS_PORT": "0",
        },
        logs,
    )
    ingest = Process(
        "msm-ingest",
        {
            **env,
            "MSM_METRICS_PORT": str(ports["ingest"]),
            "MSM_INGEST_CLIENT_ID": tag,
            "MSM_INGEST_SUBSCRIBE_DEVICES": ",".join(devices),
            "MSM_INGEST_SHADOW_ENABLED": "false",
            "MSM_INGEST_BATCH_MAX_WAIT_MS": "5",
        },
        logs,
    )
    commander = Process(
        "msm-commander",
        {
            **env,
            **COMMANDER_ENV,
            "MSM_METRICS_PORT": str(ports["commander"]),
            "MSM_REQUESTS_QUEUE": f"{tag}.requests",
            "MSM_ACKS_QUEUE": f"{tag}.acks",
            "MSM_PRESENCE_QUEUE": f"{tag}.presence",
        },
        logs,
    )
    running = [api, ingest, commander]
    if not answers(5056):  # no localiot: presence events come from one of our own
        running.append(
            Process(
                "msm-localiot",
                {
                    **env,
                    "MSM_LOCALIOT_HTTP_LISTEN": f"127.0.0.1:{ports['localiot']}",
                    "MSM_METRICS_PORT": "0",
                },
                logs,
            )
        )
    fleet: Fleet | None = None
    try:
        mongo.ensure_indexes(db)
        db["devices"].insert_many(
            [
                {
                    "_id": d,
                    "device_imei": "356938035643809",
                    "mqtt_status": False,
                    "sftp_status": False,
                }
                for d in devices
            ]
        )
        for proc in running:
            proc.start()
        wait_for("api", lambda: api.alive() and answers(ports["api"]), 60)
        wait_for("ingest", lambda: ingest.alive() and ready(ports["ingest"]), 60)
        wait_for("commander", lambda: commander.alive() and ready(ports["commander"]), 60)
        status, tokens = http(
            "POST",
            f"{wait_api(ports['api'])}/api/auth/login",
            {"email": ADMIN[0], "password": ADMIN[1]},
        )
        assert status == 200, tokens
        fleet = Fleet.start(
            METERS, uuids=devices, interval_s=3600, reboot_downtime_s=0.5, wait_s=60
        )
        stack = Stack(
            f"http://127.0.0.1:{ports['api']}",
            tokens["access_token"],
            fleet,
            db,
            commander,
            ports["commander"],
            list(devices),
        )
        wait_for("meters online in the API", lambda: all(stack.online(d) for d in devices), 30)
        yield stack
    finally:
        if fleet is not None:
            fleet.stop()
        for proc in reversed(running):
            proc.stop()
        client.drop_database(db_name)
        client.close()


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_api(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    wait_for("api /healthz", lambda: http("GET", f"{base}/healthz")[0] == 200, 30)
    return base


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
