"""Fixtures shared by every tier. Integration fixtures isolate each test by unique names."""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.services import ROOT, Endpoints, resolve, unique

# Services run as production unless MSM_ENV says otherwise (fail closed). `make test` sources
# deploy/local/env.sh (MSM_ENV=local); a bare `pytest` runs the tests in test mode.
os.environ.setdefault("MSM_ENV", "test")


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    with resolve() as found:
        yield found


@pytest.fixture
def mongo_db(endpoints: Endpoints) -> Iterator[Any]:
    """A fresh database for one test, dropped afterwards."""
    from msm_common.adapters import mongo

    client = mongo.connect(endpoints.mongo_uri)
    name = unique("msmtest").replace("-", "_")
    yield client[name]
    client.drop_database(name)
    client.close()


def _rabbitmqctl(*args: str) -> bool:
    try:
        return (
            subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def amqp_url(endpoints: Endpoints) -> Iterator[str]:
    """A RabbitMQ vhost of this test session's own (removed after), or the given URL as is."""
    parsed = urllib.parse.urlsplit(endpoints.amqp_url)
    vhost = unique("msm-test")
    local = parsed.hostname in {"127.0.0.1", "localhost"}
    if (
        local
        and _rabbitmqctl("add_vhost", vhost)
        and _rabbitmqctl(
            "set_permissions", "-p", vhost, parsed.username or "guest", ".*", ".*", ".*"
        )
    ):
        yield urllib.parse.urlunsplit(
            parsed._replace(path="/" + urllib.parse.quote(vhost, safe=""))
        )
        _rabbitmqctl("delete_vhost", vhost)
    else:
        yield endpoints.amqp_url


@pytest.fixture(scope="session")
def pki(endpoints: Endpoints) -> Path:
    return endpoints.pki_dir


@pytest.fixture(scope="session")
def issue_device_cert(pki: Path) -> Any:
    """Issue a device certificate (CN = device uuid) from the local CA; returns (cert, key)."""

    def issue(device_uuid: str) -> tuple[Path, Path]:
        out = pki / "devices" / device_uuid
        subprocess.run(
            ["bash", str(ROOT / "deploy/local/issue-device-cert.sh"), device_uuid, str(out)],
            check=True,
            capture_output=True,
        )
        return out / "cert.pem", out / "key.pem"

    return issue
