"""Work beside the HTTP side: registry events from MQTT, the event outbox, the reconciler.

`$aws/events/thing/+/created` arrives on every replica (a shared subscription when
MSM_PROVISIONER_SHARE_GROUP is set; mosquitto does not share `$` topics) and handling it is
idempotent; paho's callback only enqueues, one worker thread handles. A ticker flushes the
outbox every couple of seconds and runs `reconcile` (certificate retirement after rotation or
reprovisioning).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Final

import paho.mqtt.client as paho
from botocore.exceptions import BotoCoreError, ClientError
from msm_common import topics
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_common.contracts.errors import TopicError
from pymongo.errors import PyMongoError

from msm_provisioner.deps import Deps
from msm_provisioner.handlers import lifecycle

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S: Final = 2.0
QUEUE_SIZE: Final = 10_000
_RECOVERABLE = (PyMongoError, ClientError, BotoCoreError, OSError)


class Background:
    def __init__(self, deps: Deps, mqtt_config: MqttConfig | None) -> None:
        self._deps = deps
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        group = deps.settings.provisioner_share_group or None
        self.mqtt = (
            MqttConnection(
                mqtt_config,
                subscriptions=[(_filter(group), 1)],
                on_message=self._enqueue,
            )
            if mqtt_config is not None
            else None
        )
        self._threads = [
            threading.Thread(target=self._work, name="provisioner-events", daemon=True),
            threading.Thread(target=self._tick, name="provisioner-ticker", daemon=True),
        ]

    def start(self) -> Background:
        for thread in self._threads:
            thread.start()
        if self.mqtt is not None:
            self.mqtt.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.mqtt is not None:
            self.mqtt.stop()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    @property
    def connected(self) -> bool:
        return self.mqtt is None or self.mqtt.connected.is_set()

    def _enqueue(self, message: paho.MQTTMessage) -> None:
        try:
            self._queue.put_nowait((message.topic, bytes(message.payload)))
        except queue.Full:  # the hook registers devices too; a lost event only delays a check
            log.warning("registry event queue full; dropping %s", message.topic)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            topic, payload = item
            try:
                handle_thing_event(self._deps, topic, payload)
            except _RECOVERABLE as exc:
                log.warning("registry event %s not handled: %s", topic, exc)

    def _tick(self) -> None:
        interval = self._deps.settings.provisioner_reconcile_interval_s
        next_reconcile = time.monotonic() + interval
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self._deps.events.flush()
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + interval
                    lifecycle.reconcile(self._deps)
            except _RECOVERABLE as exc:
                log.warning("background step failed: %s", exc)


def _filter(group: str | None) -> str:
    return topics.shared_subscription(topics.THING_CREATED_FILTER, group or None)


def handle_thing_event(deps: Deps, topic: str, payload: bytes) -> bool:
    """One `$aws/events/thing/{name}/created` message; True if it registered a device."""
    try:
        parsed = topics.parse(topic)
    except TopicError:
        return False
    if parsed.kind is not topics.TopicKind.THING_EVENT or parsed.thing is None:
        return False
    if parsed.thing_event is not topics.ThingEventType.CREATED:
        return False
    try:
        body = json.loads(payload)
    except ValueError:
        body = {}
    return lifecycle.on_thing_created(deps, parsed.thing, body if isinstance(body, dict) else {})
