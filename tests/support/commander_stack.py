"""The stack the commander end-to-end tests run: msm-api, msm-ingest, msm-commander and
msm-localiot as processes (as operators run them), metersim meters, and helpers to drive them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_common.adapters import mongo
from msm_metersim import AckPolicy, Fleet, registered_device

from support.e2e import answers, free_port, http, mqtt_identity, ready, wait_for
from support.services import ROOT, unique

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
    "MSM_COMMANDER_ACK_TIMEOUT_S": "1.0",
    "MSM_COMMANDER_RETRY_BACKOFF_FACTOR": "1.5",
    "MSM_COMMANDER_MAX_ATTEMPTS": "3",
    "MSM_COMMANDER_TICK_INTERVAL_S": "0.2",
    "MSM_COMMANDER_STALL_GRACE_S": "1",
    "MSM_COMMANDER_OUTBOX_GRACE_S": "2",
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


def running_stack(endpoints: Any, amqp_url: str, logs: Path) -> Iterator[Stack]:
    """API, ingest, commander (and localiot unless one runs) plus a fleet of meters, on a
    database and queues of their own; everything stopped and dropped afterwards."""
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
            **mqtt_identity("ingest"),
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
            **mqtt_identity("commander"),
            "MSM_METRICS_PORT": str(ports["commander"]),
            "MSM_COMMANDER_REQUESTS_QUEUE": f"{tag}.requests",
            "MSM_COMMANDER_ACKS_QUEUE": f"{tag}.acks",
            "MSM_COMMANDER_PRESENCE_QUEUE": f"{tag}.presence",
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
                    **mqtt_identity("localiot"),
                    "MSM_LOCALIOT_HTTP_LISTEN": f"127.0.0.1:{ports['localiot']}",
                    "MSM_METRICS_PORT": "0",
                },
                logs,
            )
        )
    fleet: Fleet | None = None
    try:
        mongo.ensure_indexes(db)
        db["devices"].insert_many([registered_device(d) for d in devices])
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


def wait_api(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    wait_for("api /healthz", lambda: http("GET", f"{base}/healthz")[0] == 200, 30)
    return base
