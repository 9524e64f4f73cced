"""Fixtures: a backend-side observer of the broker and a factory of small simulated fleets."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from metersim_support import Backend
from msm_metersim import Fleet, FleetOptions, MetersimSettings
from support.services import ROOT, unique


@pytest.fixture
def backend(endpoints: Any) -> Iterator[Backend]:
    observer = Backend(endpoints)
    observer.conn.start()
    assert observer.conn.wait_connected(10), observer.conn.last_error
    time.sleep(0.2)  # SUBACK: let the subscriptions settle before meters start talking
    yield observer
    observer.conn.stop()


@pytest.fixture
def settings(endpoints: Any) -> MetersimSettings:
    return MetersimSettings(
        mqtt_host=endpoints.mqtt_host,
        mqtt_port=endpoints.mqtt_port,
        mqtt_ca_file=endpoints.pki("ca.crt"),
        pki_dir=endpoints.pki_dir,
        metersim_state_dir=ROOT / ".local/metersim",
        metersim_issue_cert_command=str(ROOT / "deploy/local/issue-device-cert.sh"),
    )


@pytest.fixture
def start_fleet(settings: MetersimSettings) -> Iterator[Callable[..., Fleet]]:
    """Start a fleet with this test's own serial numbers (so its own uuids); stopped after."""
    fleets: list[Fleet] = []

    def start(n: int = 1, **options: Any) -> Fleet:
        options.setdefault("serial_prefix", unique("T").upper() + "-")
        options.setdefault("reboot_downtime_s", 0.5)
        fleet = Fleet.start(FleetOptions(devices=n, **options), settings=settings, wait_s=20)
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.stop()
        for uuid in fleet.uuids:  # this test's own certificates: not needed again
            shutil.rmtree(settings.devices_dir / uuid, ignore_errors=True)
