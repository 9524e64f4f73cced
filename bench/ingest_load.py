"""Load for bench_ingest: paho publisher processes (simulated meters), a raw paho subscriber, and
the probe that reads latency off telemetry events.

Publishers send QoS 1 telemetry with three phase readings per message, round-robin over their
devices, as fast as the credit allows: the bench moves `limit` (messages all publishers together
may have sent) ahead of what was consumed, so the broker never holds more than a bounded backlog
(mosquitto drops QoS 1 messages beyond max_queued_messages). Each reading's timestamp is the
publish time in ms (kept strictly increasing per device), so latency can be read off an event.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pika
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from paho.mqtt.enums import CallbackAPIVersion

CHUNK = 100
READINGS = 3  # phase readings per message


def client(pki: Path, cert: str, client_id: str, **kw: Any) -> paho.Client:
    c = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        **kw,
    )
    c.tls_set(
        ca_certs=str(pki / "ca.crt"),
        certfile=str(pki / f"{cert}.crt"),
        keyfile=str(pki / f"{cert}.key"),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    c.max_inflight_messages_set(1000)
    return c


def reader_identity(pki: Path) -> str:
    """The certificate a device-topic reader uses: ingest's own where the PKI has one."""
    return "ingest" if (pki / "ingest.crt").exists() else "backend"


def payload(ts_ms: int, seq: int) -> bytes:
    readings = [
        {
            "channel_id": 0,
            "phase": p,
            "temperature": 31.5,
            "line_voltage": 229.8 + seq % 5,
            "current": 4.25,
            "active_power": 975.5,
            "reactive_power": 42.0,
        }
        for p in "ABC"[:READINGS]
    ]
    return orjson.dumps({"timestamp": ts_ms, "readings": readings})


def publisher(
    index: int, devices: list[str], host: str, port: int, pki: str, sent: Any, limit: Any, stop: Any
) -> None:
    """Child process: publish until `stop`, keeping sum(sent) <= limit."""
    c = client(Path(pki), "loadgen", f"bench-pub-{index}-{time.time_ns() % 10**8}")
    connected = threading.Event()
    c.on_connect = lambda *_a: connected.set()
    c.connect(host, port, keepalive=30)
    c.loop_start()
    connected.wait(10)
    last = {d: 0 for d in devices}
    topics = {d: f"msm/{d}/telemetry" for d in devices}
    seq, n = 0, len(devices)
    while not stop.is_set():
        if sum(sent[:]) + CHUNK > limit.value:
            time.sleep(0.002)
            continue
        now = int(time.time() * 1000)
        for _ in range(CHUNK):
            device = devices[seq % n]
            ts = last[device] = max(now, last[device] + 1)
            c.publish(topics[device], payload(ts, seq), qos=1)
            seq += 1
        sent[index] += CHUNK
    c.disconnect()
    c.loop_stop()


def raw_subscriber(
    filters: list[str], host: str, port: int, pki: str, received: Any, ready: Any, stop: Any
) -> None:
    """Child process: a plain paho subscriber (QoS 1, auto acks) counting what it gets."""
    c = client(Path(pki), reader_identity(Path(pki)), f"bench-raw-{time.time_ns() % 10**8}")
    count = [0]

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        count[0] += 1
        if count[0] % 200 == 0:
            received.value = count[0]

    c.on_message = on_message
    c.on_subscribe = lambda *_a: ready.set()
    c.on_connect = lambda cl, *_a: cl.subscribe([(f, 1) for f in filters])
    c.connect(host, port, keepalive=30)
    c.loop_start()
    stop.wait()
    received.value = count[0]
    c.disconnect()
    c.loop_stop()


@contextlib.contextmanager
def raw_pipe_running(
    devices: list[str], publishers: int, host: str, port: int, pki: Path
) -> Iterator[tuple[Load, Callable[[], int], int]]:
    """A plain paho subscriber process (QoS 1, only counts) fed by `publishers` processes:
    (the load, how many messages the subscriber got so far, the subscriber's pid)."""
    ctx = mp.get_context("spawn")
    received, ready, stop = ctx.Value("q", 0, lock=False), ctx.Event(), ctx.Event()
    filters = [f"msm/{d}/telemetry" for d in devices]
    sub = ctx.Process(
        target=raw_subscriber,
        args=(filters, host, port, str(pki), received, ready, stop),
        daemon=True,
    )
    sub.start()
    if not ready.wait(120):  # a loaded machine may take long to spawn and subscribe
        sub.terminate()
        raise SystemExit("the raw subscriber did not subscribe within 120 s")
    load = Load(devices, publishers, host, port, Path(pki)).start()
    try:
        yield load, lambda: int(received.value), sub.pid or 0
    finally:
        load.close()
        stop.set()
        sub.join(10)


class Load:
    """P publisher processes sharing a credit limit."""

    def __init__(self, devices: list[str], publishers: int, host: str, port: int, pki: Path):
        ctx = mp.get_context("spawn")
        self.sent = ctx.Array("q", publishers, lock=False)
        self.limit = ctx.Value("q", 0, lock=False)
        self.stop = ctx.Event()
        shares = [devices[i::publishers] for i in range(publishers)]
        self.procs = [
            ctx.Process(
                target=publisher,
                args=(i, shares[i], host, port, str(pki), self.sent, self.limit, self.stop),
                daemon=True,
            )
            for i in range(publishers)
        ]

    def start(self) -> Load:
        for p in self.procs:
            p.start()
        return self

    @property
    def total(self) -> int:
        return sum(self.sent[:])

    def allow(self, up_to: int) -> None:
        self.limit.value = up_to

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.terminate()


class EventProbe:
    """Latency samples: telemetry.received events of a few probe devices (publish ts in data)."""

    def __init__(self, amqp_url: str, probe_devices: list[str], *, sink: bool) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = self.channel = self.conn.channel()
        ch.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
        if sink:  # --events-queue: a stand-in consumer queue for every telemetry event (capped)
            ch.queue_declare(
                "bench-ingest-sink", arguments={"x-max-length": 50_000, "x-overflow": "drop-head"}
            )
            ch.queue_bind("bench-ingest-sink", EVENTS_EXCHANGE, "telemetry.received.#")
        ch.queue_declare("bench-ingest-probe", exclusive=True)
        for d in probe_devices:
            ch.queue_bind("bench-ingest-probe", EVENTS_EXCHANGE, f"telemetry.received.{d}")
        self.samples: list[float] = []
        self.recording = False
        ch.basic_consume("bench-ingest-probe", self._on_event, auto_ack=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_event(self, _ch: Any, _m: Any, _p: Any, body: bytes) -> None:
        if self.recording:
            stamp = datetime.fromisoformat(orjson.loads(body)["data"]["timestamp"])
            self.samples.append(time.time() * 1000 - stamp.timestamp() * 1000)

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.start_consuming()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.add_callback_threadsafe(self.channel.stop_consuming)
            self.thread.join(5)
            self.conn.close()


def drive(
    load: Load,
    measure: Any,
    backlog: int,
    seconds: float,
    rate: float | None = None,
    every: Any = None,
) -> None:
    """Keep the load ahead of what was consumed (and at most `rate`/s).

    Each look scrapes ingest's /metrics, which costs ingest CPU too (a few ms): a fast consumer
    is looked at twice a second, a slow one (the database's pace) down to every 2 s, so that
    scraping stays a small part of what is measured. The lead is the consumer's own rate over
    one look and a second more (at least 1,500, at most `backlog`): enough to keep it
    saturated between two looks, small enough to drain quickly.
    """
    start = time.monotonic()
    sent_at_start = load.total
    next_every = start
    last_count, last_time, lead, pause = measure(), start, 1500.0, 0.5
    while (now := time.monotonic()) - start < seconds:
        count = measure()
        if now > last_time:
            per_s = (count - last_count) / (now - last_time)
            pause = min(2.0, max(0.5, backlog / max(per_s, 1.0) / 4))
            lead = min(float(backlog), max(1500.0, (pause + 1.0) * per_s))
        last_count, last_time = count, now
        limit = count + lead
        if rate is not None:
            limit = min(limit, sent_at_start + int(rate * (now - start)) + 100)
        load.allow(int(limit))
        if every is not None and now >= next_every:
            every()
            next_every = now + 5
        time.sleep(pause)
