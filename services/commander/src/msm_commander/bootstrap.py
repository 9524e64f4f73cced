"""The composition root: settings in, a Commander out. Nothing connects until `start()`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from msm_common.adapters import mongo
from msm_common.adapters.amqp import ConfirmingPublisher, Consumer
from msm_common.health import Readiness, readiness
from msm_common.secrets import SecretBox, box_for
from pymongo.database import Database

from msm_commander import entrypoints
from msm_commander.adapters.events import AmqpStatusEvents, StatusEvents
from msm_commander.adapters.sender import CommandSender, MqttSender
from msm_commander.adapters.store import MongoStore
from msm_commander.domain.state_machine import RetryPolicy
from msm_commander.handlers import Deps
from msm_commander.metrics import CommanderMetrics
from msm_commander.ports import CommandStore
from msm_commander.scheduler import Scheduler
from msm_commander.settings import CommanderSettings
from msm_commander.ticker import Ticker

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Commander:
    """The running service: consumer threads, the ticker thread, and what they share."""

    settings: CommanderSettings
    deps: Deps
    ticker: Ticker
    metrics: CommanderMetrics
    starters: list[Callable[[], Any]]
    closers: list[Callable[[], None]]
    ready_checks: dict[str, Callable[[], bool]]
    consumers: list[Consumer] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Commander:
        self.deps.store.ensure_indexes(self.settings.telemetry_retention_days)
        for start in self.starters:
            start()
        specs = entrypoints.handlers(self.deps, self.settings, self.stopping)
        for i in range(self.settings.consumers):
            consumer = Consumer(
                self.settings.amqp_url,
                specs,
                prefetch=self.settings.prefetch,
                name=f"{self.settings.service_name}-{i}",
            )
            self.consumers.append(consumer)
            self._thread(consumer.run, f"consumer-{i}")
        self._thread(self._tick_when_consuming, "ticker")
        self.ready_checks["consumers"] = lambda: all(c.connected.is_set() for c in self.consumers)
        return self

    def _tick_when_consuming(self) -> None:
        """After a restart, read the acks that waited for us before judging deadlines."""
        for consumer in self.consumers:
            while not consumer.connected.wait(0.5):
                if self.stopping.is_set():
                    return
        self.ticker.run()

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def wait_ready(self, timeout: float = 15.0) -> bool:
        return all(c.connected.wait(timeout) for c in self.consumers) and self.readiness().ready

    def alive(self) -> bool:
        """Every consumer and the ticker thread still runs and the ticks do not keep failing
        (until stop is asked)."""
        if self.stopping.is_set():
            return True
        return all(t.is_alive() for t in self.threads) and self.ticker.healthy()

    def readiness(self) -> Readiness:
        return readiness(self.ready_checks)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming (each consumer finishes its current message), then disconnect."""
        self.stopping.set()
        self.ticker.stop()
        for consumer in self.consumers:
            consumer.stop()
        for thread in self.threads:
            thread.join(timeout)
        for close in self.closers:
            close()


def bootstrap(
    settings: CommanderSettings,
    *,
    db: Database[dict[str, Any]] | None = None,
    store: CommandStore | None = None,
    sender: CommandSender | None = None,
    events: StatusEvents | None = None,
    clock: Callable[[], datetime] | None = None,
    metrics: CommanderMetrics | None = None,
    secret_box: SecretBox | None = None,
) -> Commander:
    """Build the commander; each part given replaces the real one (tests pass fakes or a
    database of their own). `db` is used for the real store when `store` is not given."""
    starters: list[Callable[[], Any]] = []
    closers: list[Callable[[], None]] = []
    checks: dict[str, Callable[[], bool]] = {}
    clock = clock or utcnow
    if store is None:
        if db is None:
            client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
            closers.append(client.close)
            db = client[settings.database_name]
            checks["mongo"] = lambda: bool(client.admin.command("ping").get("ok"))
        store = MongoStore(db)
    checks["consumers"] = lambda: False  # replaced once they exist (start)
    if sender is None:
        mqtt = MqttSender(settings, timeout_s=settings.publish_timeout_s)
        starters.append(mqtt.start)
        closers.insert(0, mqtt.stop)
        sender = mqtt
    broker_side: CommandSender = sender
    checks["mqtt"] = lambda: broker_side.connected
    if events is None:
        publisher = ConfirmingPublisher(settings.amqp_url, name=settings.service_name)
        starters.append(publisher.start)
        amqp_events = AmqpStatusEvents(
            publisher, store.mark_events_published, source=settings.service_name, clock=clock
        )
        closers[:0] = [amqp_events.close, publisher.close]
        checks["rabbitmq"] = lambda: publisher.ready
        events = amqp_events
    metrics = metrics or CommanderMetrics()
    policy = RetryPolicy(
        ack_timeout_s=settings.ack_timeout_s,
        max_attempts=settings.max_attempts,
        backoff_factor=settings.retry_backoff_factor,
        max_ack_timeout_s=settings.max_ack_timeout_s,
    )
    default_expiry = timedelta(seconds=settings.default_expiry_s)
    scheduler = Scheduler(
        secrets=secret_box or box_for(settings),
        store=store,
        sender=sender,
        events=events,
        metrics=metrics,
        policy=policy,
        clock=clock,
        default_expiry=default_expiry,
        allow_unknown=settings.allow_unknown_devices,
    )
    ticker = Ticker(
        store=store,
        scheduler=scheduler,
        events=events,
        interval_s=settings.tick_interval_s,
        page=settings.sweep_page,
        stall_grace=timedelta(seconds=settings.stall_grace_s),
        outbox_grace=timedelta(seconds=settings.outbox_grace_s),
        gauge_interval_s=settings.gauge_interval_s,
        unhealthy_after=settings.unhealthy_after_failed_ticks,
    )
    deps = Deps(store, scheduler, policy, settings.allow_unknown_devices, default_expiry)
    return Commander(settings, deps, ticker, metrics, starters, closers, checks)
