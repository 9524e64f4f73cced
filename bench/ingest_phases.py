"""bench_ingest's phases beyond throughput: documents written per telemetry row at a fleet's
cadence (counted from the database's own oplog), and draining a backlog of queued messages.

Documents per row: 200 meters each send 4 messages of 3 readings, one round every `cadence`
seconds (well within the device-state interval, as a fleet reporting every few seconds), to a
fresh msm-ingest; every write the database made to this run's collections is read back from
`local.oplog.rs` (inserts, updates, deletes by namespace), during the run and again after
ingest's shutdown (which writes the device state it still held).

Backlog: ingest's persistent session is created, ingest stops, `messages` are queued on the
broker for it, then ingest starts and the time until all are stored is measured, with the MQTT
connections it lost meanwhile (its `msm_ingest_mqtt_disconnects`). The session is drained at
the end: nothing stays queued for anyone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bson import Timestamp
from ingest_load import Load, client, payload
from pymongo import MongoClient
from pymongo.errors import PyMongoError

COLLECTIONS = ("telemetry", "devices", "ingest_event_outbox", "rejected_messages")


def patient_client(mongo: MongoClient[Any]) -> MongoClient[Any]:
    """A client of its own with long timeouts for oplog scans: the one-process stand-in answers
    nothing else meanwhile, so a default heartbeat times out and cancels the read."""
    host, port = mongo.address or ("127.0.0.1", 27017)
    return MongoClient(
        host,
        port,
        directConnection=True,
        connectTimeoutMS=300_000,
        socketTimeoutMS=600_000,
        serverSelectionTimeoutMS=300_000,
        heartbeatFrequencyMS=300_000,
    )


def oplog_now(mongo: MongoClient[Any]) -> Timestamp:
    slow = patient_client(mongo)
    try:
        last = slow.local["oplog.rs"].find({}, {"ts": 1}).sort("$natural", -1).limit(1)
        ts: Timestamp = next(iter(last))["ts"]
    finally:
        slow.close()
    return ts


def oplog_writes(mongo: MongoClient[Any], db_name: str, since: Timestamp) -> Counter[str]:
    """Writes to this run's collections since `since`, by `collection:op` (i, u, d)."""
    names = [f"{db_name}.{c}" for c in COLLECTIONS]
    query = {"ts": {"$gt": since}, "ns": {"$in": names}}
    slow = patient_client(mongo)
    try:
        for attempt in range(3):
            try:
                found = slow.local["oplog.rs"].find(query, {"ns": 1, "op": 1}, batch_size=100_000)
                return Counter(f"{doc['ns'].split('.', 1)[1]}:{doc['op']}" for doc in found)
            except PyMongoError:
                if attempt == 2:
                    raise
                time.sleep(2)
    finally:
        slow.close()
    return Counter()


def fleet_writes(
    mongo: MongoClient[Any],
    db_name: str,
    start_ingest: Callable[[], Any],
    pki: Path,
    host: str,
    port: int,
    devices: list[str],
    *,
    rounds: int = 4,
    cadence: float = 5.0,
) -> dict[str, Any]:
    """Documents written per telemetry row while a fleet reports at `cadence`."""
    db = mongo[db_name]
    ingest = start_ingest()
    pub = client(pki, "loadgen", f"bench-fleet-{time.time_ns() % 10**8}")
    try:
        connected = threading.Event()
        pub.on_connect = lambda *_a: connected.set()
        pub.connect(host, port, keepalive=30)
        pub.loop_start()
        if not connected.wait(15):
            raise SystemExit("fleet publisher did not connect")
        since = oplog_now(mongo)
        rows0 = db.telemetry.estimated_document_count()
        base = int(time.time() * 1000) - 3_600_000
        for r in range(rounds):
            started = time.monotonic()
            infos = [
                pub.publish(f"msm/{d}/telemetry", payload(base + r * 5000 + i, i), qos=1)
                for i, d in enumerate(devices)
            ]
            for info in infos:
                info.wait_for_publish(30)
            if r < rounds - 1:
                time.sleep(max(0.0, cadence - (time.monotonic() - started)))
        want = rows0 + rounds * len(devices) * 3
        deadline = time.monotonic() + 120
        while db.telemetry.count_documents({}) < want and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)  # the last batch's events confirmed (or their outbox entry written)
    finally:
        pub.disconnect()
        pub.loop_stop()
        ingest.stop()
    after = oplog_writes(mongo, db_name, since)
    rows = max(after["telemetry:i"], 1)
    shutdown = after["devices:u"] + after["devices:i"] - len(devices)  # the stop's flush
    return {
        "rows": after["telemetry:i"],
        "during": (sum(after.values()) - max(shutdown, 0)) / rows,
        "after": sum(after.values()) / rows,
        "by_kind": dict(after),
    }


def backlog_drain(
    start_ingest: Callable[[], Any],
    measure: Callable[[Any], tuple[float, float]],
    load: Load,
    messages: int,
    timeout: float,
) -> dict[str, Any]:
    """Seconds to store `messages` queued while ingest was down, and MQTT disconnects meanwhile.

    `measure(ingest)` is (telemetry messages handled, MQTT disconnects) from its /metrics.
    """
    first = start_ingest()  # creates the persistent session (same client id as the second)
    first.stop()
    load.allow(messages)
    deadline = time.monotonic() + timeout
    while load.total < messages and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the broker has the last publishes queued
    queued = load.total
    t0 = time.monotonic()
    ingest = start_ingest()
    try:
        handled, disconnects = measure(ingest)
        while handled < queued and time.monotonic() < deadline:
            time.sleep(0.5)
            handled, disconnects = measure(ingest)
        seconds = time.monotonic() - t0
    finally:
        ingest.stop()
    return {"queued": queued, "handled": handled, "seconds": seconds, "disconnects": disconnects}
