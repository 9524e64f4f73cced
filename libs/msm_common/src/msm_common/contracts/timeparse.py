"""Device timestamps: ISO-8601, epoch seconds or epoch milliseconds in; UTC datetimes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from msm_common.contracts.errors import (
    TIMESTAMP_OUT_OF_RANGE,
    ContractError,
    field_error,
    short_repr,
)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST: Final = datetime(2015, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW: Final = timedelta(days=1)
# Above this an epoch number is read as milliseconds (1e11 s is the year 5138).
MS_THRESHOLD: Final = 1e11
_ONE_MS: Final = timedelta(milliseconds=1)
_EARLIEST_S: Final = (EARLIEST - EPOCH).total_seconds()


class TimeWindow(NamedTuple):
    """The accepted range for device timestamps, fixed once per message from `received_at`."""

    latest: datetime
    latest_s: float

    @classmethod
    def around(cls, received_at: datetime) -> TimeWindow:
        # The messages of one read share their receive time: compute its window once.
        last = _LAST_WINDOW[0]
        if last is not None and last[0] is received_at:
            return last[1]
        latest = as_utc(received_at) + MAX_CLOCK_SKEW
        window = cls(latest, (latest - EPOCH).total_seconds())
        _LAST_WINDOW[0] = (received_at, window)
        return window


_LAST_WINDOW: list[tuple[datetime, TimeWindow] | None] = [None]  # one entry, replaced whole


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_ms(value: datetime) -> datetime:
    """Model validator: UTC, truncated to milliseconds (what the wire format and Mongo keep)."""
    try:
        value = as_utc(value)
    except OverflowError:  # e.g. year 1 with a positive offset
        raise ValueError("datetime is out of range once converted to UTC") from None
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def parse_timestamp(value: object, *, received_at: datetime, field: str = "timestamp") -> datetime:
    """Read a device timestamp; the result is UTC, truncated to milliseconds (what Mongo keeps)."""
    return parse_in_window(value, TimeWindow.around(received_at), field)


def parse_in_window(value: object, window: TimeWindow, field: str) -> datetime:
    if isinstance(value, str):
        return _from_iso(value, window, field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value, window, field)
    raise field_error(
        field, f"must be an ISO-8601 string or epoch seconds/milliseconds, got {short_repr(value)}"
    )


def _from_iso(text: str, window: TimeWindow, field: str) -> datetime:
    if len(text) > 64:
        raise field_error(field, "ISO-8601 timestamp is too long")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise field_error(field, f"{short_repr(text)} is not an ISO-8601 timestamp") from None
    # datetime.replace() is slow; the common inputs ("...Z", whole or whole-ms seconds) skip it.
    if parsed.tzinfo is not UTC:
        try:
            parsed = _to_utc(parsed)
        except OverflowError:  # an offset pushing year 1 or 9999 out of range
            raise _out_of_range(field, text) from None
    if not EARLIEST <= parsed <= window.latest:
        raise _out_of_range(field, text)
    if parsed.microsecond % 1000:
        parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    return parsed


def _to_utc(parsed: datetime) -> datetime:
    if parsed.tzinfo is None or not parsed.utcoffset():
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(number: float, window: TimeWindow, field: str) -> datetime:
    seconds = number / 1000 if number > MS_THRESHOLD else number
    if not _EARLIEST_S <= seconds <= window.latest_s:
        raise _out_of_range(field, repr(number))
    millis = round(number) if number > MS_THRESHOLD else round(number * 1000)
    return EPOCH + timedelta(milliseconds=millis)


def _out_of_range(field: str, shown: str) -> ContractError:
    return ContractError(
        TIMESTAMP_OUT_OF_RANGE,
        f"{field}: {shown} is before 2015-01-01 or more than a day after receipt",
        field=field,
    )


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch, exact (no float rounding)."""
    return (value - EPOCH) // _ONE_MS


def format_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, e.g. ``2025-01-01T00:00:00.000Z``."""
    if value.tzinfo is not UTC:
        value = as_utc(value)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"
