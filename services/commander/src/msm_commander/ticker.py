"""The periodic pass: deadlines, expiry, stalled devices, unpublished events, gauges.

Messages only trigger work; the ticker is what makes the commander crash-safe. Whatever a crash
left behind is in MongoDB: a `sent` command past its deadline (resent or timed out), a queued one
past its expiry, a device whose next command nobody sent, a transition whose event was not
confirmed. Every replica may run it: its writes are the scheduler's guarded writes.

A failed tick is retried at the next one; after `unhealthy_after` failures in a row the ticker
reports itself unhealthy (the liveness probe fails and the replica is restarted), so a commander
whose database or code keeps failing does not look alive while it does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from msm_commander.adapters.events import StatusEvents
from msm_commander.ports import CommandStore
from msm_commander.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass
class Ticker:
    store: CommandStore
    scheduler: Scheduler
    events: StatusEvents
    interval_s: float = 1.0
    page: int = 200
    stall_grace: timedelta = timedelta(seconds=5)
    outbox_grace: timedelta = timedelta(seconds=10)
    gauge_interval_s: float = 10.0
    unhealthy_after: int = 5  # failed ticks in a row
    _failed_in_row: int = 0
    _cursor: tuple[datetime, str] | None = None
    _next_gauge: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.scheduler.clock

    def tick(self) -> set[str]:
        """One pass; returns the devices it scheduled."""
        now = self.clock()
        devices = self.store.devices_past_deadline(now, self.page)
        devices |= self.store.devices_with_expired(now, self.page)
        devices |= self._stalled(now)
        for device_uuid in sorted(devices):
            self.scheduler.schedule(device_uuid)
        self._republish(now)
        if time.monotonic() >= self._next_gauge:
            self._next_gauge = time.monotonic() + self.gauge_interval_s
            self.scheduler.metrics.in_flight.set(self.store.count_in_flight())
        return devices

    def _stalled(self, now: datetime) -> set[str]:
        """Walk the queued commands a page per tick; wake their devices that nobody serves."""
        page = self.store.queued_page(self._cursor, now - self.stall_grace, self.page)
        if len(page) < self.page:
            self._cursor = None  # wrapped: start from the oldest again next time
        else:
            self._cursor = (page[-1]["updated_at"], str(page[-1]["_id"]))
        return self.store.stalled(str(d["device_uuid"]) for d in page)

    def _republish(self, now: datetime) -> None:
        for doc in self.store.pending_events(now - self.outbox_grace, self.page):
            self.events.publish(doc, range(len(doc.get("history") or [])))

    # -- thread -----------------------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def run_once(self) -> bool:
        """One tick that never raises; False (and one more failure in a row) if it failed."""
        try:
            self.tick()
        except PyMongoError as exc:
            self._failed_in_row += 1
            log.warning("tick failed (%d in a row): %s", self._failed_in_row, exc)
            return False
        except Exception:  # a bug: logged with its traceback, counted like any failure
            self._failed_in_row += 1
            log.exception("tick failed (%d in a row)", self._failed_in_row)
            return False
        self._failed_in_row = 0
        return True

    def healthy(self) -> bool:
        """False once `unhealthy_after` ticks in a row have failed (until one succeeds)."""
        return self._failed_in_row < self.unhealthy_after

    def stop(self) -> None:
        self._stop.set()
