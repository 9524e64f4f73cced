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


def cpu_line(run: dict[str, Any]) -> str:
    return (
        f"    CPU per message: ingest {run['cpu_ingest']:.0f} us, broker {run['cpu_broker']:.0f},"
        f" RabbitMQ {run['cpu_rabbit']:.0f}, database {run['cpu_db']:.0f}"
    )


def mean_with_repeat(
    r: dict[str, Any],
    key: str,
    units: tuple[str, str],
    after: str,
    compared: str,
    extra: tuple[str, ...],
) -> float:
    """A baseline measured again after the runs compared with it (the machine's speed drifts):
    print the repeat, replace the baseline and its `extra` figures in `r` by the means."""
    again = f"{key}2"
    print(
        f"    again after {after}: {r[again]:.0f} {units[0]}, {r[again + '_cpu']:.0f} {units[1]}; "
        f"{compared} is compared with the mean of the two"
    )
    for name in (key, *(f"{key}_{x}" for x in extra)):
        r[name] = (r[name] + r[again + name[len(key) :]]) / 2
    return float(r[key])


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    a, b, c, d, e, f, g = (r.get(k) for k in "abcdefg")
    print(
        f"\n== ingest benchmark ({args.publishers} publishers, {args.devices} devices, "
        f"{READINGS} readings/message, backlog {args.backlog}, main run {args.duration:.0f} s)"
    )
    if a is not None:
        print(f"(a) raw broker pipe (paho -> mosquitto -> paho)   {a:9.0f} msg/s")
        print(
            f"    CPU per message of that paho subscriber (it only counts) at "
            f"{args.cpu_rate:.0f} msg/s: {r['a_cpu']:.0f} us"
        )
        if "a2" in r:
            a = mean_with_repeat(r, "a", ("msg/s", "us"), "(d) and (e)", "(d)", ("cpu", "cpu_sat"))
    if b is not None:
        print(
            f"(b) database insert_many, same rows              {b:9.0f} rows/s "
            f"= {b / READINGS:.0f} msg/s; the database's CPU {r['b_cpu']:.0f} us/row"
        )
        if "b2" in r:
            b = mean_with_repeat(r, "b", ("rows/s", "us/row"), "(c)", "(c)", ("cpu",))
    if c:
        print(
            f"(c) msm-ingest sustained                         {c['msgs']:9.0f} msg/s "
            f"= {c['rows']:.0f} rows/s"
        )
        if b is not None:
            ratio = c["rows"] / b
            print(f"    vs (b): {ratio:.0%} (target >= 80 %: {verdict(ratio, 0.8)})")
        if "latency" in c:
            rate, p50, p99, n = c["latency"]
            print(
                f"    latency publish -> stored at {rate:.0f} msg/s (half the sustained rate): "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({n} samples)"
            )
        print(cpu_line(c))
        if b is not None and r.get("b_cpu"):
            per_row = c["cpu_db"] / READINGS
            print(
                f"    the database's CPU per row stored by ingest: {per_row:.0f} us, "
                f"x{per_row / r['b_cpu']:.2f} of its own insert_many's (the work ingest asks of it)"
            )
        print_rss(c["rss"], args.duration)
    if d:
        print(f"(d) pipeline with a no-op store                  {d['msgs']:9.0f} msg/s")
        if a is not None:
            ratio = d["msgs"] / a
            print(f"    vs (a): {ratio:.0%} (target >= 80 %: {verdict(ratio, 0.8)})")
        print(cpu_line(d) + " (at saturation)")
        if "a_cpu_sat" in r:
            print(
                f"    at saturation: ingest {d['cpu_ingest']:.0f} us/msg, (a)'s subscriber "
                f"{r['a_cpu_sat']:.0f} us/msg: x{d['cpu_ingest'] / r['a_cpu_sat']:.2f}"
            )
        if "a_cpu" in r and "cpu_at_rate" in d:
            ratio = d["cpu_at_rate"] / r["a_cpu"]
            print(
                f"    ingest's CPU per message at {args.cpu_rate:.0f} msg/s: "
                f"{d['cpu_at_rate']:.0f} us, x{ratio:.2f} of (a)'s bare paho subscriber "
                f"(target <= x1.5: {verdict(ratio, 1.5, at_most=True)})"
            )
        print_rss(d["rss"], args.window)
    if e:
        line = f"(e) two replicas, no-op store, one share group   {e['msgs']:9.0f} msg/s"
        if d:
            ratio = e["msgs"] / d["msgs"]
            line += f"; vs (d): x{ratio:.2f} (target >= x0.9: {verdict(ratio, 0.9)})"
        print(line)
    if f:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(f["by_kind"].items()))
        print(
            f"(f) documents written per telemetry row (oplog)  {f['during']:9.2f} during the run, "
            f"{f['after']:.2f} with the shutdown's device-state flush "
            f"(target <= 1.2: {verdict(f['after'], 1.2, at_most=True)})"
        )
        print(f"    {f['rows']} rows; writes by collection:op: {kinds}")
    if g:
        line = (
            f"(g) backlog: {g['handled']:.0f} of {g['queued']} queued messages stored in "
            f"{g['seconds']:.0f} s = {g['handled'] / max(g['seconds'], 1e-9):.0f} msg/s; "
            f"MQTT disconnects during the drain: {g['disconnects']:.0f}"
        )
        print(line)
        if c:
            budget = 1.25 * g["queued"] / c["msgs"]
            print(
                f"    target <= 1.25 x {g['queued']} / (c) = {budget:.0f} s: "
                f"{verdict(g['seconds'], budget, at_most=True)}; zero disconnects: "
                f"{verdict(-g['disconnects'], 0)}"
            )
