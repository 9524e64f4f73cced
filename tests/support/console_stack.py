"""The stack the console's browser test runs: msm-api serving the built console (web/dist) on its
own origin, msm-ingest, msm-commander, msm-provisioner (reached through the API's local
/api/provisioning pass-through) and msm-localiot unless one runs, plus metersim meters sending
telemetry every few seconds. Ports come from the console's range (18100-18199)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_metersim import Fleet, FleetOptions

from support.commander_stack import COMMANDER_ENV
from support.e2e import answers, http, wait_for
from support.service_stack import Process, running_services
from support.services import ROOT, unique

WEB = ROOT / "web"
DIST = WEB / "dist"
ADMIN = ("e2e-console@example.com", "e2e-console-password-1")
VIEWER = ("e2e-viewer", "e2e-viewer@example.com", "e2e-viewer-password-1")
PORT_RANGE = range(18100, 18200)


def range_port(taken: set[int]) -> int:
    """A free port in the console's assigned range."""
    for port in PORT_RANGE:
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 18100-18199")


def built_console() -> Path:
    """web/dist, built by `make console` (cached: rebuilt only when the sources changed)."""
    subprocess.run(["make", "-s", "console"], cwd=ROOT, check=True)
    assert (DIST / "index.html").is_file()
    return DIST


def identity(pki: Path, name: str) -> dict[str, str]:
    """The service's own MQTT identity (least privilege: `<pki>/<name>.crt`) where it has one."""
    cert, key = pki / f"{name}.crt", pki / f"{name}.key"
    if not cert.exists():
        return {}
    return {"MSM_MQTT_CERT_FILE": str(cert), "MSM_MQTT_KEY_FILE": str(key)}


@dataclass
class ConsoleStack:
    url: str
    devices: list[str]
    tag: str
    fleet: Fleet
    db: Any

    def token(self, email: str = ADMIN[0], password: str = ADMIN[1]) -> str:
        status, body = http(
            "POST", f"{self.url}/api/auth/login", {"email": email, "password": password}
        )
        assert status == 200, body
        return str(body["access_token"])


def running_console_stack(
    endpoints: Any, amqp_url: str, logs: Path, meters: int = 4
) -> Iterator[ConsoleStack]:
    tag = unique("e2e-console")
    devices = [f"{tag}-{n:02d}" for n in range(1, meters + 1)]
    taken: set[int] = set()
    ports = {n: range_port(taken) for n in ("api", "ingest", "commander", "prov", "localiot")}
    api_url = f"http://127.0.0.1:{ports['api']}"
    prov_url = f"http://127.0.0.1:{ports['prov']}"
    api_env = {
        "MSM_API_WORKERS": "2",
        "MSM_API_ADMIN_EMAIL": ADMIN[0],
        "MSM_API_ADMIN_PASSWORD": ADMIN[1],
        "MSM_API_CONSOLE_DIR": str(built_console()),
        "MSM_API_CONSOLE_PROVISIONER_URL": prov_url,
    }
    with running_services(
        endpoints,
        amqp_url,
        logs,
        db_prefix="e2econsole",
        tag=tag,
        devices=devices,
        ports=ports,
        identity=lambda name: identity(endpoints.pki_dir, name),
        api_env=api_env,
        commander_env=COMMANDER_ENV,
    ) as services:
        provisioner = Process(
            "msm-provisioner",
            {
                **services.env,
                **identity(endpoints.pki_dir, "provisioner"),
                "MSM_PROVISIONER_PORT": str(ports["prov"]),
                "MSM_PROVISIONER_API_JWKS_URL": f"{api_url}/api/auth/jwks.json",
                "MSM_HOOK_TOKEN": unique("e2e-hook-token"),
                "MSM_PROVISIONER_BACKGROUND": "false",
            },
            logs,
        )
        services.running.append(provisioner.start("serve"))
        wait_for("provisioner", lambda: provisioner.alive() and answers(ports["prov"]), 60)
        wait_for("api /healthz", lambda: http("GET", f"{api_url}/healthz")[0] == 200, 30)
        fleet = Fleet.start(
            FleetOptions(devices=meters, uuids=devices, interval_s=2, reboot_downtime_s=0.5),
            wait_s=60,
        )
        try:
            stack = ConsoleStack(api_url, devices, tag, fleet, services.db)
            token = stack.token()
            status, body = http(
                "POST",
                f"{api_url}/api/auth/register",
                {
                    "username": VIEWER[0],
                    "email": VIEWER[1],
                    "password": VIEWER[2],
                    "roles": ["viewer"],
                },
                token,
            )
            assert status == 201, body
            wait_for("meters online in the API", lambda: all_online(api_url, token, devices), 60)
            yield stack
        finally:
            fleet.stop()


def all_online(api_url: str, token: str, devices: list[str]) -> bool:
    """Every meter online in the API (a slow answer on a busy machine is a 'not yet')."""
    try:
        return all(
            http("GET", f"{api_url}/api/devices/{d}/status", token=token)[1]["online"]
            for d in devices
        )
    except TimeoutError:
        return False
