from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from msm_common.contracts import ContractError, format_timestamp, parse_timestamp

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T = datetime(2025, 6, 1, 11, 59, 58, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-06-01T11:59:58.123Z", T),
        ("2025-06-01T11:59:58.123+00:00", T),
        ("2025-06-01T13:59:58.123+02:00", T),
        ("2025-06-01T06:59:58.123-05:00", T),
        ("2025-06-01T11:59:58.123", T),  # naive: UTC
        ("2025-06-01T11:59:58.123456Z", T),  # truncated to milliseconds
        ("2025-06-01 11:59:58.123Z", T),
        (1748779198.123, T),  # epoch seconds, float
        (1748779198, T.replace(microsecond=0)),  # epoch seconds, int
        (1748779198123, T),  # epoch milliseconds
        (1748779198123.0, T),
        ("2015-01-01T00:00:00Z", datetime(2015, 1, 1, tzinfo=UTC)),
        ("2025-06-02T12:00:00Z", NOW + timedelta(days=1)),
    ],
)
def test_accepted_formats(raw: object, expected: datetime) -> None:
    parsed = parse_timestamp(raw, received_at=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [
        "2014-12-31T23:59:59Z",
        "2025-06-02T12:00:00.001Z",
        "2099-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        0,
        -1,
        1_000_000_000,  # 2001
        4_102_444_800,  # 2100
        1e11 - 1,  # seconds, far future
        1e15,  # milliseconds, far future
        1e300,
        -1e300,
    ],
)
def test_out_of_range(raw: object) -> None:
    with pytest.raises(ContractError) as info:
        parse_timestamp(raw, received_at=NOW)
    assert info.value.reason == "timestamp_out_of_range"
    assert info.value.field == "timestamp"


@pytest.mark.parametrize(
    "raw",
    [True, False, None, "", "yesterday", "2025-13-01T00:00:00Z", "1748779198", [], {}, "x" * 100],
)
def test_not_a_timestamp(raw: object) -> None:
    with pytest.raises(ContractError) as info:
        parse_timestamp(raw, received_at=NOW, field="readings[0].timestamp")
    assert info.value.reason in {"field_invalid", "timestamp_out_of_range"}
    assert info.value.field == "readings[0].timestamp"


def test_received_at_may_be_any_timezone_or_naive() -> None:
    received = NOW.astimezone(timezone(timedelta(hours=9)))
    assert parse_timestamp("2025-06-02T11:00:00Z", received_at=received).day == 2
    assert parse_timestamp("2025-06-02T11:00:00Z", received_at=NOW.replace(tzinfo=None)).day == 2


def test_format_timestamp_is_utc_with_milliseconds_and_z() -> None:
    assert format_timestamp(T) == "2025-06-01T11:59:58.123Z"
    assert format_timestamp(T.astimezone(timezone(timedelta(hours=2)))) == (
        "2025-06-01T11:59:58.123Z"
    )
    assert format_timestamp(datetime(2025, 1, 1)) == "2025-01-01T00:00:00.000Z"


def test_the_window_follows_each_receive_time_even_when_cached() -> None:
    from msm_common.contracts.timeparse import MAX_CLOCK_SKEW, TimeWindow

    first = datetime(2025, 6, 1, 12, tzinfo=UTC)
    second = first + timedelta(hours=5)
    a = TimeWindow.around(first)
    assert TimeWindow.around(first) is a  # the same receive time: computed once
    b = TimeWindow.around(second)
    assert (a.latest, b.latest) == (first + MAX_CLOCK_SKEW, second + MAX_CLOCK_SKEW)
    assert TimeWindow.around(first).latest == first + MAX_CLOCK_SKEW
