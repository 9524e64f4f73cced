"""metersim under load: 1,000 meters on shared connections against our mosquitto.

Runs the real CLI (`msm-metersim --devices 1000 --shared-connections 4 --interval 1`) for
`--duration` seconds after all meters are online, and reads that process's CPU from
/proc/<pid>/stat. Then, in the same run, a baseline: one bare paho publisher (loadgen identity,
`loop_start`) publishing the same telemetry payloads at the same rate. Prints CPU %, messages/s
(PUBACK-confirmed) and the ratios. Never pass/fail.

    source deploy/local/env.sh && .venv/bin/python bench/bench_metersim.py [--duration 60]
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from msm_metersim import Meter, MetersimSettings, MeterSpec
from msm_metersim.identity import serials, uuid_for
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.processes import stop  # noqa: E402  (as the metersim tests stop a process)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_metersim(args: argparse.Namespace) -> dict[str, float]:
    argv = [
        str(ROOT / ".venv/bin/msm-metersim"),
        "--devices", str(args.devices),
        "--shared-connections", str(args.connections),
        "--interval", "1",
        "--stats-interval", "5",
        "--serial-prefix", "BENCH-",
    ] + (["--batch"] if args.batch else [])  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines: list[tuple[float, float, dict]] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if '"message": "stats"' in line:
                stats = json.loads(line)
                lines.append((time.monotonic(), cpu_seconds(proc.pid), stats))
                if stats["online"] == args.devices:
                    ready.set()

    threading.Thread(target=read, daemon=True).start()
    started = time.monotonic()
    try:
        if not ready.wait(120):
            raise SystemExit("metersim: the meters did not all come online within 120 s")
        ramp_s = time.monotonic() - started
        first = len(lines) - 1
        # Skip the ramp (connects, subscriptions, device_info): measure from the next report on.
        while len(lines) < first + 2:
            time.sleep(0.2)
        t0, c0, s0 = lines[first + 1]
        while lines[-1][0] - t0 < args.duration and proc.poll() is None:
            time.sleep(0.5)
        t1, c1, s1 = lines[-1]
    finally:
        stop(proc, 20)
    span = t1 - t0
    return {
        "ramp_s": ramp_s,
        "seconds": span,
        "cpu_percent": 100 * (c1 - c0) / span,
        "msgs_per_s": (s1["confirmed"] - s0["confirmed"]) / span,
        "refused": s1["refused"],
        "online": s1["online"],
    }


def telemetry_payloads(devices: int, batch: bool) -> list[tuple[str, bytes]]:
    now = time.time()
    out = []
    for serial in serials("BENCH-", 1, devices):
        meter = Meter(MeterSpec(uuid_for(serial), serial=serial, batch=batch))
        out.extend((m.topic, m.payload) for m in meter.telemetry(now))
    return out


def run_baseline(args: argparse.Namespace, payloads: list[tuple[str, bytes]]) -> dict[str, float]:
    settings = MetersimSettings()
    cert, key = settings.identity("loadgen")
    confirmed = 0
    connected = threading.Event()

    def on_publish(*_a: object) -> None:
        nonlocal confirmed
        confirmed += 1

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-baseline-{os.getpid()}", protocol=paho.MQTTv5
    )
    client.tls_set(
        str(settings.mqtt_ca_file), str(cert), str(key), tls_version=ssl.PROTOCOL_TLS_CLIENT
    )
    client.max_inflight_messages_set(1000)
    client.on_publish = on_publish
    client.on_connect = lambda *_a: connected.set()
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise SystemExit("baseline: could not connect")
        t0, c0, n0 = time.monotonic(), time.process_time(), confirmed
        second = t0
        while second - t0 < args.baseline_duration:
            for topic, payload in payloads:  # one interval's worth, then wait for the next second
                client.publish(topic, payload, qos=1)
            second += 1.0
            time.sleep(max(0.0, second - time.monotonic()))
        t1 = time.monotonic()
        time.sleep(0.5)  # let the last PUBACKs in (their CPU counts, their time does not)
        c1, n1 = time.process_time(), confirmed
    finally:
        client.disconnect()
        client.loop_stop()
    span = t1 - t0
    return {"seconds": span, "cpu_percent": 100 * (c1 - c0) / span, "msgs_per_s": (n1 - n0) / span}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--baseline-duration", type=float, default=20.0)
    parser.add_argument("--batch", action="store_true", help="one message per meter and second")
    args = parser.parse_args()

    sim = run_metersim(args)
    base = run_baseline(args, telemetry_payloads(args.devices, args.batch))
    per_msg_sim = sim["cpu_percent"] / max(sim["msgs_per_s"], 1e-9)
    per_msg_base = base["cpu_percent"] / max(base["msgs_per_s"], 1e-9)
    print(
        f"metersim: {args.devices} meters, {args.connections} shared connections, interval 1 s,"
        f" {'batched' if args.batch else '3 messages per meter and second'}, QoS 1"
    )
    print(f"  ramp to all online   {sim['ramp_s']:8.1f} s")
    print(f"  measured             {sim['seconds']:8.1f} s")
    print(f"  CPU (one process)    {sim['cpu_percent']:8.1f} %   (100 % = one core)")
    print(f"  messages/s           {sim['msgs_per_s']:8.0f}     (PUBACK-confirmed)")
    print(f"  refused by broker    {sim['refused']:8d}")
    print(f"baseline: bare paho publisher, same payloads and rate, {base['seconds']:.0f} s")
    print(f"  CPU                  {base['cpu_percent']:8.1f} %")
    print(f"  messages/s           {base['msgs_per_s']:8.0f}")
    print(
        f"ratio metersim/baseline: CPU {sim['cpu_percent'] / max(base['cpu_percent'], 1e-9):.2f}x,"
        f" CPU per message {per_msg_sim / max(per_msg_base, 1e-12):.2f}x"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
