"""The stack the console's browser test runs: msm-api serving the built console (web/dist) on its
own origin, msm-ingest, msm-commander, msm-provisioner (reached through the API's local
/api/provisioning pass-through) and msm-localiot unless one runs, plus metersim meters sending
telemetry every few seconds. Ports come from the console's range (18100-18199)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm_common.adapters import mongo
from msm_metersim import Fleet, registered_device

from support.commander_stack import COMMANDER_ENV, Process
from support.e2e import answers, http, ready, wait_for
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


def chromium() -> str | None:
    return shutil.which("chromium")


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
    client = mongo.connect(endpoints.mongo_uri)
    db_name = unique("e2econsole").replace("-", "_")
    db = client[db_name]
    tag = unique("e2e-console")
    devices = [f"{tag}-{n:02d}" for n in range(1, meters + 1)]
    taken: set[int] = set()
    ports = {n: range_port(taken) for n in ("api", "ingest", "commander", "prov", "localiot")}
    api_url = f"http://127.0.0.1:{ports['api']}"
    prov_url = f"http://127.0.0.1:{ports['prov']}"
    env = {
        **os.environ,
        "MSM_ENV": "test",
        "MSM_MONGO_DB": db_name,
        "MSM_AMQP_URL": amqp_url,
        "MSM_LOG_LEVEL": "INFO",
        "MSM_METRICS_PORT": "0",
    }
    api = Process(
        "msm-api",
        {
            **env,
            "MSM_API_PORT": str(ports["api"]),
            "MSM_WORKERS": "2",
            "MSM_ADMIN_EMAIL": ADMIN[0],
            "MSM_ADMIN_PASSWORD": ADMIN[1],
            "MSM_SECRETS_DIR": str(logs / "secrets"),
            "MSM_API_CONSOLE_DIR": str(built_console()),
            "MSM_API_CONSOLE_PROVISIONER_URL": prov_url,
        },
        logs,
    )
    ingest = Process(
        "msm-ingest",
        {
            **env,
            **identity(endpoints.pki_dir, "ingest"),
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
            **identity(endpoints.pki_dir, "commander"),
            **COMMANDER_ENV,
            "MSM_METRICS_PORT": str(ports["commander"]),
            "MSM_COMMANDER_REQUESTS_QUEUE": f"{tag}.requests",
            "MSM_COMMANDER_ACKS_QUEUE": f"{tag}.acks",
            "MSM_COMMANDER_PRESENCE_QUEUE": f"{tag}.presence",
        },
        logs,
    )
    provisioner = Process(
        "msm-provisioner",
        {
            **env,
            **identity(endpoints.pki_dir, "provisioner"),
            "MSM_PROVISIONER_PORT": str(ports["prov"]),
            "MSM_API_JWKS_URL": f"{api_url}/api/auth/jwks.json",
            "MSM_HOOK_TOKEN": unique("e2e-hook-token"),
            "MSM_PROVISIONER_BACKGROUND": "false",
        },
        logs,
    )
    provisioner_argv = ["serve"]
    running = [api, ingest, commander]
    if not answers(5056):  # no localiot: presence events come from one of our own
        running.append(
            Process(
                "msm-localiot",
                {
                    **env,
                    **identity(endpoints.pki_dir, "localiot"),
                    "MSM_LOCALIOT_HTTP_LISTEN": f"127.0.0.1:{ports['localiot']}",
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
        start_with_args(provisioner, provisioner_argv)
        running.append(provisioner)
        wait_for("api", lambda: api.alive() and answers(ports["api"]), 60)
        wait_for("ingest", lambda: ingest.alive() and ready(ports["ingest"]), 60)
        wait_for("commander", lambda: commander.alive() and ready(ports["commander"]), 60)
        wait_for("provisioner", lambda: provisioner.alive() and answers(ports["prov"]), 60)
        wait_for("api /healthz", lambda: http("GET", f"{api_url}/healthz")[0] == 200, 30)
        fleet = Fleet.start(meters, uuids=devices, interval_s=2, reboot_downtime_s=0.5, wait_s=60)
        stack = ConsoleStack(api_url, devices, tag, fleet, db)
        token = stack.token()
        status, body = http(
            "POST",
            f"{api_url}/api/auth/register",
            {"username": VIEWER[0], "email": VIEWER[1], "password": VIEWER[2], "roles": ["viewer"]},
            token,
        )
        assert status == 201, body
        wait_for("meters online in the API", lambda: all_online(api_url, token, devices), 60)
        yield stack
    finally:
        if fleet is not None:
            fleet.stop()
        for proc in reversed(running):
            proc.stop()
        client.drop_database(db_name)
        client.close()


def all_online(api_url: str, token: str, devices: list[str]) -> bool:
    """Every meter online in the API (a slow answer on a busy machine is a 'not yet')."""
    try:
        return all(
            http("GET", f"{api_url}/api/devices/{d}/status", token=token)[1]["online"]
            for d in devices
        )
    except TimeoutError:
        return False


def start_with_args(proc: Process, args: list[str]) -> None:
    """Process.start runs the bare entry point; the provisioner needs its `serve` subcommand."""
    out = proc.log.open("ab")
    proc.proc = subprocess.Popen(
        [str(ROOT / ".venv/bin" / proc.name), *args],
        env=proc.env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
