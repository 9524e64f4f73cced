"""The ticker's health: a failed tick is retried; a run of them makes the commander unhealthy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from msm_commander.ticker import Ticker
from pymongo.errors import AutoReconnect

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FlakyStore:
    """The store queries the ticker makes; raises `error` while `down`."""

    down: bool = False
    error: Exception = field(default_factory=lambda: AutoReconnect("connection refused"))

    def _check(self) -> None:
        if self.down:
            raise self.error

    def devices_past_deadline(self, _now, _page):
        self._check()
        return set()

    def devices_with_expired(self, _now, _page):
        self._check()
        return set()

    def queued_page(self, _cursor, _before, _page):
        self._check()
        return []

    def stalled(self, devices):
        return set(devices)

    def pending_events(self, _before, _page):
        self._check()
        return []

    def count_in_flight(self):
        self._check()
        return 0


class Gauge:
    def set(self, _value):
        pass


@dataclass
class Metrics:
    in_flight: Gauge = field(default_factory=Gauge)


@dataclass
class IdleScheduler:
    metrics: Metrics = field(default_factory=Metrics)

    def clock(self):
        return NOW

    def schedule(self, _device_uuid):
        raise AssertionError("nothing to schedule")


def ticker(store: FlakyStore, unhealthy_after: int = 3) -> Ticker:
    scheduler = IdleScheduler()
    return Ticker(store, scheduler, None, unhealthy_after=unhealthy_after)  # type: ignore[arg-type]


def test_a_failed_tick_is_retried_and_the_ticker_stays_healthy_at_first() -> None:
    store = FlakyStore(down=True)
    t = ticker(store)
    assert t.run_once() is False
    assert t.healthy()
    store.down = False
    assert t.run_once() is True and t.healthy()


def test_failed_ticks_in_a_row_make_it_unhealthy_until_one_succeeds() -> None:
    store = FlakyStore(down=True)
    t = ticker(store, unhealthy_after=3)
    assert [t.run_once() for _ in range(2)] == [False, False] and t.healthy()
    t.run_once()
    assert not t.healthy()
    store.down = False
    assert t.run_once() and t.healthy()


def test_a_bug_in_a_tick_counts_as_a_failure_too() -> None:
    store = FlakyStore(down=True, error=KeyError("history"))
    t = ticker(store, unhealthy_after=2)
    t.run_once()
    t.run_once()
    assert not t.healthy()


def test_successes_in_between_reset_the_count() -> None:
    store = FlakyStore()
    t = ticker(store, unhealthy_after=2)
    for _ in range(5):
        store.down = True
        t.run_once()
        store.down = False
        t.run_once()
    assert t.healthy()
