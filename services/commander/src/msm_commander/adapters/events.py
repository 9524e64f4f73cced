"""`command.status` CloudEvents on `msm.events`, with asynchronous confirms and an outbox.

Every transition sets the command's `event_pending` flag in the same write. The event is
published without waiting. Once RabbitMQ confirms the event of a command's final transition, a
background thread clears the flag, in batches (the flag of an active command is left set: its
next transition's write sets it again anyway, so clearing it would be a write for nothing).
The ticker republishes the whole history of finished commands whose flag stayed set (a crash,
a broker outage) with the same deterministic event ids, so a consumer sees each transition at
least once and can deduplicate.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol

from msm_common.adapters.amqp import ConfirmingPublisher, OutgoingMessage
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from msm_common.contracts.events import COMMAND_STATUS, make_event

from msm_commander.domain.documents import status_event_data, status_event_id
from msm_commander.domain.state_machine import FINAL_VALUES

log = logging.getLogger(__name__)
Mark = tuple[str, int]


class StatusEvents(Protocol):
    def publish(self, doc: Mapping[str, Any], indexes: Iterable[int]) -> None:
        """Publish the events of history entries `indexes` of the stored command `doc`."""
        ...


class AmqpStatusEvents:
    """Publishes on a ConfirmingPublisher; `mark` clears outbox flags (a store method)."""

    def __init__(
        self,
        publisher: ConfirmingPublisher,
        mark: Callable[[list[Mark]], None],
        *,
        source: str,
        clock: Callable[[], datetime],
        flush_interval_s: float = 0.2,
    ) -> None:
        self._publisher = publisher
        self._mark = mark
        self._source = source
        self._clock = clock
        self._confirmed: queue.Queue[Mark | None] = queue.Queue()
        self._interval = flush_interval_s
        self._thread = threading.Thread(target=self._run, name="status-event-marks", daemon=True)
        self._thread.start()

    def publish(self, doc: Mapping[str, Any], indexes: Iterable[int]) -> None:
        messages: list[OutgoingMessage] = []
        last: tuple[int, str] | None = None
        for index in indexes:
            data = status_event_data(doc, index)
            event = make_event(
                COMMAND_STATUS,
                self._source,
                str(doc["device_uuid"]),
                data,
                id=status_event_id(str(doc["_id"]), index),
                time=self._clock(),
            )
            messages.append(
                OutgoingMessage(EVENTS_EXCHANGE, event.routing_key, event.to_json(), event.id)
            )
            last = (index, str(data["status"]))
        if last is None:
            return
        futures = self._publisher.publish_async(messages)
        if last[1] in FINAL_VALUES:  # clear the flag once RabbitMQ has every one of them
            on_all = self._when_all_confirmed(len(futures), (str(doc["_id"]), last[0]))
            for future in futures:
                future.add_done_callback(on_all)

    def _when_all_confirmed(self, count: int, mark: Mark) -> Callable[[Future[None]], None]:
        lock = threading.Lock()
        outstanding = [count]

        def done(future: Future[None]) -> None:
            if future.exception() is not None:
                log.warning("command.status %s not confirmed: %s", mark, future.exception())
                return  # stays pending: the ticker republishes it
            with lock:
                outstanding[0] -= 1
                complete = outstanding[0] == 0
            if complete:
                self._confirmed.put(mark)

        return done

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Mark] = []
            try:
                item = self._confirmed.get(timeout=self._interval)
            except queue.Empty:
                continue
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                try:
                    item = self._confirmed.get_nowait()
                except queue.Empty:
                    break
            self._flush(batch)

    def _flush(self, batch: list[Mark]) -> None:
        if not batch:
            return
        try:
            self._mark(batch)
        except Exception:
            log.exception("could not clear %d outbox flags", len(batch))

    def close(self) -> None:
        """Flush the confirmed marks, then stop (the publisher is closed by its owner)."""
        self._confirmed.put(None)
        self._thread.join(timeout=5)
