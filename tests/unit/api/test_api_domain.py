from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msm_api.domain import commands as dc
from msm_api.domain import telemetry as dt
from msm_api.domain.cursor import CursorCodec, CursorError
from msm_api.domain.permissions import BUILTIN_ROLES, permissions_of
from msm_api.domain.redact import redact
from msm_api.domain.timerange import bucket_range, check_range, truncate
from msm_api.security.throttle import ThrottlePolicy, account_key, address_key

T0 = datetime(2025, 3, 1, 12, 34, 56, tzinfo=UTC)


def test_cursor_round_trip_and_tampering():
    codec = CursorCodec(b"k" * 32)
    token = codec.encode("readings", ["2025-01-01T00:00:00+00:00", "id-1"])
    assert codec.decode("readings", token) == ["2025-01-01T00:00:00+00:00", "id-1"]
    with pytest.raises(CursorError):
        codec.decode("devices", token)  # a cursor is only good for its own listing
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(CursorError):
        codec.decode("readings", flipped)
    with pytest.raises(CursorError):
        CursorCodec(b"other" * 8).decode("readings", token)


def test_redact_hides_secrets_and_says_whether_set():
    assert redact("sftp", {"server_ip": "h", "password": "pw"}) == {
        "server_ip": "h",
        "password_set": True,
    }
    assert redact("mqtt", {"broker_ip": "h"}) == {"broker_ip": "h", "broker_password_set": False}
    assert redact("mqtt", {}, purged=True) == {"broker_password_set": True}
    assert redact("ntp", {"server_1": "a"}) == {"server_1": "a"}


def test_public_command_never_shows_a_secret():
    doc = dc.new_command(
        command_id="c1",
        device_uuid="d1",
        type_=dc.CommandType("sftp"),
        params={"server_ip": "h", "password": "s3cret"},
        requested_by="op",
        now=T0,
        ttl=timedelta(hours=1),
        idempotency_key=None,
        digest="x",
    )
    shown = dc.public_command(doc)
    assert "s3cret" not in repr(shown) and shown["params"]["password_set"] is True
    assert shown["status"] == "queued" and doc["history"][0]["reason"] == "requested"
    assert "request_digest" not in shown


def test_cancel_update_purges_secrets():
    update = dc.cancel_update("mqtt", "op", T0)
    assert update["$set"]["status"] == "cancelled"
    assert update["$unset"] == {"params.broker_password": ""}


def test_request_digest_depends_on_every_part():
    base = dc.request_digest(b"s", "d1", "ntp", {"server_1": "a"})
    assert base == dc.request_digest(b"s", "d1", "ntp", {"server_1": "a"})
    assert base != dc.request_digest(b"s", "d2", "ntp", {"server_1": "a"})
    assert base != dc.request_digest(b"s", "d1", "ntp", {"server_1": "b"})


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("1m", datetime(2025, 3, 1, 12, 34, tzinfo=UTC)),
        ("5m", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
        ("1h", datetime(2025, 3, 1, 12, tzinfo=UTC)),
        ("1d", datetime(2025, 3, 1, tzinfo=UTC)),
    ],
)
def test_truncate_aligns_like_date_trunc(interval, expected):
    assert truncate(T0, interval) == expected


def test_time_ranges():
    # `from` at or after `to` is the empty range, not an error (no schema can say "before").
    empty = check_range(T0 + timedelta(hours=1), T0)
    assert empty.start == empty.end == T0 + timedelta(hours=1)
    naive = check_range(datetime(2025, 1, 1), None)
    assert naive.start.tzinfo is not None
    start, end = bucket_range(check_range(None, None), T0)
    assert end == T0 and end - start == timedelta(days=1)
    start, end = bucket_range(check_range(T0 + timedelta(days=1), None), T0)
    assert start == end == T0 + timedelta(days=1)


def test_bucket_window_is_bounded_by_limit_and_end():
    start = truncate(T0, "1m")
    assert dt.bucket_window(start, start + timedelta(days=30), "1m", 100) == (
        start,
        start + timedelta(minutes=100),
    )
    assert dt.bucket_window(start, start + timedelta(minutes=5), "1m", 100)[1] == (
        start + timedelta(minutes=5)
    )


def test_bucket_pipeline_groups_each_series_per_bucket():
    pipeline = dt.bucket_pipeline({"device_uuid": "d1"}, "5m")
    group = pipeline[1]["$group"]
    assert group["_id"]["t"]["$dateTrunc"]["binSize"] == 5
    assert group["line_voltage_avg"] == {"$avg": "$line_voltage"}
    row = dt.bucket_row(
        {"_id": {"t": T0, "d": "d1", "c": 1, "p": "A"}, "count": 3, "line_voltage_avg": 230.0}, "5m"
    )
    assert row["line_voltage"] == {"avg": 230.0, "min": None, "max": None}
    assert dt.after_position(row, T0, ("d1", 0, "A"))
    assert not dt.after_position(row, T0, ("d1", 1, "A"))


def test_permissions_of_builtin_roles():
    table = {name: frozenset(perms) for name, perms in BUILTIN_ROLES.items()}
    assert "devices:command" in permissions_of(["operator"], table)
    assert "devices:command" not in permissions_of(["viewer", "ghost"], table)
    assert permissions_of(["admin"], table) == frozenset(BUILTIN_ROLES["admin"])


def test_throttle_policy_backs_off_exponentially_with_a_cap():
    policy = ThrottlePolicy(
        timedelta(minutes=15),
        max_account_failures=3,
        max_address_failures=10,
        backoff_base_s=1.0,
        backoff_max_s=30.0,
    )
    account, address = account_key("65f0c0ffee0000000000beef", " Alice "), address_key("10.0.0.1")
    assert account == "acct:65f0c0ffee0000000000beef" and address == "addr:10.0.0.1"
    # Unknown identities get a key of their own, the same for any spelling of the name.
    assert account_key(None, " Alice ") == account_key(None, "alice") != account
    waits = [policy.delay_s(account, n) for n in range(1, 12)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert policy.delay_s(address, 9) == 0 and policy.delay_s(address, 10) == 1
