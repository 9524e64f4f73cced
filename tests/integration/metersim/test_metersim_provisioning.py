"""Meters provisioned by claim against localiot, then syncing their shadow through it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from msm_common.contracts import DeviceInfoMessage, TelemetryMessage
from msm_metersim import Fleet, FleetOptions, MetersimSettings
from support.processes import stop
from support.services import ROOT, unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="module")
def localiot(endpoints: Any) -> Iterator[MetersimSettings]:
    """The localiot already running (make run), or `msm-localiot` started for this module."""
    settings = MetersimSettings()
    host, _, port = (settings.iot_data_endpoint or "").removeprefix("http://").partition(":")
    if _answers(host, int(port)):
        yield settings
        return
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/msm-localiot")], cwd=ROOT, env=dict(os.environ),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _answers(host, int(port)):
            assert proc.poll() is None, "msm-localiot exited"
            assert time.monotonic() < deadline, "msm-localiot did not start within 30 s"
            time.sleep(0.2)
        yield settings
    finally:
        stop(proc, 15)


def test_a_meter_provisions_itself_by_claim_and_restarts_with_the_same_identity(
    localiot, settings, backend
):
    prefix = unique("PROV").upper() + "-"
    thing = f"{prefix}000001"  # the msm-meter template names the thing after the serial

    options = FleetOptions(provision=True, serial_prefix=prefix, interval_s=1)
    with Fleet.start(options, settings=settings) as f:
        assert f.uuids == [thing]
        info = backend.on_topic(f"msm/{thing}/device_info")[0].parsed()
        telemetry = backend.on_topic(f"msm/{thing}/telemetry")[0].parsed()
        assert isinstance(info, DeviceInfoMessage) and isinstance(telemetry, TelemetryMessage)
        assert f.stats()["refused"] == 0  # the broker let the new certificate use its topics
    cert = (settings.devices_dir / thing / "cert.pem").read_bytes()

    since = time.monotonic()
    with Fleet.start(
        FleetOptions(provision=True, serial_prefix=prefix), settings=settings
    ) as again:
        assert again.uuids == [thing]
        assert backend.on_topic(f"msm/{thing}/device_info", since=since)
    assert (settings.devices_dir / thing / "cert.pem").read_bytes() == cert  # reused, not reissued
    shutil.rmtree(settings.devices_dir / thing)
    (settings.metersim_state_dir / "provisioned" / f"{thing}.json").unlink()


def test_the_shadow_reports_the_meter_and_a_desired_interval_reaches_it(
    localiot, settings, start_fleet
):
    fleet = start_fleet(1, interval_s=600, firmware_version="9.9.9-sim")
    thing = fleet.uuids[0]
    iot_data = boto3.client(
        "iot-data", endpoint_url=localiot.iot_data_endpoint, region_name=localiot.aws_region
    )

    reported = _wait_reported(iot_data, thing, lambda r: r.get("firmware_version") == "9.9.9-sim")
    assert reported["data_interval"] == 600
    iot_data.update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": {"data_interval": 7}}})
    )

    assert _wait_reported(iot_data, thing, lambda r: r.get("data_interval") == 7)
    assert fleet.meters[thing].data_interval == 7


def _wait_reported(iot_data: Any, thing: str, done: Any, timeout: float = 10.0) -> dict:
    def reported() -> dict | None:
        try:
            document = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
        except iot_data.exceptions.ResourceNotFoundException:
            return None
        state = document["state"].get("reported", {})
        return state if done(state) else None

    return wait_for(f"the shadow of {thing} to report", reported, timeout, interval=0.2)
