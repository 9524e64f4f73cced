"""Ingest benchmark: simulated meters -> mosquitto -> msm-ingest -> MongoDB + RabbitMQ.

Run (what `make bench-ingest` does):
    source deploy/local/env.sh && .venv/bin/python bench/bench_ingest.py

Options: --duration S (the main ingest run, default 60; 600 for the 10-minute RSS check),
--window S (each other phase, default 15), --publishers P (3), --devices D (200), --backlog N
(at most this many messages between meters and ingest, 8000), --backlog-messages N (queued for
the drain phase, 100,000), --skip-replicas, --only PHASES (e.g. `--only ad`), --events-queue
(bind a capped queue to every telemetry event, so RabbitMQ also enqueues), --verbose.

Prints, in one run (figures from the same run are the baselines, targets as ratios):
  (a) the raw broker pipe: P paho publisher processes -> one plain paho subscriber, QoS 1, and
      that subscriber's CPU per message;
  (b) the database's own insert_many rate for the same rows (one client, ingest's batch size),
      before and after (c), and the database's CPU per row doing it;
  (c) msm-ingest (the real service, one process): stored messages/s and rows/s at saturation,
      p50/p99 publish -> stored latency at half that rate (read off the telemetry.received
      event), CPU-us per message in ingest, broker, RabbitMQ and the database, the database's
      CPU per row against (b)'s (what ingest asks of it beyond the insert), RSS over the run;
  (d) the same pipeline with the database write swapped for a no-op store (the ceiling), and
      ingest's CPU per message against (a)'s bare paho subscriber;
  (e) two replicas with the no-op store on one shared subscription, against (d);
  (f) documents written per telemetry row at a fleet's cadence, from the database's oplog;
  (g) the time to drain --backlog-messages queued while ingest was down, and the MQTT
      disconnects during the drain, against --backlog-messages / (c).
Targets: (c) >= 80 % of (b); (d) >= 80 % of (a); (d) ingest CPU <= 1.5 x (a)'s subscriber;
(e) >= 0.9 x (d); (f) <= 1.2 documents per row; (g) <= 1.25 x messages / (c), no disconnect.
The broker, RabbitMQ and the database are shared with whoever else uses this machine: their CPU
rate just before each phase is subtracted. Everything runs on a database and a RabbitMQ vhost of
its own (removed afterwards), with client ids and share groups of its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from bench_broker import own_broker
from ingest_load import EventProbe, Load, drive, payload, raw_pipe_running
from ingest_phases import backlog_drain, fleet_writes
from ingest_procs import (
    ROOT,
    CpuMeter,
    Ingest,
    consumed,
    cpu_seconds,
    rss_mib,
    scrape,
    stack_pids,
    started,
)
from ingest_report import report
from msm_common.adapters import mongo
from msm_common.contracts import parse_telemetry
from plumbing import own_vhost, rabbitmqctl


# -- phases ------------------------------------------------------------------------------------
def cpu_at_rate(load: Load, measure: Any, pid: int, args: argparse.Namespace) -> float:
    """CPU-us per message of `pid` with the load held at --cpu-rate msg/s: the subscriber of (a)
    and ingest at (d) compared at the same rate (per-message cost depends on the rate)."""
    drive(load, measure, args.backlog, 2, rate=args.cpu_rate)
    before, cpu0 = measure(), cpu_seconds(pid)
    drive(load, measure, args.backlog, args.window / 2, rate=args.cpu_rate)
    return float((cpu_seconds(pid) - cpu0) / max(measure() - before, 1) * 1e6)


def raw_pipe(args: argparse.Namespace, devices: list[str]) -> tuple[float, float, float]:
    """(msg/s through the broker, CPU-us per message of the subscriber at --cpu-rate, and at
    saturation)."""
    pipe = raw_pipe_running(devices, args.publishers, args.host, args.port, args.pki)
    with pipe as (load, received, pid):
        drive(load, received, args.backlog, 3)
        before, t0, cpu0 = received(), time.monotonic(), cpu_seconds(pid)
        drive(load, received, args.backlog, args.window)
        got = max(received() - before, 1)
        saturated = (cpu_seconds(pid) - cpu0) / got * 1e6
        rate = got / (time.monotonic() - t0)
        return rate, cpu_at_rate(load, received, pid, args), saturated


def database_rates(db: Any, args: argparse.Namespace, devices: list[str]) -> tuple[float, float]:
    """(b) insert_many rows/s of ingest's rows, batches of ingest's size, and the database's CPU
    per row doing it (what the same rows cost it with nothing else asked)."""
    now = datetime.now().astimezone()
    per_batch = 500
    seq, base = 0, int(time.time() * 1000) - 10**7
    coll = db["bench_insert"]
    coll.create_indexes(mongo.collection_indexes(400)["telemetry"])
    meter = CpuMeter({"database": stack_pids()["database"]})
    idle = meter.idle_rates(2)
    rows, start, cpu0 = 0, time.monotonic(), meter.snapshot()
    while time.monotonic() - start < args.window:
        msgs = [
            parse_telemetry(
                devices[(seq + i) % len(devices)],
                orjson.loads(payload(base + seq + i, seq + i)),
                received_at=now,
            )
            for i in range(per_batch)
        ]
        seq += per_batch
        docs = [r.to_document() for m in msgs for r in m.readings]
        # A retried insert (pymongo retries writes after a timeout) finds its own rows: fine.
        mongo.insert_many_idempotent(db, "bench_insert", docs)
        rows += len(docs)
    elapsed = time.monotonic() - start
    cpu = CpuMeter.used(cpu0, meter.snapshot(), elapsed, idle).get("database", 0.0)
    db.drop_collection("bench_insert")
    return rows / elapsed, cpu / max(rows, 1) * 1e6


def ingest_run(
    args: argparse.Namespace,
    env: dict[str, str],
    devices: list[str],
    probe: EventProbe | None,
    *,
    seconds: float,
    null_store: bool = False,
    replicas: int = 1,
    latency: bool = False,
) -> dict[str, Any]:
    # A shared-subscription group of its own: mosquitto keeps giving a group's share to the
    # persistent session of a member that left, until that session expires.
    env = dict(env, MSM_INGEST_SHARED_GROUP=f"bench-{uuid.uuid4().hex[:8]}")
    procs = [Ingest(env, null_store=null_store, name=f"-{i}") for i in range(replicas)]
    result: dict[str, Any] = {}
    load = None
    try:
        for p in procs:
            p.wait_ready()
        pids = stack_pids()
        if args.broker_pid:
            pids["broker"] = args.broker_pid
        meter = CpuMeter({**pids, **{f"ingest{i}": p.proc.pid for i, p in enumerate(procs)}})
        idle = meter.idle_rates(3)
        for i in range(replicas):
            idle.pop(f"ingest{i}", None)

        def measure() -> float:
            return sum(consumed(scrape(p.port))[0] for p in procs)

        load = Load(devices, args.publishers, args.host, args.port, args.pki).start()
        drive(load, measure, args.backlog, 5)  # warm-up
        rss: list[float] = []
        totals = [consumed(scrape(p.port)) for p in procs]
        cpu0, t0 = meter.snapshot(), time.monotonic()
        drive(
            load,
            measure,
            args.backlog,
            seconds,
            every=lambda: rss.append(sum(rss_mib(p.proc.pid) for p in procs)),
        )
        elapsed = time.monotonic() - t0
        cpu = CpuMeter.used(cpu0, meter.snapshot(), elapsed, idle)
        final = [scrape(p.port) for p in procs]
        after = [consumed(f) for f in final]
        if args.verbose:
            for (name, labels), value in sorted(final[0].items()):
                if (
                    name.startswith(("msm_ingest_batch_size", "msm_ingest_write_seconds"))
                    and name.endswith(("_sum", "_count"))
                ) or name.startswith(
                    ("msm_ingest_events", "msm_ingest_outbox", "msm_ingest_device_state_writes")
                ):
                    print(f"    {name}{{{labels}}} {value:.3f}")
        msgs = sum(a[1] - b[1] for a, b in zip(after, totals, strict=True))
        rows = sum(a[2] - b[2] for a, b in zip(after, totals, strict=True))
        rss.append(sum(rss_mib(p.proc.pid) for p in procs))
        ingest_cpu = sum(v for k, v in cpu.items() if k.startswith("ingest"))
        per = max(msgs, 1)
        result = {
            "msgs": msgs / elapsed,
            "rows": rows / elapsed,
            "cpu_ingest": ingest_cpu / per * 1e6,
            "cpu_broker": cpu.get("broker", 0) / per * 1e6,
            "cpu_rabbit": cpu.get("rabbitmq", 0) / per * 1e6,
            "cpu_db": cpu.get("database", 0) / per * 1e6,
            "rss": rss,
        }
        if null_store and replicas == 1:
            result["cpu_at_rate"] = cpu_at_rate(load, measure, procs[0].proc.pid, args)
        if latency and probe is not None:
            target = result["msgs"] * 0.5
            load.allow(load.total)  # drain the backlog first: latency at half load, not queueing
            deadline = time.monotonic() + 90
            while measure() < load.total - 10 and time.monotonic() < deadline:
                time.sleep(0.1)
            drive(load, measure, args.backlog, 3, rate=target)
            probe.samples.clear()
            probe.recording = True
            drive(load, measure, args.backlog, args.latency_window, rate=target)
            probe.recording = False
            samples = sorted(probe.samples)
            if samples:
                result["latency"] = (
                    target,
                    statistics.median(samples),
                    samples[int(len(samples) * 0.99) - 1],
                    len(samples),
                )
    finally:
        if load is not None:
            load.close()
        for p in procs:
            p.stop()
    return result


def drain_phase(
    args: argparse.Namespace, env: dict[str, str], devices: list[str], tag: str
) -> dict[str, Any]:
    """(g): one client id for both starts (its persistent session holds the backlog)."""
    drain_env = dict(
        env,
        MSM_INGEST_CLIENT_ID=f"bench-drain-{tag}",
        MSM_INGEST_SHARED_GROUP=f"bench-g-{tag}",
        MSM_INGEST_SESSION_EXPIRY_S="900",
    )

    def measure(ingest: Ingest) -> tuple[float, float]:
        samples = scrape(ingest.port)
        return consumed(samples)[0], samples.get(("msm_ingest_mqtt_disconnects", ""), -1.0)

    load = Load(devices, args.publishers, args.host, args.port, args.pki).start()
    try:
        return backlog_drain(
            lambda: started(drain_env, fixed_id=True),
            measure,
            load,
            args.backlog_messages,
            timeout=1800,
        )
    finally:
        load.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--latency-window", type=float, default=10.0)
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=8000)
    parser.add_argument("--backlog-messages", type=int, default=100_000)
    parser.add_argument("--cpu-rate", type=float, default=500.0)
    parser.add_argument(
        "--stack-broker",
        action="store_true",
        help="use the stack's mosquitto instead of one of the bench's own",
    )
    parser.add_argument("--skip-replicas", action="store_true")
    parser.add_argument("--only", default="", help="run only these phases, e.g. 'd' (debugging)")
    parser.add_argument("--verbose", action="store_true", help="print ingest's batch metrics")
    parser.add_argument(
        "--events-queue",
        action="store_true",
        help="bind a capped queue to every telemetry event (RabbitMQ enqueues)",
    )
    args = parser.parse_args()
    if args.stack_broker:
        args.broker_pid = 0
        return run(args, int(os.environ.get("MSM_MQTT_PORT", "8883")))
    with own_broker(ROOT / ".local/mosquitto/mosquitto.conf") as (port, pid):
        args.broker_pid = pid
        return run(args, port)


def run(args: argparse.Namespace, mqtt_port: int) -> int:
    # Stopped early (Ctrl-C, SIGTERM): still stop the children and drop the database and vhost.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    args.host = os.environ.get("MSM_MQTT_HOST", "127.0.0.1")
    args.port = mqtt_port
    args.pki = Path(os.environ.get("MSM_PKI_DIR", ROOT / ".local/pki"))
    tag = uuid.uuid4().hex[:8]
    devices = [f"bench-{tag}-{i:04d}" for i in range(args.devices)]
    amqp_url = own_vhost(
        os.environ.get("MSM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        f"msm-bench-ingest-{tag}",
    )
    if amqp_url is None:
        raise SystemExit("bench needs a RabbitMQ vhost of its own (rabbitmqctl add_vhost)")
    mongo_uri = os.environ.get("MSM_MONGO_URI", "mongodb://127.0.0.1:27017/msm")
    db_name = f"msm_bench_ingest_{tag}"
    client = mongo.connect(mongo_uri)
    env = dict(
        os.environ,
        MSM_MQTT_PORT=str(mqtt_port),
        MSM_MONGO_URI=mongo_uri,
        MSM_MONGO_DB=db_name,
        MSM_AMQP_URL=amqp_url,
        MSM_INGEST_SHARED_GROUP=f"bench-{tag}",
        MSM_INGEST_SUBSCRIBE_DEVICES=",".join(devices),
        MSM_INGEST_SHADOW_ENABLED="false",
        MSM_INGEST_SESSION_EXPIRY_S="30",
        MSM_LOG_LEVEL="WARNING",
    )
    probe = None
    wanted = set(args.only or "abcdefg")
    if args.skip_replicas:
        wanted.discard("e")
    r: dict[str, Any] = {}
    try:
        if "a" in wanted:  # (a), then (d) and (a) again: the machine's speed drifts
            print("(a) raw broker pipe ...", flush=True)
            r["a"], r["a_cpu"], r["a_cpu_sat"] = raw_pipe(args, devices)
        if "d" in wanted:
            print("(d) no-op store ...", flush=True)
            r["d"] = ingest_run(args, env, devices, None, seconds=args.window, null_store=True)
        if "e" in wanted:
            print("(e) two replicas, no-op store ...", flush=True)
            r["e"] = ingest_run(
                args, env, devices, None, seconds=args.window, replicas=2, null_store=True
            )
        if "a" in wanted and "d" in wanted:
            print("(a) raw broker pipe, again ...", flush=True)
            r["a2"], r["a2_cpu"], r["a2_cpu_sat"] = raw_pipe(args, devices)
        if "b" in wanted:  # (b), then (c) and (b) again: the machine's speed drifts
            print("(b) database insert_many ...", flush=True)
            r["b"], r["b_cpu"] = database_rates(client[db_name], args, devices)
        if "c" in wanted:
            probe = EventProbe(amqp_url, devices[:4], sink=args.events_queue)
            print(f"(c) msm-ingest, {args.duration:.0f} s ...", flush=True)
            r["c"] = ingest_run(args, env, devices, probe, seconds=args.duration, latency=True)
            if "b" in wanted:
                print("(b) database insert_many, again ...", flush=True)
                r["b2"], r["b2_cpu"] = database_rates(client[db_name], args, devices)
        if "f" in wanted:
            print("(f) documents per row at a fleet's cadence ...", flush=True)
            fleet = [f"{d}-f" for d in devices]
            fleet_env = dict(
                env,
                MSM_INGEST_SUBSCRIBE_DEVICES=",".join(fleet),
                MSM_INGEST_SHARED_GROUP=f"bench-f-{tag}",
            )
            try:
                r["f"] = fleet_writes(
                    client,
                    db_name,
                    lambda: started(fleet_env),
                    args.pki,
                    args.host,
                    args.port,
                    fleet,
                )
            except Exception as exc:
                print(f"    (f) failed: {exc!r}", flush=True)
        if "g" in wanted:
            print(f"(g) draining {args.backlog_messages} queued messages ...", flush=True)
            try:
                r["g"] = drain_phase(args, env, devices, tag)
            except Exception as exc:
                print(f"    (g) failed: {exc!r}", flush=True)
        report(r, args)
    finally:
        if probe is not None:
            probe.close()
        client.drop_database(db_name)
        client.close()
        rabbitmqctl("delete_vhost", f"msm-bench-ingest-{tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
