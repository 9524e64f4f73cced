"""`msm-ingest` as a process: health endpoints, and SIGTERM drains, acknowledges and exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from ingest_it_support import Meter, now_ms, running, settings_for
from support.readings import telemetry_payload
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration
INGEST = Path(sys.executable).with_name("msm-ingest")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def test_sigterm_drains_acks_and_exits_promptly(endpoints, mongo_db, amqp_url, tmp_path):
    device, client_id, group = unique("itterm"), unique("it-ingest"), unique("g")
    port = _free_port()
    env = dict(
        os.environ,
        MSM_MONGO_URI=endpoints.mongo_uri,
        MSM_MONGO_DB=mongo_db.name,
        MSM_AMQP_URL=amqp_url,
        MSM_METRICS_PORT=str(port),
        MSM_INGEST_CLIENT_ID=client_id,
        MSM_INGEST_SHARED_GROUP=group,
        MSM_INGEST_SUBSCRIBE_DEVICES=device,
        MSM_INGEST_SHADOW_ENABLED="false",
        MSM_LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "ingest.log").open("wb")
    proc = subprocess.Popen([str(INGEST)], env=env, stdout=log, stderr=subprocess.STDOUT)
    meter = Meter(endpoints)
    try:
        wait_for("ingest ready", lambda: _get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 20)
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        t0 = now_ms() - 60_000
        publishing = threading.Thread(
            target=lambda: [
                meter.publish(f"msm/{device}/telemetry", telemetry_payload(t0 + i, phases="AB"))
                for i in range(200)
            ]
        )
        publishing.start()
        wait_for("60 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) >= 60, 15)
        status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and b"msm_ingest_messages_total" in metrics
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        publishing.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    # Whatever the first process stored it also acknowledged: its successor (same session)
    # receives only the rest, so it finds no duplicates, and nothing is missing.
    settings = settings_for(
        endpoints,
        mongo_db.name,
        amqp_url,
        client_id=client_id,
        shared_group=group,
        subscribe_devices=device,
    )
    with running(settings) as ingest:
        wait_for("400 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 400, 30)
        duplicates = ingest.metrics.registry.get_sample_value(
            "msm_ingest_messages_total", {"kind": "telemetry", "outcome": "duplicate"}
        )
    meter.close()
    assert not duplicates
    assert mongo_db.telemetry.count_documents({}) == 400
