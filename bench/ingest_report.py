"""bench_ingest's report: the figures of one run, each against its target or baseline."""

from __future__ import annotations

import argparse
from typing import Any

from ingest_load import READINGS


def verdict(value: float, target: float, *, at_most: bool = False) -> str:
    ok = value <= target if at_most else value >= target
    return "meets target" if ok else "MISSES target"


def print_rss(rss: list[float], seconds: float) -> None:
    half = rss[len(rss) // 2]
    slope = (rss[-1] - half) / max(seconds / 120, 1e-9)  # second half: past warm-up
    marks = "/".join(f"{rss[min(len(rss) - 1, len(rss) * q // 4)]:.0f}" for q in range(5))
    print(
        f"    RSS ingest (MiB) at 0/25/50/75/100 % of the run: {marks}; peak {max(rss):.0f};"
        f" drift over the second half {slope:+.1f} MiB/min ({len(rss)} samples)"
    )


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    a, b, b2, c, d, e = (r.get(k) for k in ("a", "b", "b2", "c", "d", "e"))
    print(
        f"\n== ingest benchmark ({args.publishers} publishers, {args.devices} devices, "
        f"{READINGS} readings/message, backlog {args.backlog}, main run {args.duration:.0f} s)"
    )
    if a is not None:
        print(f"(a) raw broker pipe (paho -> mosquitto -> paho)   {a:9.0f} msg/s")
        print(f"    CPU per message of that paho subscriber (it only counts): {r['a_cpu']:.0f} us")
    if b is not None and b2 is not None:
        print(
            f"(b) database insert_many, same rows              {b:9.0f} rows/s "
            f"= {b / READINGS:.0f} msg/s"
        )
        print(
            f"(b2) database, ingest's whole write set          {b2:9.0f} rows/s "
            f"= {b2 / READINGS:.0f} msg/s (insert + device upserts + processed update)"
        )
    if c:
        print(
            f"(c) msm-ingest sustained                         {c['msgs']:9.0f} msg/s "
            f"= {c['rows']:.0f} rows/s"
        )
        if a is not None and b is not None and b2 is not None:
            floor = min(a, b / READINGS)
            ratio = c["msgs"] / floor
            print(
                f"    vs min(a, b) = {floor:.0f} msg/s: {ratio:.0%} (target >= 80 %: "
                f"{verdict(ratio, 0.8)}); vs (b2): {c['msgs'] / (b2 / READINGS):.0%}"
            )
        if "latency" in c:
            rate, p50, p99, n = c["latency"]
            print(
                f"    latency publish -> stored at {rate:.0f} msg/s (half the sustained rate): "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({n} samples)"
            )
        together = c["cpu_ingest"] + c["cpu_broker"] + c["cpu_rabbit"]
        print(
            f"    CPU per message: ingest {c['cpu_ingest']:.0f} us (target <= 60: "
            f"{verdict(c['cpu_ingest'], 60, at_most=True)}); broker {c['cpu_broker']:.0f} + "
            f"ingest + RabbitMQ {c['cpu_rabbit']:.0f} = {together:.0f} us (target <= 120: "
            f"{verdict(together, 120, at_most=True)}); database {c['cpu_db']:.0f} us (apart)"
        )
        print_rss(c["rss"], args.duration)
    f = r.get("f")
    if f:
        print(
            f"(c2) msm-ingest, MSM_INGEST_EVENTS_BEFORE_STORE=true {f['msgs']:7.0f} msg/s "
            f"= {f['rows']:.0f} rows/s"
        )
        if a is not None and b is not None:
            ratio = f["msgs"] / min(a, b / READINGS)
            print(
                f"    vs min(a, b): {ratio:.0%} (target >= 80 %: {verdict(ratio, 0.8)}); CPU "
                f"ingest {f['cpu_ingest']:.0f} us/msg, broker {f['cpu_broker']:.0f}, RabbitMQ "
                f"{f['cpu_rabbit']:.0f}, database {f['cpu_db']:.0f}"
            )
    if d:
        together = d["cpu_ingest"] + d["cpu_broker"] + d["cpu_rabbit"]
        print(f"(d) pipeline with a no-op store                  {d['msgs']:9.0f} msg/s")
        if a is not None:
            ratio = d["msgs"] / a
            print(f"    vs (a): {ratio:.0%} (target >= 80 %: {verdict(ratio, 0.8)})")
        print(
            f"    CPU per message: ingest {d['cpu_ingest']:.0f} us, broker "
            f"{d['cpu_broker']:.0f}, RabbitMQ {d['cpu_rabbit']:.0f}: together {together:.0f} us"
        )
        if "a_cpu" in r:
            ratio = d["cpu_ingest"] / r["a_cpu"]
            print(f"    ingest's CPU per message vs (a)'s bare subscriber: x{ratio:.2f}")
        print_rss(d["rss"], args.window)
    if e:
        line = f"(e) two replicas, one shared subscription        {e['msgs']:9.0f} msg/s"
        print(line + (f"; vs (c): x{e['msgs'] / c['msgs']:.2f}" if c else ""))
