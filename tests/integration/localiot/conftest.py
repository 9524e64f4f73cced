"""localiot under test: the one already running on the iot-data port (`make run`), or one each
test module starts in-process with the local stack's settings and a one-second certificate sync
(and stops again, so that later tests may start their own)."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from localiot_support import Listener, Provisioned, provision
from msm_localiot.bootstrap import Localiot, bootstrap
from msm_localiot.settings import LocaliotSettings
from support.services import ROOT, Endpoints, unique

TEMPLATES = ROOT / ".local" / "localiot" / "templates"


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def local_settings(**overrides: Any) -> LocaliotSettings:
    """The local stack's settings, with paths made absolute (tests may run from anywhere)."""
    paths: dict[str, Any] = {
        "localiot_template_dirs": [ROOT / "deploy/local/provisioning", TEMPLATES],
        "localiot_revoke_command": str(ROOT / "deploy/local/revoke-cert.sh"),
        "localiot_state_dir": ROOT / ".local/localiot",
        "localiot_cert_sync_interval_s": 1.0,
    }
    return LocaliotSettings(**{**paths, **overrides})


@pytest.fixture(scope="session")
def localiot_settings(endpoints: Endpoints) -> LocaliotSettings:
    return local_settings()


@pytest.fixture(scope="module")
def localiot(localiot_settings: LocaliotSettings) -> Iterator[LocaliotSettings]:
    settings = localiot_settings
    host, port = settings.http_address
    if _answers(host, port):
        yield settings  # someone runs localiot already: test that one
        return
    app: Localiot = bootstrap(settings).start()
    try:
        yield settings
    finally:
        app.stop()


@pytest.fixture(scope="session")
def iot_data(localiot_settings: LocaliotSettings) -> Any:
    settings = localiot_settings
    return boto3.client(
        "iot-data", endpoint_url=settings.iot_data_endpoint, region_name=settings.aws_region
    )


@pytest.fixture(scope="session")
def iot(localiot_settings: LocaliotSettings) -> Any:
    settings = localiot_settings
    return boto3.client(
        "iot", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region
    )


@pytest.fixture
def listener(endpoints: Endpoints) -> Iterator[Any]:
    """listener("topic/filter", ...) -> a backend subscriber, stopped after the test."""
    made: list[Listener] = []

    def make(*filters: str) -> Listener:
        found = Listener(endpoints.pki_dir, endpoints.mqtt_host, endpoints.mqtt_port, *filters)
        made.append(found)
        return found

    yield make
    for each in made:
        each.stop()


@pytest.fixture
def serial() -> str:
    return unique("meter")


@pytest.fixture
def template_file() -> Iterator[Any]:
    """template_file(hook_url) -> the name of a fresh copy of msm-meter calling that hook."""
    written: list[Path] = []

    def write(hook_url: str) -> str:
        name = unique("t")
        document = json.loads((ROOT / "deploy/local/provisioning/msm-meter.json").read_text())
        document["templateName"] = name
        document["preProvisioningHook"] = {"targetArn": hook_url, "payloadVersion": "2020-04-01"}
        TEMPLATES.mkdir(parents=True, exist_ok=True)
        path = TEMPLATES / f"{name}.json"
        path.write_text(json.dumps(document))
        written.append(path)
        return name

    yield write
    for path in written:
        path.unlink(missing_ok=True)


class Devices:
    """provisioned(serial, template="msm-meter"): a device provisioned by claim with the SDK."""

    def __init__(self, settings: LocaliotSettings, pki: Path, tmp: Path) -> None:
        self._settings = settings
        self._pki = pki
        self._tmp = tmp
        self._certificates: list[str] = []

    def __call__(self, serial: str, template: str = "msm-meter") -> Provisioned:
        device = provision(self._pki, self._tmp, serial, template)
        self.track(device.certificate_id)
        return device

    def track(self, certificate_id: str) -> None:
        self._certificates.append(certificate_id)

    def forget(self) -> None:
        """Take the devices' ACL fragments away, so test runs do not pile rights up."""
        acl_dir = Path(self._settings.mosquitto_acl_dir)
        fragments = [acl_dir / f"localiot-{c}.acl" for c in self._certificates]
        if any(f.exists() for f in fragments):
            for fragment in fragments:
                fragment.unlink(missing_ok=True)
            reload = shlex.split(self._settings.mosquitto_reload)
            subprocess.run(reload, check=False, capture_output=True)


@pytest.fixture
def provisioned(localiot: LocaliotSettings, endpoints: Endpoints, tmp_path: Path) -> Iterator[Any]:
    devices = Devices(localiot, endpoints.pki_dir, tmp_path)
    yield devices
    devices.forget()
