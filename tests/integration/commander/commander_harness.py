"""Test helpers for the commander: fake meters over real MQTT, the API's and ingest's side.

A FakeMeter is a paho client with its own device certificate. It records every command it
receives and answers as its `behaviour` says; its acknowledgements reach the commander the way
ingest relays them: as `command.ack.{uuid}` CloudEvents on msm.events.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pika
from msm_common.adapters import amqp_topology
from msm_common.adapters.amqp import ConfirmingPublisher, OutgoingMessage
from msm_common.adapters.mqtt import MqttConnection
from msm_common.contracts import CommandRequest, make_event
from msm_common.contracts.events import COMMAND_ACK, DEVICE_PRESENCE
from msm_common.secrets import SecretBox, seal_params
from support.command_samples import PARAMS
from support.waiting import wait_for

# A tick every 0.2 s. The ack window (3 s) is long enough that a busy machine does not turn a
# slow ack into a resend; QUICK_ACKS (0.6 s, then 0.9 s and 1.35 s) is for the timeout tests.
QUICK_ACKS = {"ack_timeout_s": 0.6}
FAST = {
    "ack_timeout_s": 3.0,
    "max_attempts": 3,
    "retry_backoff_factor": 1.5,
    "tick_interval_s": 0.2,
    "stall_grace_s": 0.5,
    "outbox_grace_s": 2.0,
    "gauge_interval_s": 0.5,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def doc(db: Any, command_id: str) -> dict[str, Any] | None:
    """The stored command."""
    found: dict[str, Any] | None = db["commands"].find_one({"_id": command_id})
    return found


def until(db: Any, command_id: str, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
    """The stored command once its status is `wanted`."""
    return wait_for(
        f"command {command_id} to be {wanted}",
        lambda: (d := doc(db, command_id)) is not None and d["status"] == wanted and d,
        timeout,
    )


@dataclass(frozen=True)
class Ack:
    status: str | None = "success"  # None: say nothing (drop)
    message: str | None = None
    legacy: bool = False  # old firmware: no command_id
    delay: float = 0.0


Behaviour = Callable[[dict[str, Any], int], list[Ack]]


def always(*acks: Ack) -> Behaviour:
    return lambda _cmd, _n: list(acks) or [Ack()]


@dataclass
class Received:
    command_id: str
    type: str
    body: dict[str, Any]
    at: float


@dataclass
class FakeMeter:
    uuid: str
    acks: AckRelay
    behaviour: Behaviour = field(default_factory=lambda: always(Ack()))
    received: list[Received] = field(default_factory=list)
    conn: MqttConnection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _timers: list[threading.Timer] = field(default_factory=list)

    def connect(self, endpoints: Any, cert: Any, key: Any) -> FakeMeter:
        self.conn = MqttConnection(
            endpoints.mqtt_config(cert, key, self.uuid),
            subscriptions=[(f"msm/{self.uuid}/+", 1)],
            on_message=self._on_message,
        ).start()
        assert self.conn.wait_connected(10), self.conn.last_error
        time.sleep(0.2)  # let the SUBACK land before anything is published to us
        return self

    def _on_message(self, message: Any) -> None:
        body = orjson.loads(message.payload)
        if body.get("origin") != "cloud":
            return
        with self._lock:
            self.received.append(Received(body["command_id"], body["type"], body, time.monotonic()))
            nth = sum(1 for r in self.received if r.command_id == body["command_id"])
        for ack in self.behaviour(body, nth):
            if ack.status is not None:
                timer = threading.Timer(
                    ack.delay,
                    self.acks.ack,
                    (
                        self.uuid,
                        body["type"],
                        None if ack.legacy else body["command_id"],
                        ack.status,
                        ack.message,
                    ),
                )
                timer.daemon = True
                self._timers.append(timer)
                timer.start()

    def ids(self) -> list[str]:
        with self._lock:
            return [r.command_id for r in self.received]

    def stop(self) -> None:
        """Cancel the answers not yet due and wait for those already being published, so that
        none runs into the relay's close (and fails in whichever test runs next)."""
        for timer in self._timers:
            timer.cancel()
        for timer in self._timers:
            timer.join(15)
        if self.conn is not None:
            self.conn.stop()


class AckRelay:
    """Publishes what ingest would: ack and presence events on msm.events."""

    def __init__(self, amqp_url: str) -> None:
        self.publisher = ConfirmingPublisher(amqp_url, name="test-ingest").start(timeout=15)
        self.closed = False
        assert self.publisher.ready

    def _publish(self, type_: str, device_uuid: str, data: dict[str, Any]) -> None:
        if self.closed:  # a meter's late answer after its test ended
            return
        event = make_event(type_, "msm-ingest", device_uuid, data, time=utcnow())
        msg = OutgoingMessage(amqp_topology.EVENTS_EXCHANGE, event.routing_key, event.to_json())
        confirmed = self.publisher.publish_confirmed([msg], timeout=10) == [True]
        assert confirmed or self.closed, f"RabbitMQ did not confirm {type_} for {device_uuid}"

    def ack(
        self,
        device_uuid: str,
        command_type: str,
        command_id: str | None,
        status: str,
        message: str | None = None,
    ) -> None:
        self._publish(
            COMMAND_ACK,
            device_uuid,
            {
                "command_id": command_id,
                "command_type": command_type,
                "status": status,
                "message": message,
                "received_at": utcnow().isoformat(),
            },
        )

    def presence(self, device_uuid: str, connected: bool, at: datetime | None = None) -> None:
        stamp = at or utcnow()
        self._publish(
            DEVICE_PRESENCE,
            device_uuid,
            {
                "device_uuid": device_uuid,
                "connected": connected,
                "timestamp": stamp.isoformat(),
                "version_number": 1,
                "disconnect_reason": None if connected else "CLIENT_INITIATED_DISCONNECT",
            },
        )

    def close(self) -> None:
        self.closed = True
        self.publisher.close()


class Api:
    """What msm-api does for a command request: store it queued, then publish the request."""

    def __init__(self, db: Any, publisher: ConfirmingPublisher, box: SecretBox) -> None:
        self.db = db
        self.publisher = publisher
        self.box = box

    def request(
        self,
        device_uuid: str,
        type_: str,
        params: dict[str, Any] | None = None,
        *,
        ttl: float = 3600,
        idempotency_key: str | None = None,
        store: bool = True,
        created_at: datetime | None = None,
    ) -> str:
        now = created_at or utcnow()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        command_id = uuid.uuid4().hex
        params = PARAMS[type_] if params is None else params
        params = seal_params(self.box, type_, params)  # as msm-api stores and publishes them
        expires = now + timedelta(seconds=ttl)
        if store:
            doc = {
                "_id": command_id,
                "device_uuid": device_uuid,
                "type": type_,
                "params": params,
                "status": "queued",
                "history": [{"status": "queued", "at": now, "reason": "requested"}],
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                "expires_at": expires,
                "requested_by": "tester",
            }
            if idempotency_key:
                doc["idempotency_key"] = idempotency_key
            self.db["commands"].insert_one(doc)
        request = CommandRequest(
            command_id=command_id,
            device_uuid=device_uuid,
            type=type_,
            params=params,
            requested_by="tester",
            requested_at=now,
            expires_at=expires,
            idempotency_key=idempotency_key,
        )
        self.publish_raw(request.to_json())
        return command_id

    def publish_raw(self, body: bytes) -> None:
        msg = OutgoingMessage(
            amqp_topology.COMMANDS_EXCHANGE,
            amqp_topology.COMMAND_REQUEST_KEY,
            body,
            content_type="application/json",
        )
        assert self.publisher.publish_confirmed([msg], timeout=10) == [True]

    def cancel(self, command_id: str) -> bool:
        now = utcnow()
        res = self.db["commands"].update_one(
            {"_id": command_id, "status": "queued"},
            {
                "$set": {"status": "cancelled", "updated_at": now},
                "$push": {
                    "history": {"status": "cancelled", "at": now, "reason": "cancelled by t"}
                },
            },
        )
        return res.modified_count == 1


class EventTap:
    """A queue of our own bound to msm.events (or the DLX), drained on a thread."""

    def __init__(self, amqp_url: str, exchange: str, keys: tuple[str, ...]) -> None:
        self.name = f"t.tap.{uuid.uuid4().hex[:10]}"
        self.bodies: list[bytes] = []
        self._stopping = threading.Event()
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = self._conn.channel()
        ch.exchange_declare(exchange, "topic", durable=True)
        ch.queue_declare(self.name, exclusive=True, auto_delete=True)
        for key in keys:
            ch.queue_bind(self.name, exchange, routing_key=key)
        ch.basic_consume(
            self.name, lambda _c, _m, _p, body: self.bodies.append(body), auto_ack=True
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._conn.process_data_events(time_limit=0.1)
        self._conn.close()

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(b) for b in list(self.bodies)]

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
