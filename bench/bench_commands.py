"""Command benchmark: 100 simulated meters acking at once, 5,000 commands through the API.

Run (what `make bench-commands` does):
    source deploy/local/env.sh && .venv/bin/python bench/bench_commands.py

Starts msm-api, msm-ingest and msm-commander as subprocesses on a database and RabbitMQ vhost of
their own, and a metersim Fleet (in a child process) of 100 meters that answer every command.
Measures, in one run:
  - the raw MQTT round trip: a backend client publishes a command on msm/{uuid}/ntp, the
    simulated meter acks on that topic, the backend client receives the ack (the baseline);
  - 100 clients, one per meter, each POSTing its next command as soon as the previous one
    succeeded, until 5,000 commands went through: commands/s completed, and p50/p99 from the
    API's 202 to the `succeeded` command.status event.
Targets: p50 <= 2 x raw round trip + 20 ms; >= 500 commands/s. Also printed: the database
ceiling (the commander's and the API's MongoDB work per command, straight through pymongo), and
the database minimum (insert_one/s, guarded update_one/s, and the commands/s that one insert and
two state changes per command allow at most).
Options: --meters N (100), --commands N (5000), --baseline N (1000), --relay builtin (ack events
from a stand-in relay instead of msm-ingest: the commander alone), --consumers N (commander).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pika
from bench_api import ADMIN, login
from commands_db import db_ceiling, db_minimum
from commands_services import builtin_relay, mqtt, service, stopper, wait_http
from msm_common import topics
from msm_common.adapters import amqp_topology, mongo
from msm_common.contracts import DeviceCommand
from msm_common.contracts.commands import NtpParams
from msm_common.settings import CommonSettings
from msm_metersim import registered_device
from plumbing import free_port, own_vhost, pct, rabbitmqctl

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {
    "ntp": {"server_1": "pool.ntp.org", "server_2": "time.example.com"},
    "mqtt": {
        "broker_ip": "10.0.0.5",
        "broker_port": 8883,
        "broker_user": "meter",
        "broker_password": "bench-secret",
        "data_interval": 60,
    },
    "sftp": {
        "server_ip": "10.0.0.6",
        "server_port": 22,
        "username": "meter",
        "password": "bench-secret",
        "data_interval": 300,
    },
}
FINAL = {"succeeded", "failed", "rejected", "timed_out", "expired", "cancelled", "superseded"}


# -- the fleet, in a child process so that its loops do not share our GIL ----------------------
def _fleet(meters: int, conn: Any) -> None:
    from msm_metersim import Fleet, FleetOptions  # noqa: PLC0415 - in the child only

    options = FleetOptions(
        devices=meters,
        shared_connections=4,
        interval_s=86_400,
        seed=6,
        uuids=[f"bench-cmd-{i:03d}" for i in range(meters)],
    )
    with Fleet.start(options) as fleet:
        conn.send(fleet.uuids)
        conn.recv()  # stop


def start_fleet(meters: int) -> tuple[Any, Any, list[str]]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_fleet, args=(meters, child), daemon=True)
    proc.start()
    if not parent.poll(120):
        raise SystemExit("metersim fleet did not come online")
    return proc, parent, parent.recv()


# -- measurements ----------------------------------------------------------------------------
def closed_loop(
    workers: list[str], total: int, one: Callable[[str], float | None]
) -> tuple[list[float], float, int]:
    """Each worker repeats `one(device)` until `total` were done; latencies, seconds, failures."""
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]

    def run(device: str) -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            latency = one(device)
            with lock:
                if latency is None:
                    failures[0] += 1
                else:
                    latencies.append(latency)

    threads = [threading.Thread(target=run, args=(d,)) for d in workers]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, failures[0]


class Arrivals:
    """When each awaited message arrived (perf_counter), keyed by command id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.final: dict[str, str] = {}
        self.cond = threading.Condition()

    def arrived(self, key: str) -> None:
        with self.cond:
            self.at[key] = time.perf_counter()
            self.cond.notify_all()

    def wait(self, key: str, timeout: float = 60.0) -> float | None:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.at, timeout):
                return None
            return self.at.pop(key)


def raw_round_trips(settings: CommonSettings, devices: list[str], n: int) -> list[float]:
    """Backend publishes a command, the meter acks on the same topic, the backend receives it."""
    acks = Arrivals()

    def on_message(msg: Any) -> None:
        body = orjson.loads(msg.payload)
        if body.get("origin") != "cloud" and body.get("command_id"):
            acks.arrived(body["command_id"])

    conn = mqtt(settings, "bench-raw", [("msm/+/ntp", 1)], on_message)

    def one(device: str) -> float | None:
        now = datetime.now(UTC)
        cid = f"raw-{uuid.uuid4().hex}"
        payload = DeviceCommand(
            command_id=cid,
            type="ntp",
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
            params=NtpParams(**PARAMS["ntp"]),
        ).to_payload()
        t0 = time.perf_counter()
        conn.publish(topics.command(device, "ntp"), payload, qos=1)
        arrived = acks.wait(cid, 10)
        return None if arrived is None else arrived - t0

    try:
        return closed_loop(devices, n, one)[0]
    finally:
        conn.stop()


def status_tap(amqp_url: str, done: Arrivals) -> Callable[[], None]:
    """`succeeded` (any final) command.status events, as a client of msm.events sees them."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    ch.exchange_declare(amqp_topology.EVENTS_EXCHANGE, "topic", durable=True)
    queue = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(queue, amqp_topology.EVENTS_EXCHANGE, "command.status.#")

    def on_event(_c: Any, _m: Any, _p: Any, body: bytes) -> None:
        data = orjson.loads(body)["data"]
        if data["status"] in FINAL:
            done.final[data["command_id"]] = data["status"]
            done.arrived(data["command_id"])

    ch.basic_consume(queue, on_event, auto_ack=True)
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            conn.process_data_events(time_limit=0.1)
        conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(5)

    return stop


def api_commands(port: int, token: str, done: Arrivals) -> Callable[[str], float | None]:
    """POST the device's next command, then wait for its final command.status event."""
    local = threading.local()
    kinds = list(PARAMS)

    def post(path: str, body: str, key: str) -> tuple[int, Any]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        for _ in range(3):  # gunicorn closes idle keep-alive connections: reconnect, replay
            if getattr(local, "conn", None) is None:
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                local.conn.request("POST", path, body, headers)
                resp = local.conn.getresponse()
                return resp.status, json.loads(resp.read())
            except (OSError, http.client.HTTPException):
                local.conn.close()
                local.conn = None
        return 0, None

    def one(device: str) -> float | None:
        local.n = getattr(local, "n", 0) + 1
        kind = kinds[local.n % len(kinds)]  # no reboots: a rebooting meter is briefly offline
        status, body = post(
            f"/api/devices/{device}/{kind}", json.dumps(PARAMS[kind]), uuid.uuid4().hex
        )
        t0 = time.perf_counter()
        if status != 202:
            print(f"  API answered {status}: {body}", flush=True)
            return None
        arrived = done.wait(body["command_id"], 60)
        return None if arrived is None else arrived - t0

    return one


def start_services(
    args: argparse.Namespace,
    env: dict[str, str],
    devices: list[str],
    tag: str,
    stops: list[Callable[[], None]],
) -> int:
    """msm-commander, msm-ingest (or the stand-in relay) and msm-api; returns the API's port."""
    logs = ROOT / ".local/logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, extra: dict[str, str]) -> None:
        stops.append(stopper(service(name, {**env, **extra}, logs / f"bench-{name}.log")))

    start("msm-commander", {"MSM_COMMANDER_CONSUMERS": str(args.consumers)})
    if args.relay == "ingest":
        ingest_port = free_port()
        start(
            "msm-ingest",
            {
                "MSM_METRICS_PORT": str(ingest_port),
                "MSM_INGEST_CLIENT_ID": f"bench-ingest-{tag}",
                "MSM_INGEST_SUBSCRIBE_DEVICES": ",".join(devices),  # not other people's traffic
                "MSM_INGEST_SHADOW_ENABLED": "false",
                "MSM_INGEST_BATCH_MAX_WAIT_MS": str(args.ingest_batch_wait_ms),
            },
        )
        wait_http(ingest_port, "/readyz")
    else:
        stops.append(builtin_relay(CommonSettings(), env["MSM_AMQP_URL"], list(PARAMS)))
    port = free_port()
    start(
        "msm-api",
        {
            "MSM_API_PORT": str(port),
            "MSM_API_ADMIN_EMAIL": ADMIN[0],
            "MSM_API_ADMIN_PASSWORD": ADMIN[1],
        },
    )
    return port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--baseline", type=int, default=1000)
    parser.add_argument("--relay", choices=("ingest", "builtin"), default="ingest")
    parser.add_argument("--consumers", type=int, default=8)
    parser.add_argument("--ingest-batch-wait-ms", type=int, default=50)
    args = parser.parse_args()
    settings = CommonSettings()
    tag = uuid.uuid4().hex[:8]
    db_name = f"msm_bench_commands_{tag}"
    amqp_url = own_vhost(settings.amqp_url, f"msm-bench-{tag}")
    if amqp_url is None:
        raise SystemExit("bench needs a RabbitMQ vhost of its own (rabbitmqctl add_vhost)")
    client = mongo.connect(settings.mongo_uri)
    db = client[db_name]
    mongo.ensure_indexes(db)
    env = {
        **os.environ,
        "MSM_MONGO_DB": db_name,
        "MSM_AMQP_URL": amqp_url,
        "MSM_LOG_LEVEL": "WARNING",
        "MSM_METRICS_PORT": "0",
    }
    stops: list[Callable[[], None]] = []
    fleet_proc, fleet_conn, devices = start_fleet(args.meters)
    try:
        db["devices"].insert_many([registered_device(d) for d in devices])
        port = start_services(args, env, devices, tag, stops)
        wait_http(port, "/healthz")
        token = login(port)
        done = Arrivals()
        stops.insert(0, status_tap(amqp_url, done))
        time.sleep(2)  # consumers up, queues declared
        print(
            f"{args.meters} meters; ack relay: {args.relay}; commander consumers "
            f"{args.consumers}; {os.cpu_count()} cores (shared)",
            flush=True,
        )
        raw = raw_round_trips(settings, devices, args.baseline)
        print(
            f"  raw MQTT round trip (baseline): {len(raw)} round trips, p50 {pct(raw, 0.5):.1f} ms"
            f"  p99 {pct(raw, 0.99):.1f} ms",
            flush=True,
        )
        closed_loop(devices, args.meters, api_commands(port, token, done))  # warm-up
        lat, secs, failed = closed_loop(devices, args.commands, api_commands(port, token, done))
        statuses = list(done.final.values())
        rate = len(lat) / secs
        p50, p99, raw50 = pct(lat, 0.5), pct(lat, 0.99), pct(raw, 0.5)
        print(
            f"  through the API: {len(lat)} commands in {secs:.1f} s = {rate:.0f} commands/s; "
            f"202 -> succeeded p50 {p50:.1f} ms  p99 {p99:.1f} ms; not finished: {failed}; "
            f"succeeded {statuses.count('succeeded')} of {len(statuses)}",
            flush=True,
        )
        ceiling = db_ceiling(db, devices, PARAMS["ntp"])
        inserts, updates, minimum = db_minimum(db)
        print("ratios (same run):")
        print(f"  p50 / raw round trip p50: {p50 / raw50 if raw50 else 0:.1f} x")
        print("targets:")
        print(
            f"  p50 <= 2 x raw + 20 ms = {2 * raw50 + 20:.1f} ms: {p50:.1f} ms  "
            f"{'MET' if p50 <= 2 * raw50 + 20 else 'MISSED'}"
        )
        print(f"  >= 500 commands/s: {rate:.0f}  {'MET' if rate >= 500 else 'MISSED'}")
        print(
            f"  database ceiling (the per-command MongoDB round trips, 8 threads, pymongo): "
            f"{ceiling:.0f} commands/s; measured = {rate / ceiling:.2f} x that"
        )
        print(
            f"  database minimum (8 threads): insert_one {inserts:.0f}/s, guarded update_one "
            f"{updates:.0f}/s; 1 insert + 2 updates per command allow at most {minimum:.0f} "
            "commands/s on this database"
        )
    finally:
        for stop in stops:
            stop()
        fleet_conn.send("stop")
        fleet_proc.join(30)
        client.drop_database(db_name)
        client.close()
        rabbitmqctl("delete_vhost", f"msm-bench-{tag}")


if __name__ == "__main__":
    sys.exit(main())
