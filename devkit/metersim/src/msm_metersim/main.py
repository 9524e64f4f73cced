"""`msm-metersim`: run a simulated fleet until Ctrl-C / SIGTERM (or `--duration`).

Reads the broker and PKI from the `MSM_*` environment (deploy/local/env.sh). Every
`--stats-interval` seconds it logs one JSON line of counters and rates.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from msm_common.entrypoint import load_settings
from msm_common.signals import stop_on_signals

from msm_metersim.fleet import Fleet, FleetOptions
from msm_metersim.policy import AckPolicy
from msm_metersim.provisioning import ProvisioningError
from msm_metersim.settings import MetersimSettings

log = logging.getLogger("msm_metersim")
PER_METER_ADVICE_LIMIT = 200  # above this, one connection per meter costs more than it shows


def build_parser(settings: MetersimSettings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msm-metersim", description="Simulated smart meters (MQTT).")
    add = p.add_argument
    add(
        "--devices",
        type=int,
        default=settings.sim_devices,
        help="number of meters (default: MSM_SIM_DEVICES or 20)",
    )
    add(
        "--interval",
        type=int,
        default=int(os.environ.get("MSM_SIM_INTERVAL", "5")),
        help="seconds between telemetry publishes (default: MSM_SIM_INTERVAL or 5)",
    )
    add(
        "--provision",
        action="store_true",
        help="provision new meters through the claim flow (localiot) instead of local certs",
    )
    add(
        "--shared-connections",
        type=int,
        default=0,
        metavar="K",
        help="carry all meters over K connections of the loadgen identity (for load)",
    )
    add("--batch", action="store_true", help="one telemetry message per interval with all phases")
    add("--channels", type=int, default=1, help="measurement channels per meter (3 phases each)")
    add("--fail-rate", type=float, default=0.0)
    add("--reject-rate", type=float, default=0.0)
    add("--drop-rate", type=float, default=0.0, help="share of acks never sent")
    add("--ack-delay-ms", type=int, default=0)
    add("--legacy-acks", action="store_true", help='acks like old firmware: {"status": "ok"}')
    add("--reboot-downtime", type=float, default=2.0, help="seconds offline on reboot")
    add("--serial-prefix", default="SIM-")
    add("--serial-start", type=int, default=1)
    add("--qos", type=int, choices=(0, 1), default=1)
    add("--loops", type=int, default=0, help="network loop threads (0: automatic)")
    add("--seed", type=int, default=None, help="seed the meters' random decisions")
    add("--duration", type=float, default=0.0, help="stop after this many seconds (0: run on)")
    add("--stats-interval", type=float, default=10.0)
    return p


def options_from(args: argparse.Namespace) -> FleetOptions:
    policy = AckPolicy(
        fail_rate=args.fail_rate,
        reject_rate=args.reject_rate,
        drop_rate=args.drop_rate,
        ack_delay_ms=args.ack_delay_ms,
        legacy=args.legacy_acks,
    )
    return FleetOptions(
        devices=args.devices,
        interval_s=args.interval,
        batch=args.batch,
        channels=args.channels,
        policy=policy,
        shared_connections=args.shared_connections,
        provision=args.provision,
        serial_prefix=args.serial_prefix,
        serial_start=args.serial_start,
        reboot_downtime_s=args.reboot_downtime,
        qos=args.qos,
        loops=args.loops,
        seed=args.seed,
    )


class StatsReporter:
    """Counters since the start, plus rates and process CPU since the previous report."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._last = fleet.stats()
        self._wall = time.monotonic()
        self._cpu = time.process_time()

    def report(self) -> dict[str, Any]:
        stats, wall, cpu = self._fleet.stats(), time.monotonic(), time.process_time()
        span = max(wall - self._wall, 1e-9)
        line: dict[str, Any] = dict(stats)
        line["telemetry_per_s"] = round((stats["telemetry"] - self._last["telemetry"]) / span, 1)
        line["sent_per_s"] = round((stats["sent"] - self._last["sent"]) / span, 1)
        line["cpu_percent"] = round(100.0 * (cpu - self._cpu) / span, 1)
        self._last, self._wall, self._cpu = stats, wall, cpu
        return line


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings(MetersimSettings, "msm-metersim")
    args = build_parser(settings).parse_args(argv)
    try:
        options = options_from(args)
    except ValueError as exc:
        log.error("invalid options: %s", exc)
        return 2
    if not options.shared_connections and options.devices > PER_METER_ADVICE_LIMIT:
        log.warning(
            "%d meters with a connection each; --shared-connections 4 is far lighter",
            options.devices,
        )
    stop = stop_on_signals()
    fleet = Fleet(options, settings)
    try:
        fleet.open()
    except (ProvisioningError, subprocess.SubprocessError, OSError) as exc:
        log.error("could not start the fleet: %s", exc)
        fleet.stop()
        return 1
    log.info("fleet started", extra={"meters": len(fleet.uuids), "shared": args.shared_connections})
    reporter = StatsReporter(fleet)
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    try:
        while True:
            wait = args.stats_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            if stop.wait(wait):
                break
            log.info("stats", extra=reporter.report())
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        fleet.stop()
    log.info("stopped", extra=fleet.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
