"""Keeps device shadows' `reported` state in step with ingest, paced per device.

The pipeline offers fragments (never blocks: a full inbox drops the offer, the next one carries
the newest state); one worker thread merges them per device and sends at most one update per
device every `min_interval` seconds. A slow or failing shadow endpoint never holds up storage:
failures are counted and logged, not retried (the next update supersedes them).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time

from msm_ingest.domain.shadow import Fragment, ShadowState, ShadowThrottle
from msm_ingest.metrics import IngestMetrics
from msm_ingest.ports import ShadowClient, ShadowError

log = logging.getLogger(__name__)

_STOP = ("", ShadowState())


class ShadowUpdater:
    def __init__(
        self,
        client: ShadowClient,
        metrics: IngestMetrics,
        *,
        min_interval_s: float,
        inbox_max: int = 100_000,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._throttle = ShadowThrottle(min_interval_s)
        self._inbox: queue.Queue[tuple[str, ShadowState]] = queue.Queue(inbox_max)
        self._thread: threading.Thread | None = None
        self._failures_logged = 0.0

    def start(self) -> ShadowUpdater:
        self._thread = threading.Thread(target=self._run, name="ingest-shadow", daemon=True)
        self._thread.start()
        return self

    def offer(self, device_uuid: str, state: ShadowState) -> None:
        try:
            self._inbox.put_nowait((device_uuid, state))
        except queue.Full:
            self._metrics.shadow_updates.labels("dropped").inc()

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._inbox.put(_STOP, timeout=timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            wait = self._throttle.seconds_to_next(time.monotonic())
            try:
                item = self._inbox.get(timeout=wait) if wait is None or wait > 0 else None
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            now = time.monotonic()
            if item is not None and not self._throttle.offer(item[0], item[1], now):
                self._metrics.shadow_updates.labels("dropped").inc()
            for device_uuid, fragment in self._throttle.take_due(now):
                self._send(device_uuid, fragment)
            self._metrics.shadow_waiting.set(self._throttle.waiting)

    def _send(self, device_uuid: str, fragment: Fragment) -> None:
        try:
            self._client.update_reported(device_uuid, fragment)
        except ShadowError as exc:
            self._metrics.shadow_updates.labels("failed").inc()
            now = time.monotonic()
            if now - self._failures_logged > 30:  # one line per 30 s, not one per device
                self._failures_logged = now
                log.warning("shadow update failed: %s", exc, extra={"device_uuid": device_uuid})
            return
        self._metrics.shadow_updates.labels("sent").inc()
