"""End to end: meters publish N messages, ingest is SIGKILLed mid-stream and restarted.

Afterwards the database holds exactly N x readings telemetry rows and RabbitMQ received at least
N events (one per message: a meter's phases at one instant), announcing every reading id
(duplicates allowed, losses not). The broker keeps ingest's
persistent session while it is dead, so what arrives meanwhile is delivered after the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pika
import pytest
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from support.e2e import free_port, ready
from support.services import unique

pytestmark = pytest.mark.e2e

INGEST = Path(sys.executable).with_name("msm-ingest")
METERS, MESSAGES_PER_METER, PHASES = 4, 250, "ABC"  # N = 1,000 messages, 3,000 rows


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def payload(ts_ms: int, seq: int) -> bytes:
    readings = [
        {
            "channel_id": 1,
            "phase": p,
            "temperature": 30.0,
            "line_voltage": 231.5,
            "current": 2.5 + seq % 7,
            "active_power": 575.0,
            "reactive_power": 12.0,
        }
        for p in PHASES
    ]
    return orjson.dumps({"timestamp": ts_ms, "readings": readings})


class Meters:
    """One publisher connection per meter (loadgen identity), publishing QoS 1 at full speed."""

    def __init__(self, endpoints, devices: list[str]) -> None:
        self.endpoints, self.devices = endpoints, devices
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(d,)) for d in devices]

    def _run(self, device: str) -> None:
        ep = self.endpoints
        cfg = MqttConfig(
            ep.mqtt_host,
            ep.mqtt_port,
            ep.pki("ca.crt"),
            ep.pki("loadgen.crt"),
            ep.pki("loadgen.key"),
            client_id=unique("e2e-meter"),
        )
        conn = MqttConnection(cfg).start()
        assert conn.wait_connected(10)
        t0 = int(time.time() * 1000) - 600_000
        infos = []
        for i in range(MESSAGES_PER_METER):
            infos.append(conn.publish(f"msm/{device}/telemetry", payload(t0 + i * 1000, i), 1))
            if i % 50 == 49:
                time.sleep(0.05)  # a stream, not one burst: the kill lands mid-stream
        for info in infos:
            info.wait_for_publish(30)
        with self.lock:
            self.sent += sum(1 for info in infos if info.is_published())
        conn.stop()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(120)


class EventCounter:
    def __init__(self, amqp_url: str, devices: list[str]) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.conn.channel()
        self.channel.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
        self.queue = unique("e2e-ingest-events")
        self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        for d in devices:
            self.channel.queue_bind(self.queue, EVENTS_EXCHANGE, f"telemetry.received.{d}")
        self.ids: list[str] = []  # event ids
        self.reading_ids: list[str] = []  # the readings those events announce

    def drain(self) -> list[str]:
        """The reading ids announced so far."""
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.reading_ids
            event = orjson.loads(body)
            self.ids.append(event["id"])
            self.reading_ids += [r["reading_id"] for r in event["data"]["readings"]]

    def close(self) -> None:
        self.conn.close()


def start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("ab")
    try:
        return subprocess.Popen([str(INGEST)], env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def test_sigkill_mid_stream_loses_nothing_and_duplicates_no_row(
    endpoints, mongo_db, amqp_url, tmp_path
):
    devices = [unique("e2ekill") for _ in range(METERS)]
    expected_rows = METERS * MESSAGES_PER_METER * len(PHASES)
    port = free_port()
    env = dict(
        os.environ,
        MSM_MONGO_URI=endpoints.mongo_uri,
        MSM_MONGO_DB=mongo_db.name,
        MSM_AMQP_URL=amqp_url,
        MSM_METRICS_PORT=str(port),
        MSM_INGEST_CLIENT_ID=unique("e2e-ingest"),
        MSM_INGEST_SHARED_GROUP=unique("g"),
        MSM_INGEST_SUBSCRIBE_DEVICES=",".join(devices),
        MSM_INGEST_SHADOW_ENABLED="false",
        MSM_INGEST_SWEEPER_INTERVAL_S="1",
        MSM_INGEST_SWEEPER_MIN_AGE_S="1",
        MSM_LOG_LEVEL="WARNING",
    )
    events = EventCounter(amqp_url, devices)
    log = tmp_path / "ingest.log"
    ingest = start_ingest(env, log)
    meters = Meters(endpoints, devices)
    rows = mongo_db.telemetry
    try:
        # Ready = connected and subscribed: from then on its session outlives the kill.
        assert wait_for(lambda: ready(port), timeout=30)
        meters.start()
        assert wait_for(lambda: rows.count_documents({}) >= expected_rows // 4, timeout=60)
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        stored_at_kill = rows.count_documents({})
        meters.join()
        assert meters.sent == METERS * MESSAGES_PER_METER
        ingest = start_ingest(env, log)
        assert wait_for(lambda: rows.count_documents({}) >= expected_rows, timeout=90)
        assert wait_for(lambda: rows.count_documents({"processed": False}) == 0, timeout=60)
        assert wait_for(lambda: len(set(events.drain())) >= expected_rows, timeout=30)
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(15) == 0
    finally:
        for proc in (ingest,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        events.close()
    row_ids = {r["_id"] for r in rows.find({}, {"_id": 1})}
    assert stored_at_kill < expected_rows, "the kill did not land mid-stream"
    assert rows.count_documents({}) == expected_rows == len(row_ids)
    assert len(events.ids) >= METERS * MESSAGES_PER_METER
    assert set(events.reading_ids) == row_ids
