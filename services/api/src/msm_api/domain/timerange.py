"""Time ranges and intervals for telemetry queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

# interval name -> ($dateTrunc unit, binSize, seconds)
INTERVALS: Final[dict[str, tuple[str, int, int]]] = {
    "1m": ("minute", 1, 60),
    "5m": ("minute", 5, 300),
    "1h": ("hour", 1, 3600),
    "1d": ("day", 1, 86_400),
}
DEFAULT_BUCKET_SPAN: Final = timedelta(days=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class RangeError(ValueError):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_range(start: datetime | None, end: datetime | None) -> TimeRange:
    """Normalise to UTC. `from` at or after `to` is the empty range [from, from): no rows.

    (Not an error: no JSON Schema can say "from before to", and the answer is well defined.)
    """
    start = utc(start) if start is not None else None
    end = utc(end) if end is not None else None
    if start is not None and end is not None and start >= end:
        end = start
    return TimeRange(start, end)


def bucket_range(rng: TimeRange, now: datetime) -> tuple[datetime, datetime]:
    """A bounded range for bucket queries: `to` defaults to now, `from` to one day before `to`."""
    end = rng.end or now
    start = rng.start or end - DEFAULT_BUCKET_SPAN
    return start, max(start, end)  # `from` after `to` (or now): the empty range


def truncate(value: datetime, interval: str) -> datetime:
    """The start of `value`'s bucket (aligned like `$dateTrunc` in UTC)."""
    seconds = INTERVALS[interval][2]
    offset = (utc(value) - _EPOCH) // timedelta(seconds=seconds)
    return _EPOCH + timedelta(seconds=offset * seconds)
