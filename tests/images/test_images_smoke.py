"""Smoke test of the images (deploy/images): each one runs as production would run it — read-only
root filesystem, no capabilities, user 10001, host network against the local stack — answers its
health endpoint, passes its own HEALTHCHECK and exits 0 on SIGTERM; the ingest image stores a
reading a meter published, and the simulator image's meters reach it too."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from images_support import CONSOLE, SERVICE_UID, SERVICES, Container, container_env, free_ports
from msm_common.adapters.mqtt import MqttConnection
from msm_metersim.identity import serials, uuid_for
from support.e2e import ready, wait_for
from support.services import unique

pytestmark = pytest.mark.images

START_TIMEOUT_S = 90.0  # two cores shared with the rest of the suite: imports are slow
BUILD_TOOLS = ("uv", "pip", "gcc", "cc", "make")


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def healthy(port: int) -> bool:
    try:
        return get(port, "/healthz")[0] == 200
    except OSError:
        return False


def service_env(name: str, ports: list[int], db: str, amqp_url: str) -> tuple[dict[str, str], int]:
    """The settings one service needs beyond the local stack's, and the port of its /healthz."""
    own, ops = ports
    common = {"MSM_MONGO_DB": db, "MSM_AMQP_URL": amqp_url, "MSM_METRICS_PORT": str(ops)}
    if name == "msm-api":
        return {**common, "MSM_API_PORT": str(own), "MSM_API_WORKERS": "1"}, own
    if name == "msm-provisioner":
        jwks = f"http://127.0.0.1:{own}/api/auth/jwks.json"  # not asked for by /healthz
        return {**common, "MSM_PROVISIONER_PORT": str(own), "MSM_PROVISIONER_WORKERS": "1",
                "MSM_PROVISIONER_API_JWKS_URL": jwks}, own  # fmt: skip
    if name == "msm-localiot":
        return {**common, "MSM_LOCALIOT_HTTP_LISTEN": f"127.0.0.1:{own}"}, own
    if name == "msm-ingest":
        return {
            **common,
            "MSM_INGEST_CLIENT_ID": unique("img-ingest"),
            "MSM_INGEST_SHARED_GROUP": unique("img"),
            "MSM_INGEST_SUBSCRIBE_DEVICES": unique("img-nobody"),
            "MSM_INGEST_SHADOW_ENABLED": "false",
        }, ops
    return common, ops  # msm-commander: health on its ops port


def alive_until_healthy(container: Container, port: int) -> None:
    def check() -> bool:
        if not container.running():
            raise AssertionError(f"{container.image} exited:\n{container.logs()}")
        return healthy(port)

    try:
        wait_for(f"{container.image} /healthz", check, START_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{container.logs()}") from exc


@pytest.mark.parametrize("name", [s for s in SERVICES if s != "msm-metersim"])
def test_service_image_runs_read_only_as_non_root_and_drains_on_sigterm(
    name, podman, images, host_files, host_env, endpoints, mongo_db, amqp_url, containers
):
    settings, health_port = service_env(name, free_ports(2), mongo_db.name, amqp_url)
    identity = name.removeprefix("msm-")
    env = container_env(host_env, endpoints.pki_dir, identity, **settings)
    container = podman.start(images[name], env, host_files)
    containers.append(container)

    alive_until_healthy(container, health_port)
    check = container.healthcheck()
    assert check.returncode == 0, f"HEALTHCHECK: {check.stdout}{check.stderr}"
    assert container.process_uid() == SERVICE_UID
    assert container.stop() == 0, f"not a clean exit on SIGTERM:\n{container.logs()}"


def telemetry(now: datetime) -> bytes:
    return orjson.dumps(
        {
            "timestamp": now.isoformat(),
            "channel_id": 1,
            "phase": "A",
            "temperature": 24.5,
            "line_voltage": 231.0,
            "current": 1.5,
            "active_power": 346.5,
            "reactive_power": 12.0,
        }
    )


def publish_as(device: str, cert_key: tuple[Any, Any], endpoints, payload: bytes) -> None:
    cert, key = cert_key
    connection = MqttConnection(endpoints.mqtt_config(cert, key, device)).start()
    try:
        assert connection.wait_connected(10), f"{device} could not connect to the broker"
        info = connection.publish(f"msm/{device}/telemetry", payload, 1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        connection.stop()


def test_ingest_image_stores_readings_of_a_meter_and_of_the_simulator_image(
    podman, images, host_files, host_env, mongo_db, amqp_url, endpoints,
    issue_device_cert, containers,
):  # fmt: skip
    meter = unique("img-meter")
    prefix = f"IMG{unique('')[1:7].upper()}-"
    simulated = uuid_for(serials(prefix, 1, 1)[0])
    settings, port = service_env("msm-ingest", free_ports(2), mongo_db.name, amqp_url)
    settings["MSM_INGEST_SUBSCRIBE_DEVICES"] = f"{meter},{simulated}"
    ingest_env = container_env(host_env, endpoints.pki_dir, "ingest", **settings)
    ingest = podman.start(images["msm-ingest"], ingest_env, host_files)
    containers.append(ingest)
    wait_for("ingest subscribed (/readyz)", lambda: ready(port), START_TIMEOUT_S)

    publish_as(meter, issue_device_cert(meter), endpoints, telemetry(datetime.now(UTC)))
    rows = mongo_db.telemetry
    row = wait_for("the meter's reading stored", lambda: rows.find_one({"device_uuid": meter}), 30)
    assert (row["phase"], row["active_power"]) == ("A", 346.5)

    sim_env = container_env(host_env, endpoints.pki_dir, MSM_MONGO_DB=mongo_db.name)
    args = ("msm-metersim", "--devices", "1", "--shared-connections", "1", "--interval", "1",
            "--serial-prefix", prefix, "--stats-interval", "5")  # fmt: skip
    metersim = podman.start(images["msm-metersim"], sim_env, host_files, args)
    containers.append(metersim)
    wait_for(
        "a reading of the simulated meter stored",
        lambda: rows.find_one({"device_uuid": simulated}),
        START_TIMEOUT_S,
    )
    assert metersim.running()
    assert metersim.stop() == 0, metersim.logs()
    assert ingest.stop() == 0, ingest.logs()


@pytest.mark.skipif(CONSOLE is None, reason="no web console in this tree (web/package.json)")
def test_console_image_serves_the_app_with_its_security_headers(
    podman, images, host_files, containers
):
    (port,) = free_ports(1)
    env = {"MSM_BIND_HOST": "127.0.0.1", "MSM_CONSOLE_PORT": str(port)}
    console = podman.start(images["msm-console"], env, host_files)
    containers.append(console)
    alive_until_healthy(console, port)

    status, headers, body = get(port, "/devices/some-meter")  # a client-side route
    assert status == 200 and b"<html" in body.lower()
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert console.healthcheck().returncode == 0
    assert console.process_uid() == SERVICE_UID
    assert console.stop() == 0


def test_images_are_labelled_non_root_and_carry_no_build_tools(podman, images):
    for name, image in images.items():
        config = json.loads(podman.run_cli("image", "inspect", image))[0]
        labels = config["Labels"]
        assert labels["org.opencontainers.image.title"] == name
        for key in ("source", "revision", "version"):
            assert labels[f"org.opencontainers.image.{key}"], f"{name}: no {key} label"
        assert config["Config"]["User"] == f"{SERVICE_UID}:{SERVICE_UID}"
        assert config["Config"]["Entrypoint"][0] == "/usr/bin/tini"
        assert "/tmp" in config["Config"]["Volumes"]
        if name != "msm-metersim":
            assert config["Healthcheck"]["Test"][0] == "CMD", f"{name}: no HEALTHCHECK"
        assert podman.build_tools_in(image, BUILD_TOOLS) == [], f"{name} carries build tools"
