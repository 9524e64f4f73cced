"""End to end: meters publish N messages, ingest is SIGKILLed and restarted.

Mid-stream, and between the row insert and RabbitMQ's confirm of the events (a proxy in front
of RabbitMQ stops passing bytes: the events are sent, never confirmed). Afterwards the database
holds exactly N x readings telemetry rows, RabbitMQ received at least N events with distinct ids
(one per message: a meter's phases at one instant) announcing every reading id (duplicates
allowed, losses not), and no outbox entry is left. The broker keeps ingest's persistent session
while it is dead, so what was not acknowledged is delivered again after the restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import orjson
import pytest
from msm_common.adapters.mqtt import MqttConnection
from support.e2e import free_port, ready, wait_for
from support.event_tap import EventTap, reading_ids
from support.services import unique

pytestmark = pytest.mark.e2e

INGEST = Path(sys.executable).with_name("msm-ingest")
METERS, MESSAGES_PER_METER, PHASES = 4, 250, "ABC"  # N = 1,000 messages, 3,000 rows


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

    def __init__(self, endpoints, devices: list[str], messages: int = MESSAGES_PER_METER) -> None:
        self.endpoints, self.devices, self.messages = endpoints, devices, messages
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(d,)) for d in devices]

    def _run(self, device: str) -> None:
        ep = self.endpoints
        cfg = ep.mqtt_config(ep.pki("loadgen.crt"), ep.pki("loadgen.key"), unique("e2e-meter"))
        conn = MqttConnection(cfg).start()
        assert conn.wait_connected(10)
        t0 = int(time.time() * 1000) - 600_000
        infos = []
        for i in range(self.messages):
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


class StallingProxy:
    """A loopback TCP forwarder to RabbitMQ that can stall: connections stay open, bytes from
    either side are read and dropped (publishes are sent, confirms never come back)."""

    def __init__(self, target_port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.target = target_port
        self.stalled = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not self.stalled:
                    dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self.server.close()


def start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("ab")
    try:
        return subprocess.Popen([str(INGEST)], env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def ingest_env(endpoints, mongo_db, amqp_url: str, devices: list[str]) -> dict[str, str]:
    return dict(
        os.environ,
        MSM_MONGO_URI=endpoints.mongo_uri,
        MSM_MONGO_DB=mongo_db.name,
        MSM_AMQP_URL=amqp_url,
        MSM_METRICS_PORT=str(free_port()),
        MSM_INGEST_CLIENT_ID=unique("e2e-ingest"),
        MSM_INGEST_SHARED_GROUP=unique("g"),
        MSM_INGEST_SUBSCRIBE_DEVICES=",".join(devices),
        MSM_INGEST_SHADOW_ENABLED="false",
        MSM_INGEST_RECOVERY_INTERVAL_S="1",
        MSM_LOG_LEVEL="WARNING",
    )


def test_sigkill_mid_stream_loses_nothing_and_duplicates_no_row(
    endpoints, mongo_db, amqp_url, tmp_path
):
    devices = [unique("e2ekill") for _ in range(METERS)]
    expected_rows = METERS * MESSAGES_PER_METER * len(PHASES)
    env = ingest_env(endpoints, mongo_db, amqp_url, devices)
    port = int(env["MSM_METRICS_PORT"])
    events = EventTap(amqp_url, [f"telemetry.received.{d}" for d in devices])
    log = tmp_path / "ingest.log"
    ingest = start_ingest(env, log)
    meters = Meters(endpoints, devices)
    rows = mongo_db.telemetry
    try:
        # Ready = connected and subscribed: from then on its session outlives the kill.
        wait_for("ingest ready", lambda: ready(port), 30)
        meters.start()
        wait_for(
            "a quarter of the rows", lambda: rows.count_documents({}) >= expected_rows // 4, 60
        )
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        stored_at_kill = rows.count_documents({})
        meters.join()
        assert meters.sent == METERS * MESSAGES_PER_METER
        ingest = start_ingest(env, log)
        wait_for("every row", lambda: rows.count_documents({}) >= expected_rows, 90)
        wait_for(
            "every row announced",
            lambda: len(set(reading_ids(events.drain()))) >= expected_rows,
            60,
        )
        wait_for(
            "an empty outbox", lambda: mongo_db.ingest_event_outbox.count_documents({}) == 0, 60
        )
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
    assert len(events.events) >= METERS * MESSAGES_PER_METER
    assert set(reading_ids(events.events)) == row_ids


def test_sigkill_between_the_insert_and_the_event_confirm_announces_everything_after_restart(
    endpoints, mongo_db, amqp_url, tmp_path
):
    devices = [unique("e2eunconf") for _ in range(2)]
    messages = 100
    expected_rows = len(devices) * messages * len(PHASES)
    amqp = urllib.parse.urlsplit(amqp_url)
    proxy = StallingProxy(amqp.port or 5672)
    credentials = amqp.netloc.rsplit("@", 1)[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}"
    via_proxy = urllib.parse.urlunsplit(amqp._replace(netloc=netloc))
    env = ingest_env(endpoints, mongo_db, via_proxy, devices)
    env["MSM_INGEST_OUTBOX_AFTER_MS"] = "60000"  # no outbox entry while the confirms are stalled
    port = int(env["MSM_METRICS_PORT"])
    events = EventTap(amqp_url, [f"telemetry.received.{d}" for d in devices])
    log = tmp_path / "ingest.log"
    ingest = start_ingest(env, log)
    rows, outbox = mongo_db.telemetry, mongo_db.ingest_event_outbox
    try:
        wait_for("ingest ready", lambda: ready(port), 30)
        proxy.stalled = True  # events still go out; RabbitMQ's confirms never come back
        meters = Meters(endpoints, devices, messages)
        meters.start()
        meters.join()
        wait_for("every row", lambda: rows.count_documents({}) == expected_rows, 60)
        time.sleep(1.0)  # the last batch's events are sent and wait for their confirms
        assert outbox.count_documents({}) == 0  # nothing acknowledged, nothing in the outbox
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        ingest = start_ingest(dict(env, MSM_AMQP_URL=amqp_url), log)  # RabbitMQ reachable again
        wait_for(
            "every stored row announced",
            lambda: set(reading_ids(events.drain())) >= {r["_id"] for r in rows.find()},
            60,
        )
        wait_for("an empty outbox", lambda: outbox.count_documents({}) == 0, 30)
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(15) == 0
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        events.close()
        proxy.close()
    row_ids = {r["_id"] for r in rows.find({}, {"_id": 1})}
    assert (
        rows.count_documents({}) == expected_rows == len(row_ids)
    )  # redelivered, not stored twice
    assert (
        len({e["id"] for e in events.events}) >= len(devices) * messages
    )  # one event per message, distinct ids
    assert set(reading_ids(events.events)) == row_ids
