"""The stack the commander end-to-end tests run: msm-api, msm-ingest, msm-commander and
msm-localiot as processes (as operators run them), metersim meters, and helpers to drive them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_metersim import AckPolicy, Fleet, FleetOptions

from support.e2e import free_port, http, mqtt_identity, wait_for
from support.service_stack import Process, running_services
from support.services import unique

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
    tag = unique("e2e")
    devices = [unique("e2e-meter") for _ in range(METERS)]
    ports = {name: free_port() for name in ("api", "ingest", "commander", "localiot")}
    api_env = {
        "MSM_API_WORKERS": "1",
        "MSM_API_ADMIN_EMAIL": ADMIN[0],
        "MSM_API_ADMIN_PASSWORD": ADMIN[1],
    }
    with running_services(
        endpoints,
        amqp_url,
        logs,
        db_prefix="e2ecmd",
        tag=tag,
        devices=devices,
        ports=ports,
        identity=mqtt_identity,
        api_env=api_env,
        commander_env=COMMANDER_ENV,
    ) as services:
        status, tokens = http(
            "POST",
            f"{wait_api(ports['api'])}/api/auth/login",
            {"email": ADMIN[0], "password": ADMIN[1]},
        )
        assert status == 200, tokens
        fleet = Fleet.start(
            FleetOptions(devices=METERS, uuids=devices, interval_s=3600, reboot_downtime_s=0.5),
            wait_s=60,
        )
        try:
            stack = Stack(
                f"http://127.0.0.1:{ports['api']}",
                tokens["access_token"],
                fleet,
                services.db,
                services.commander,
                ports["commander"],
                list(devices),
            )
            wait_for("meters online in the API", lambda: all(stack.online(d) for d in devices), 30)
            yield stack
        finally:
            fleet.stop()


def wait_api(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    wait_for("api /healthz", lambda: http("GET", f"{base}/healthz")[0] == 200, 30)
    return base
