"""Ingest's CPU per message, stage by stage, each next to a baseline measured in the same run.

Run (what `make bench-ingest-parts` does):
    source deploy/local/env.sh && .venv/bin/python bench/bench_ingest_parts.py

(1) the MQTT source alone: msm-ingest's MqttSource (TLS, QoS 1, manual acks) into a consumer that
    only acknowledges, fed by the same paho publishers as bench_ingest; baseline: a plain paho
    subscriber (auto acks, counts only) on the same load;
(2) the worker alone: the pipeline's batch work (parse, validate, plan, rows, device updates,
    events, acks) on ready-made deliveries, the database and RabbitMQ swapped for no-ops;
    baseline: orjson.loads + orjson.dumps of the same payloads (the least any ingest must do);
(3) the store calls alone: the rows and the (coalesced) device updates the worker made for
    those batches, written by MongoStore to a scratch database (the client's CPU only; the
    database's time is not in it); baseline: pymongo's insert_many of the same rows alone;
(4) the event publisher alone: msm_common's ConfirmingPublisher (pika's public basic_publish,
    asynchronous confirms) sending ingest's telemetry events to a vhost of its own, CPU of this
    process per event; baseline: pika's BlockingConnection basic_publish without confirms.
Before this cut, ingest used private paho and pika paths: (1) was 10.7 CPU-us/msg (x0.23 of the
plain paho subscriber) and its AMQP frames were written by hand; this run prints what the public
APIs cost instead.
Figures are CPU seconds of the measuring process (1) or thread (2, 3) per message. (1) and (2)
add up to less than bench_ingest's (d): the AMQP thread, metrics and contention between the
stages are not in them.
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pika
from ingest_load import Load, payload, raw_pipe_running, reader_identity
from ingest_procs import cpu_seconds
from msm_common.adapters import mongo
from msm_common.contracts import parse_telemetry
from msm_ingest.adapters.event_publisher import AmqpEventPublisher
from msm_ingest.adapters.mongo_store import MongoStore
from msm_ingest.adapters.mqtt_source import MqttSource, MqttSourceConfig
from msm_ingest.adapters.null_store import NullStore
from msm_ingest.batch_writer import BatchWriter
from msm_ingest.bootstrap import tune_gc
from msm_ingest.domain.events import telemetry_events
from msm_ingest.metrics import IngestMetrics
from msm_ingest.pipeline import Pipeline, PipelineConfig
from msm_ingest.ports import Delivery
from plumbing import own_vhost, rabbitmqctl


def _drive(load: Load, consumed: Any, seconds: float, backlog: int = 8000) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        load.allow(consumed() + backlog)
        time.sleep(0.05)


def _measure(load: Load, consumed: Any, pid: int, seconds: float) -> tuple[float, float]:
    """(msg/s, CPU-us per message of `pid`) over `seconds`, after a 3 s warm-up."""
    _drive(load, consumed, 3)
    n0, t0, cpu0 = consumed(), time.monotonic(), cpu_seconds(pid)
    _drive(load, consumed, seconds)
    got = max(consumed() - n0, 1)
    return got / (time.monotonic() - t0), (cpu_seconds(pid) - cpu0) / got * 1e6


def source_alone(args: argparse.Namespace, devices: list[str]) -> tuple[float, float]:
    pki = Path(args.pki)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    source = MqttSource(
        MqttSourceConfig(
            args.host,
            args.port,
            pki / "ca.crt",
            pki / f"{reader_identity(pki)}.crt",
            pki / f"{reader_identity(pki)}.key",
            client_id=f"bench-parts-{os.getpid()}",
            shared_group="bench-parts",
            session_expiry_s=0,
            devices=tuple(devices),
        )
    )
    source.start(inbox.put)
    if not source.wait_connected(15):
        raise SystemExit("MQTT source did not connect")
    count = [0]

    def consume() -> None:  # what the pipeline does with a burst, minus the work
        while True:
            burst = inbox.get()
            for delivery in burst:
                delivery.ack()
            source.flush_acks()
            count[0] += len(burst)

    threading.Thread(target=consume, daemon=True).start()
    load = Load(devices, args.publishers, args.host, args.port, pki).start()
    try:
        return _measure(load, lambda: count[0], os.getpid(), args.window)
    finally:
        load.close()
        source.pause()
        source.stop()


def paho_alone(args: argparse.Namespace, devices: list[str]) -> tuple[float, float]:
    pipe = raw_pipe_running(devices, args.publishers, args.host, args.port, Path(args.pki))
    with pipe as (load, received, pid):
        return _measure(load, received, pid, args.window)


class _Confirmed:
    done = True

    def __init__(self, n: int) -> None:
        self.n = n

    def wait(self, timeout: float) -> list[bool]:
        return [True] * self.n


class _NoBroker:
    ready = True

    def start(self, timeout: float) -> _NoBroker:
        return self

    def publish(self, events: Any) -> _Confirmed:
        return _Confirmed(len(events))

    def close(self) -> None:
        return None


class _Recorder(NullStore):
    """A no-op store that keeps what it was asked to write (for part 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[list[dict[str, Any]], list[Any]]] = []

    def insert_readings(self, docs: Any) -> list[bool]:
        self.batches.append(([dict(d) for d in docs], []))
        return super().insert_readings(docs)

    def update_devices(self, writes: Any) -> None:
        self.batches[-1][1].extend(writes)


def worker_alone(
    devices: list[str], messages: int, batch: int, store: NullStore
) -> tuple[float, float]:
    """(worker CPU-us per message, baseline CPU-us per message)."""
    writer = BatchWriter(store, _NoBroker(), IngestMetrics(), clock=lambda: datetime.now(UTC))
    pipeline = Pipeline(writer, writer._metrics, PipelineConfig(batch_max=batch))
    base = int(time.time() * 1000)
    now = datetime.now(UTC)

    def noop() -> None:
        return None

    batches = [
        [
            Delivery(
                f"msm/{devices[i % len(devices)]}/telemetry", payload(base + k + i, i), now, noop
            )
            for i in range(batch)
        ]
        for k in range(0, messages, batch)
    ]
    pipeline._process(batches[0])  # warm-up (imports, caches)
    t0 = time.thread_time()
    for b in batches[1:]:
        pipeline._process(b)
        pipeline._pending.get_nowait()
    worker = (time.thread_time() - t0) / (len(batches) - 1) / batch * 1e6
    t0 = time.thread_time()
    for b in batches[1:]:
        for d in b:
            orjson.dumps(orjson.loads(d.payload))
    baseline = (time.thread_time() - t0) / (len(batches) - 1) / batch * 1e6
    return worker, baseline


def store_alone(
    recorded: _Recorder, mongo_uri: str, db_name: str, per_batch: int
) -> tuple[float, float]:
    """(MongoStore CPU-us per message, insert_many CPU-us per message) on a scratch database."""
    client = mongo.connect(mongo_uri)
    try:
        db = client[db_name]
        store = MongoStore(db)
        store.prepare(365)
        batches = recorded.batches[1:7]
        t0 = time.thread_time()
        for docs, writes in batches:
            store.insert_readings(docs)
            if writes:
                store.update_devices(writes)
        ours = (time.thread_time() - t0) / len(batches) / per_batch * 1e6
        db.drop_collection("telemetry")
        store.prepare(365)
        t0 = time.thread_time()
        for docs, _writes in batches:
            db["telemetry"].insert_many(docs, ordered=False)
        baseline = (time.thread_time() - t0) / len(batches) / per_batch * 1e6
    finally:
        client.drop_database(db_name)
        client.close()
    return ours, baseline


def publisher_alone(amqp_url: str, devices: list[str], events: int = 20_000) -> tuple[float, float]:
    """(ConfirmingPublisher CPU-us per confirmed event, BlockingConnection basic_publish without
    confirms CPU-us per event), this process's CPU, on a vhost of its own."""
    now = datetime.now(UTC)
    base = int(time.time() * 1000)
    readings = [
        r
        for i in range(500)
        for r in parse_telemetry(
            devices[i % len(devices)], orjson.loads(payload(base + i, i)), received_at=now
        ).readings
    ]
    batch = telemetry_events(readings, [r.reading_id for r in readings], "bench").events
    publisher = AmqpEventPublisher(amqp_url, name="bench-parts").start(10)
    try:
        publisher.publish(batch).wait(10)  # warm-up
        t0, confirmed = time.process_time(), 0
        for _ in range(events // len(batch)):
            confirmed += sum(publisher.publish(batch).wait(30))
        ours = (time.process_time() - t0) / max(confirmed, 1) * 1e6
    finally:
        publisher.close()
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    channel.exchange_declare("msm.events", "topic", durable=True)
    props = pika.BasicProperties(delivery_mode=2, content_type="application/cloudevents+json")
    t0 = time.process_time()
    for _ in range(events // len(batch)):
        for e in batch:
            channel.basic_publish("msm.events", e.routing_key, e.body, props)
    baseline = (time.process_time() - t0) / (events // len(batch) * len(batch)) * 1e6
    conn.close()
    return ours, baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MSM_MQTT_PORT", "8883")))
    parser.add_argument("--pki", default=os.environ.get("MSM_PKI_DIR", ".local/pki"))
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args()
    tag = f"{os.getpid() % 10**6}"
    devices = [f"bench-parts-{tag}-{i:04d}" for i in range(args.devices)]

    tune_gc()  # as msm-ingest's main does
    worker, floor = worker_alone(devices, 20_500, 500, NullStore())
    recorded = _Recorder()
    worker_alone(devices, 3_500, 500, recorded)  # the writes of 7 batches, for (3)
    print(f"(2) worker alone: {worker:.1f} CPU-us/msg; orjson loads+dumps of the same payloads: "
          f"{floor:.1f} us (x{worker / floor:.1f})", flush=True)  # fmt: skip
    mongo_uri = os.environ.get("MSM_MONGO_URI", "mongodb://127.0.0.1:27017")
    ours, insert = store_alone(recorded, mongo_uri, f"msm_bench_parts_{tag}", 500)
    print(f"(3) store calls alone: {ours:.1f} CPU-us/msg (rows, coalesced devices); "
          f"insert_many of the same rows alone: {insert:.1f} us (x{ours / insert:.2f})",
          flush=True)  # fmt: skip
    amqp_url = own_vhost(
        os.environ.get("MSM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"), f"msm-parts-{tag}"
    )
    if amqp_url is not None:
        try:
            ours, pika_floor = publisher_alone(amqp_url, devices)
        finally:
            rabbitmqctl("delete_vhost", f"msm-parts-{tag}")
        print(f"(4) event publisher alone (public pika API, confirms): {ours:.1f} CPU-us/event; "
              f"pika basic_publish, no confirms: {pika_floor:.1f} us (x{ours / pika_floor:.2f})",
              flush=True)  # fmt: skip
    paho_rate, paho_cpu = paho_alone(args, devices)
    print(f"    baseline, plain paho subscriber: {paho_rate:.0f} msg/s, {paho_cpu:.1f} CPU-us/msg",
          flush=True)  # fmt: skip
    rate, cpu = source_alone(args, devices)
    print(f"(1) MQTT source alone: {rate:.0f} msg/s, {cpu:.1f} CPU-us/msg "
          f"(x{cpu / paho_cpu:.2f} of the plain paho subscriber)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
