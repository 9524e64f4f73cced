"""The test-facing journal and the CLI's options (no I/O)."""

from __future__ import annotations

import threading

import pytest
from msm_common.contracts import AckStatus, CommandType
from msm_metersim import AckPolicy, MetersimSettings
from msm_metersim.journal import Journal
from msm_metersim.main import build_parser, options_from
from msm_metersim.meter import Ack, Delivery


def _delivery(command_id, duplicate=False):
    return Delivery(
        CommandType.REBOOT,
        command_id,
        {"command_id": command_id},
        duplicate,
        AckStatus.SUCCESS,
        True,
    )


def test_deliveries_are_counted_per_command_in_order():
    journal = Journal()
    for command_id, at in (("a", 1.0), ("b", 2.0), ("a", 3.0), (None, 4.0), (None, 5.0)):
        journal.delivered("m1", _delivery(command_id), at)
    journal.acked(Ack("m1", CommandType.REBOOT, "a", AckStatus.SUCCESS, "ok"), 3.1)

    received = journal.received("m1")

    assert [(c.command_id, c.deliveries) for c in received] == [
        ("a", 2),
        ("b", 1),
        (None, 1),
        (None, 1),
    ]
    assert (received[0].first_at, received[0].last_at, received[0].acks_sent) == (1.0, 3.0, 1)
    assert journal.received("m2") == []


def test_waiting_for_acks_wakes_on_the_ack_and_times_out_without_it():
    journal = Journal()
    ack = Ack("m1", CommandType.NTP, "c", AckStatus.FAILED, "no")
    threading.Timer(0.05, journal.acked, (ack, 1.0)).start()

    [got] = journal.wait_for_acks(1, timeout=5, device_uuid="m1")

    assert (got.command_id, got.status) == ("c", AckStatus.FAILED)
    with pytest.raises(TimeoutError):
        journal.wait_for_acks(2, timeout=0.05)


def test_cli_defaults_come_from_msm_sim_devices(monkeypatch):
    monkeypatch.setenv("MSM_SIM_DEVICES", "7")

    args = build_parser(MetersimSettings()).parse_args([])

    assert (args.devices, args.interval, args.shared_connections) == (7, 5, 0)


def test_cli_flags_become_fleet_options():
    args = build_parser(MetersimSettings()).parse_args(
        [
            "--devices",
            "1000",
            "--interval",
            "1",
            "--shared-connections",
            "4",
            "--batch",
            "--fail-rate",
            "0.1",
            "--reject-rate",
            "0.05",
            "--drop-rate",
            "0.2",
            "--ack-delay-ms",
            "250",
            "--legacy-acks",
            "--seed",
            "9",
        ]
    )

    options = options_from(args)

    assert (options.devices, options.interval_s, options.shared_connections, options.batch) == (
        1000,
        1,
        4,
        True,
    )
    assert options.policy == AckPolicy(0.1, 0.05, 0.2, 250, legacy=True)
    assert options.seed == 9


def test_cli_refuses_impossible_combinations():
    parser = build_parser(MetersimSettings())
    with pytest.raises(ValueError):
        options_from(parser.parse_args(["--provision", "--shared-connections", "2"]))
    with pytest.raises(ValueError):
        options_from(parser.parse_args(["--fail-rate", "2"]))
