"""Fleet provisioning by claim, end to end: metersim meters on the claim certificate -> localiot
(AWS IoT stand-in) -> the provisioner's hook -> registered devices in the api, answering a reboot;
an unlisted serial refused in AWS's error shape; a decommissioned device locked out.

The stack runs as the operator runs it: `msm-provisioner serve`, `msm-api`, `msm-commander` as
processes on a database and RabbitMQ vhost of this module's own; localiot is the one already
running (`make run`) or one this module starts. The meters use a template of this module's own
(`.local/localiot/templates/<name>.json`) whose hook is this module's provisioner, so nothing
else on the broker is vetted by it. Ingest is not part of this stack, so a reboot is shown to be
answered by the meter's acknowledgement on its topic, not by the command's final status.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from msm_common import topics
from msm_common.adapters import mongo
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_metersim.fleet import Fleet, FleetOptions
from msm_metersim.settings import MetersimSettings
from msm_provisioner.domain.allowlist import imei_with_check_digit
from support.e2e import answers, free_port, http, mqtt_identity, wait_for
from support.processes import service_env
from support.services import ROOT, Endpoints, unique

pytestmark = pytest.mark.e2e
BIN = ROOT / ".venv/bin"
TEMPLATES = ROOT / ".local/localiot/templates"
ADMIN = ("e2e-admin@example.com", "e2e-admin-password-1")
HOOK_TOKEN = "e2e-hook-token-" + uuid.uuid4().hex
METERS = 3


class Processes:
    """Processes of this module, stopped with SIGTERM (then SIGKILL) at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.running = env, logs, []

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, env={**self.env, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        self.running.append((name, proc))
        return proc

    def alive(self, name: str) -> bool:
        proc = dict(self.running)[name]
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {(self.logs / f'{name}.log').read_text()[-2000:]}")
        return True

    def stop(self) -> None:
        for _name, proc in reversed(self.running):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc in self.running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Stack:
    api: str
    provisioner: str
    template: str
    prefix: str
    admin_token: str
    fleet: Fleet
    metersim: MetersimSettings
    endpoints: Endpoints
    db: Any


def seed_manifest(path: Path, prefix: str) -> None:
    base = uuid.uuid4().int % 10**8
    rows = [
        f"{prefix}{n:06d},{imei_with_check_digit(f'358{base:08d}{n:03d}')},fleet=e2e"
        for n in range(1, METERS + 1)
    ]
    path.write_text("serial,imei,labels\n" + "\n".join(rows) + "\n")


def private_pki(real: Path, into: Path) -> Path:
    """metersim keeps its meters' certificates under <pki>/devices: a directory of our own."""
    into.mkdir()
    for name in ("ca.crt", "claim.crt", "claim.key"):
        (into / name).symlink_to(real / name)
    return into


@pytest.fixture(scope="module")
def stack(endpoints: Endpoints, amqp_url: str, tmp_path_factory: Any) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e-provisioner")
    client = mongo.connect(endpoints.mongo_uri)
    db_name = unique("e2eprov").replace("-", "_")
    prefix = f"E2E{uuid.uuid4().hex[:6].upper()}-"
    seed_manifest(tmp / "allowlist.csv", prefix)
    ports = {name: free_port() for name in ("api", "provisioner", "localiot")}
    hook_url = f"http://127.0.0.1:{ports['provisioner']}/hook"
    template = unique("e2e")[:36]
    document = json.loads((ROOT / "deploy/local/provisioning/msm-meter.json").read_text())
    document.update(
        templateName=template,
        preProvisioningHook={"targetArn": hook_url, "payloadVersion": "2020-04-01"},
    )
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    (TEMPLATES / f"{template}.json").write_text(json.dumps(document))
    own_localiot = not answers(5056)
    env = service_env(
        os.environ, endpoints, client[db_name], amqp_url, MSM_LOG_LEVEL="INFO", MSM_METRICS_PORT="0"
    )
    procs = Processes(env, tmp)
    fleet: Fleet | None = None
    try:
        procs.start(
            "api",
            [str(BIN / "msm-api")],
            MSM_API_PORT=str(ports["api"]),
            MSM_API_WORKERS="1",
            MSM_API_ADMIN_EMAIL=ADMIN[0],
            MSM_API_ADMIN_PASSWORD=ADMIN[1],
            MSM_SECRETS_DIR=str(tmp / "secrets"),
        )
        api = f"http://127.0.0.1:{ports['api']}"
        wait_for("api", lambda: procs.alive("api") and answers(ports["api"]))
        # The stack's own localiot (make run) calls the hook with a token of its own: only the
        # local stack's provisioner accepts calls without credentials configured.
        hook_auth = {"MSM_HOOK_TOKEN": HOOK_TOKEN} if own_localiot else {"MSM_ENV": "local"}
        procs.start(
            "provisioner",
            [str(BIN / "msm-provisioner"), "serve"],
            MSM_PROVISIONER_PORT=str(ports["provisioner"]),
            MSM_PROVISIONER_API_JWKS_URL=f"{api}/api/auth/jwks.json",
            MSM_PROVISIONER_SEED_ALLOWLIST=str(tmp / "allowlist.csv"),
            **mqtt_identity("provisioner"),
            **hook_auth,
        )
        wait_for(
            "provisioner", lambda: procs.alive("provisioner") and answers(ports["provisioner"])
        )
        procs.start("commander", [str(BIN / "msm-commander")], **mqtt_identity("commander"))
        wait_for("commander", lambda: procs.alive("commander") and consumers(amqp_url) > 0)
        if own_localiot:
            procs.start(
                "localiot",
                [str(BIN / "msm-localiot")],
                MSM_LOCALIOT_HTTP_LISTEN=f"127.0.0.1:{ports['localiot']}",
                MSM_PROVISIONING_TEMPLATE=template,
                MSM_PROVISIONING_HOOK_URL=hook_url,
                MSM_HOOK_TOKEN=HOOK_TOKEN,
                MSM_LOCALIOT_CERT_SYNC_INTERVAL_S="1",
                **mqtt_identity("localiot"),
            )
            wait_for("localiot", lambda: procs.alive("localiot") and answers(ports["localiot"]))
        status, tokens = http(
            "POST", f"{api}/api/auth/login", {"email": ADMIN[0], "password": ADMIN[1]}
        )
        assert status == 200, tokens
        metersim = MetersimSettings(
            pki_dir=private_pki(endpoints.pki_dir, tmp / "pki"),
            metersim_state_dir=tmp / "metersim",
            provisioning_template=template,
        )
        fleet = Fleet.start(
            FleetOptions(
                devices=METERS,
                provision=True,
                serial_prefix=prefix,
                interval_s=60,
                reboot_downtime_s=0.5,
            ),
            settings=metersim,
            wait_s=30,
        )
        yield Stack(
            api,
            f"http://127.0.0.1:{ports['provisioner']}",
            template,
            prefix,
            tokens["access_token"],
            fleet,
            metersim,
            endpoints,
            client[db_name],
        )
        acl_dir = Path(os.environ.get("MSM_MOSQUITTO_ACL_DIR", ROOT / ".local/mosquitto/acl.d"))
        fragments = []
        for device in client[db_name]["devices"].find({"status": "active"}):
            # Lock the test meters out again: localiot drops their ACL fragments.
            fragments.append(acl_dir / f"localiot-{device['certificate_id']}.acl")
            http(
                "POST",
                f"http://127.0.0.1:{ports['provisioner']}/api/provisioning/devices/"
                f"{device['_id']}/decommission",
                {},
                tokens["access_token"],
            )
        with contextlib.suppress(TimeoutError):
            wait_for("ACL clean-up", lambda: not any(f.exists() for f in fragments), 15)
    finally:
        if fleet is not None:
            fleet.stop()
        procs.stop()
        (TEMPLATES / f"{template}.json").unlink(missing_ok=True)
        client.drop_database(db_name)
        client.close()


def consumers(amqp_url: str) -> int:
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except pika.exceptions.AMQPError:
        return 0
    try:
        ok = conn.channel().queue_declare("msm.commands.requests", passive=True)
        return int(ok.method.consumer_count)
    except pika.exceptions.AMQPError:
        return 0
    finally:
        if conn.is_open:
            conn.close()


def device_connection(stack: Stack, thing: str) -> MqttConnection:
    folder = stack.metersim.devices_dir / thing
    return MqttConnection(
        MqttConfig(
            stack.endpoints.mqtt_host,
            stack.endpoints.mqtt_port,
            stack.metersim.mqtt_ca_file,
            folder / "cert.pem",
            folder / "key.pem",
            client_id=f"{thing}-probe",
        )
    )


def test_claimed_meters_become_devices_that_answer_a_reboot(stack: Stack) -> None:
    serials = [f"{stack.prefix}{n:06d}" for n in range(1, METERS + 1)]
    assert sorted(stack.fleet.uuids) == serials  # the thing name is the serial
    status, page = http("GET", f"{stack.api}/api/devices?q={stack.prefix}", token=stack.admin_token)
    assert status == 200
    listed = {d["device_uuid"]: d for d in page["items"]}
    assert sorted(listed) == serials
    for serial, device in listed.items():
        entry = stack.db["provisioning_allowlist"].find_one({"_id": serial})
        assert device["serial"] == serial and device["device_imei"] == entry["imei"]
        assert device["status"] == "active" and device["certificate_id"]
        assert device["provisioned_at"]

    target = serials[0]
    status, accepted = http(
        "POST", f"{stack.api}/api/devices/{target}/reboot", {}, stack.admin_token
    )
    assert status == 202, accepted
    (received,) = stack.fleet.wait_for_commands(target, 1, timeout=30)
    assert received.command_id == accepted["command_id"]
    acks = stack.fleet.wait_for_acks(1, timeout=15, device_uuid=target)
    assert acks[0].command_id == accepted["command_id"] and acks[0].status == "success"


def test_an_unlisted_serial_is_refused_in_aws_error_shape(stack: Stack) -> None:
    serial = f"{stack.prefix}999999"
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    # As a device does it on the local stand-in: its own client id's provisioning topics.
    client_id = f"provision-{uuid.uuid4().hex}"

    def scoped(topic: str) -> str:
        return topics.claim_scoped(client_id, topic)

    base = topics.provision(stack.template)
    pki = stack.metersim.pki_dir
    claim = MqttConnection(
        MqttConfig(
            stack.endpoints.mqtt_host,
            stack.endpoints.mqtt_port,
            pki / "ca.crt",
            pki / "claim.crt",
            pki / "claim.key",
            client_id=client_id,
        ),
        subscriptions=[
            (scoped(topics.create_certificate("accepted")), 1),
            (scoped(f"{base}/rejected"), 1),
            (scoped(f"{base}/accepted"), 1),
        ],
        on_message=lambda m: inbox.put((m.topic, bytes(m.payload))),
    ).start()
    try:
        assert claim.wait_connected(10)
        time.sleep(0.5)
        claim.publish(scoped(topics.create_certificate()), b"{}", 1)
        topic, body = inbox.get(timeout=15)
        assert topic.endswith("/accepted")
        token = json.loads(body)["certificateOwnershipToken"]
        request = {"certificateOwnershipToken": token, "parameters": {"SerialNumber": serial}}
        claim.publish(scoped(base), json.dumps(request).encode(), 1)
        topic, body = inbox.get(timeout=15)
    finally:
        claim.stop()
    assert topic == scoped(f"{base}/rejected")
    error = json.loads(body)
    assert error["statusCode"] == 403 and error["errorCode"] == "AccessDenied"
    assert isinstance(error["errorMessage"], str)
    status, attempts = http(
        "GET",
        f"{stack.provisioner}/api/provisioning/attempts?serial={serial}",
        token=stack.admin_token,
    )
    assert status == 200
    assert [(a["outcome"], a["reason"]) for a in attempts["items"]] == [("denied", "not_listed")]


def test_a_decommissioned_device_can_no_longer_connect(stack: Stack) -> None:
    target = f"{stack.prefix}{METERS:06d}"
    probe = device_connection(stack, target).start()
    try:
        assert probe.wait_connected(10)  # its certificate works before
    finally:
        probe.stop()
    status, device = http(
        "POST",
        f"{stack.provisioner}/api/provisioning/devices/{target}/decommission",
        {"certificate_status": "REVOKED"},
        stack.admin_token,
    )
    assert status == 200 and device["status"] == "decommissioned"

    stack.fleet.wait_offline(target, timeout=30)  # localiot drops its connection
    again = device_connection(stack, target).start()
    try:
        assert not again.wait_connected(8)
    finally:
        again.stop()
    status, shown = http("GET", f"{stack.api}/api/devices/{target}", token=stack.admin_token)
    assert status == 200 and shown["status"] == "decommissioned"
    assert not stack.fleet.is_online(target)
