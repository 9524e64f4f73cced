"""API benchmark: gunicorn as configured for production, 50 concurrent authenticated clients.

Run (what `make bench-api` should do):
    source deploy/local/env.sh && .venv/bin/python bench/bench_api.py

Measures, in one run, req/s and p50/p99 of:
  - a bare Flask endpoint (/healthz: no auth check, no database) -- the baseline;
  - GET /api/devices/{id}/status;
  - GET /api/telemetry for one day of one device at 1 reading/min (1440 readings, one page);
  - GET /api/telemetry?interval=1m over a 30-day range (first page) on 10 devices x 30 days
    of 1-minute data (432,000 readings), plus one client walking every page of that range.
Targets: status >= 50 % of the baseline's req/s; day query p99 < 100 ms; 30-day 1m buckets
p99 < 500 ms. Figures are printed as ratios against the baseline measured in the same run.
Seeded data stays in the `msm_bench_api` database (re-seeded only when incomplete).
Options: --duration S (per scenario, default 8), --clients N (default 50), --processes P.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import threaded
from msm_api.domain import telemetry as dt
from msm_common.adapters import mongo
from plumbing import free_port

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "msm_bench_api"
DEVICES = 10
DAYS = 30
ADMIN = ("bench-admin@example.com", "bench password 1234")


def seed(mongo_uri: str) -> datetime:
    """10 devices x 30 days x 1 reading/min, ending at today's midnight (UTC)."""
    client = mongo.connect(mongo_uri)
    db = client[DB_NAME]
    mongo.ensure_indexes(db)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    expected = DEVICES * DAYS * 1440
    marker = db["bench_meta"].find_one({"_id": "seed"})
    complete = db["telemetry"].estimated_document_count() == expected
    if marker and marker.get("end") == end.isoformat() and complete:
        client.close()
        return end
    print(f"seeding {expected} readings (once) ...", flush=True)
    db["telemetry"].delete_many({})
    db["devices"].delete_many({})
    t0 = time.perf_counter()

    def device_rows(d: int) -> None:
        uuid = f"bench-{d:02d}"
        batch = []
        for m in range(DAYS * 1440):
            ts = start + timedelta(minutes=m)
            batch.append(
                {
                    "_id": f"{uuid}:1:A:{int(ts.timestamp() * 1000)}",
                    "device_uuid": uuid,
                    "timestamp": ts,
                    "channel_id": 1,
                    "phase": "A",
                    "temperature": 30.0 + m % 7,
                    "line_voltage": 230.0 + m % 11,
                    "current": 5.0 + m % 3,
                    "active_power": 1000.0 + m % 13,
                    "reactive_power": 50.0 + m % 5,
                    "processed": True,
                }
            )
            if len(batch) == 5000:
                mongo.insert_many_idempotent(db, "telemetry", batch)
                batch = []
        if batch:
            mongo.insert_many_idempotent(db, "telemetry", batch)
        db["devices"].insert_one(
            {
                "_id": uuid,
                "device_imei": f"3569380356438{d:02d}",
                "device_ip": "10.0.0.1",
                "firmware_version": "1.0.0",
                "mqtt_status": True,
                "sftp_status": True,
                "createdAt": start,
                "updatedAt": end,
                "last_seen": end,
                "connectivity": {
                    "connected": True,
                    "since": start,
                    "last_disconnect_reason": None,
                    "version": 1,
                },
                "latest": {
                    f"{c}:{p}": {
                        "timestamp": end,
                        "temperature": 31.0,
                        "line_voltage": 231.0,
                        "current": 5.0,
                        "active_power": 1000.0,
                        "reactive_power": 50.0,
                    }
                    for c in (1, 2)
                    for p in "ABC"
                },
            }
        )

    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(device_rows, range(DEVICES)))
    db["bench_meta"].replace_one({"_id": "seed"}, {"end": end.isoformat()}, upsert=True)
    print(f"seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    client.close()
    return end


def start_api(mongo_uri: str, port: int) -> subprocess.Popen[bytes]:
    parsed = urlsplit(mongo_uri)
    env = {
        **os.environ,
        "MSM_API_PORT": str(port),
        "MSM_MONGO_URI": f"{parsed.scheme}://{parsed.netloc}/{DB_NAME}",
        "MSM_API_ADMIN_EMAIL": ADMIN[0],
        "MSM_API_ADMIN_PASSWORD": ADMIN[1],
        "MSM_LOG_LEVEL": "WARNING",
        "MSM_API_LOGIN_MAX_ADDRESS_FAILURES": "1000",
        "MSM_METRICS_PORT": "0",  # the ops port (9103) may be taken by `make run`
    }
    proc = subprocess.Popen([str(ROOT / ".venv/bin/msm-api")], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("msm-api did not start")


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"email": ADMIN[0], "password": ADMIN[1]})
    conn.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    if resp.status != 200:
        raise SystemExit(f"login failed: {resp.status} {data}")
    return str(data["access_token"])


def _worker(
    port: int, path: str, token: str, threads: int, duration: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration
    headers = {"Authorization": f"Bearer {token}"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors[0]


def run(
    port: int, path: str, token: str, clients: int, processes: int, duration: float
) -> dict[str, float]:
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    with cf.ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(_worker, port, path, token, n, duration) for n in per if n]
        results = [f.result() for f in futures]
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    if not lat:
        return {"rps": 0.0, "p50": 0.0, "p99": 0.0, "errors": errors}
    return {
        "rps": len(lat) / duration,
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "errors": errors,
    }


def db_ceiling(mongo_uri: str, clients: int, duration: float) -> float:
    """The status endpoint's two queries straight through pymongo: what the database allows."""
    client = mongo.connect(mongo_uri)
    db = client[DB_NAME]

    def status_queries(_thread: int, _n: int) -> None:
        db["devices"].find_one({"_id": "bench-03"})
        list(
            db["commands"]
            .find({"device_uuid": "bench-03", "status": {"$in": ["queued", "sent"]}})
            .limit(100)
        )

    ceiling = threaded.rate(status_queries, clients, duration)
    client.close()
    return ceiling


def walk_pages(port: int, path: str, token: str) -> tuple[int, int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"}
    rows = pages = 0
    cursor = None
    t0 = time.perf_counter()
    while True:
        conn.request("GET", path + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        body = json.loads(conn.getresponse().read())
        rows += len(body["items"])
        pages += 1
        cursor = body.get("next_cursor")
        if not cursor:
            return rows, pages, time.perf_counter() - t0


def db_floor(
    mongo_uri: str, end: datetime, clients: int, duration: float, runs: int = 10
) -> dict[str, float]:
    """The API's own telemetry queries straight through pymongo, no HTTP: what the database allows.

    Medians (ms) of one client's day query and first page of 1m buckets, and the day query's
    rate (/s) from `clients` threads. No API on top of this database can answer faster.
    """
    client = mongo.connect(mongo_uri)
    coll = client[DB_NAME]["telemetry"]
    day = {"device_uuid": "bench-03", **dt.time_filter(end - timedelta(days=1), end)}
    start = end - timedelta(days=DAYS)
    w0, w1 = dt.bucket_window(start, end, "1m", 500)
    buckets = dt.bucket_pipeline(
        {"device_uuid": "bench-05", "timestamp": {"$gte": w0, "$lt": w1}}, "1m"
    )
    queries = {
        "day": lambda: list(
            coll.find(day, {**dt.READING_PROJECTION, "_id": 1})
            .sort([("timestamp", 1), ("_id", 1)])
            .limit(1441)
        ),
        "buckets": lambda: list(coll.aggregate(buckets)),
    }
    out = {}
    for name, query in queries.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            query()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = statistics.median(times)
    # The same day query from `clients` threads at once: the database's own rate for it.
    out["day_rate"] = threaded.rate(lambda _t, _n: queries["day"](), clients, duration)
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    mongo_uri = os.environ.get("MSM_MONGO_URI", "mongodb://127.0.0.1:27017/msm")
    end = seed(mongo_uri)
    port = free_port()
    proc = start_api(mongo_uri, port)
    try:
        token = login(port)
        day = end - timedelta(days=1)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        month = f"from={(end - timedelta(days=DAYS)).strftime(fmt)}&to={end.strftime(fmt)}"
        scenarios = {
            "bare /healthz (baseline)": "/healthz",
            "device status": "/api/devices/bench-03/status",
            "telemetry 1 day (1440 rows)": (
                f"/api/telemetry?device_uuid=bench-03&from={day.strftime(fmt)}"
                f"&to={end.strftime(fmt)}&limit=1440"
            ),
            "30-day 1m buckets, first page": (
                f"/api/telemetry?device_uuid=bench-05&interval=1m&{month}&limit=500"
            ),
        }
        print(
            f"msm-api on :{port}; {args.clients} clients, {args.duration:.0f} s each; "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        results = {}
        for name, path in scenarios.items():
            results[name] = r = run(port, path, token, args.clients, args.processes, args.duration)
            print(
                f"  {name:34s} {r['rps']:8.0f} req/s  p50 {r['p50']:7.1f} ms  "
                f"p99 {r['p99']:7.1f} ms  errors {r['errors']}",
                flush=True,
            )
        base = results["bare /healthz (baseline)"]["rps"] or 1.0
        ceiling = db_ceiling(mongo_uri, args.clients, args.duration)
        floor = db_floor(mongo_uri, end, args.clients, args.duration)
        waits_ms = args.clients / max(floor["day_rate"], 1e-9) * 1000
        rows, pages, secs = walk_pages(
            port, f"/api/telemetry?device_uuid=bench-05&interval=1m&{month}&limit=5000", token
        )
        print("ratios against the baseline (same run):")
        for name, r in results.items():
            print(f"  {name:34s} {r['rps'] / base:6.2f} x baseline req/s")
        status, day_q, buckets = (results[k] for k in list(scenarios)[1:])
        print("targets:")
        print(
            f"  status >= 0.50 x baseline:       {status['rps'] / base:.2f}  "
            f"{'MET' if status['rps'] / base >= 0.5 else 'MISSED'}"
        )
        print(
            f"  day query p99 < 100 ms:          {day_q['p99']:.0f} ms  "
            f"{'MET' if day_q['p99'] < 100 else 'MISSED'}"
        )
        met = buckets["rps"] > 0 and buckets["p99"] < 500
        print(
            f"  30-day 1m buckets p99 < 500 ms:  {buckets['p99']:.0f} ms  "
            f"{'MET' if met else 'MISSED'}"
        )
        print(
            f"  database ceiling for the status queries (pymongo, {args.clients} threads, "
            f"no HTTP): {ceiling:.0f} /s; status endpoint = {status['rps'] / ceiling:.2f} x that"
        )
        print(
            f"  database alone (pymongo, no HTTP): one client, median of 10: day query "
            f"{floor['day']:.0f} ms, 1m buckets first page {floor['buckets']:.0f} ms; "
            f"{args.clients} threads: {floor['day_rate']:.0f} day queries/s, so at "
            f"{args.clients} clients each waits ~{waits_ms:.0f} ms"
            " on average before any HTTP"
        )
        print(
            f"  one client walking all 30 days of 1m buckets: {rows} buckets in {pages} pages, "
            f"{secs:.1f} s"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
