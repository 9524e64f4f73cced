"""Readings stay plausible all day; ack policies draw their rates (no I/O)."""

from __future__ import annotations

import math
import random

import pytest
from msm_common.contracts import AckStatus
from msm_metersim import AckPolicy
from msm_metersim.payloads import imei_for, ip_for, luhn_digit
from msm_metersim.readings import MeterProfile, load_factor, sample

DAY = 86_400


def test_readings_are_plausible_at_every_hour_for_many_meters():
    rng = random.Random(1)
    for meter in range(50):
        profile = MeterProfile.draw(random.Random(meter))
        for minute in range(0, 24 * 60, 17):
            for r in sample(profile, rng, 1_750_000_000 - 1_750_000_000 % DAY + minute * 60, 3):
                assert 218.5 <= r["line_voltage"] <= 241.5
                assert 0.0 <= r["current"] <= 60.0
                assert 20.0 <= r["temperature"] <= 60.0
                apparent = r["line_voltage"] * r["current"]
                assert math.isclose(
                    math.hypot(r["active_power"], r["reactive_power"]),
                    apparent,
                    rel_tol=1e-3,
                    abs_tol=0.05,
                )
                if apparent > 100:
                    assert 0.799 <= r["active_power"] / apparent <= 1.001  # PF 0.8-1.0, rounded
                assert r["channel_id"] == 3 and r["phase"] in "ABC"


def test_the_daily_shape_peaks_in_the_evening():
    assert load_factor(19.0) > load_factor(8.0) > load_factor(3.0)
    assert load_factor(0.0) == pytest.approx(load_factor(24.0))


def test_the_policy_draws_its_rates():
    policy = AckPolicy(fail_rate=0.2, reject_rate=0.1, drop_rate=0.25)
    rng = random.Random(3)
    outcomes = [policy.outcome(rng) for _ in range(20_000)]
    drops = sum(policy.drops(rng) for _ in range(20_000))

    assert outcomes.count(AckStatus.FAILED) / 20_000 == pytest.approx(0.2, abs=0.015)
    assert outcomes.count(AckStatus.REJECTED) / 20_000 == pytest.approx(0.1, abs=0.015)
    assert drops / 20_000 == pytest.approx(0.25, abs=0.015)


@pytest.mark.parametrize(
    "fields",
    [
        {"fail_rate": 1.5},
        {"drop_rate": -0.1},
        {"fail_rate": 0.6, "reject_rate": 0.6},
        {"ack_delay_ms": -1},
    ],
)
def test_impossible_policies_are_refused(fields):
    with pytest.raises(ValueError):
        AckPolicy(**fields)


def test_identities_are_stable_valid_imeis_and_private_addresses():
    imei = imei_for("meter-1")

    assert imei == imei_for("meter-1") != imei_for("meter-2")
    assert len(imei) == 15 and imei.isdigit() and luhn_digit(imei[:-1]) == imei[-1]
    assert luhn_digit("49015420323751") == "8"  # a published IMEI example
    assert ip_for("meter-1").startswith("10.")
