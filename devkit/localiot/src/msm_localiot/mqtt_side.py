"""The MQTT side: one connection as localiot's own identity, requests in, replies and events out.

Subscribed: the shadow request topics (`.../update|get|delete`, classic and named — never the
`/accepted`, `/delta`... replies localiot itself publishes), the three fleet-provisioning request
topics under each claim client's own scope (`msm-local/claim/<clientId>/...`: the reply goes to
that client alone, as AWS answers only the requesting connection), and `$SYS/broker/log/#` for
presence. Run one localiot per broker: mosquitto 2.0 does not
deliver `$`-topics to shared subscriptions, so a second instance would answer every request again.

paho's callback only enqueues: shadow requests go to a worker chosen by thing name (one thing's
requests stay in order), provisioning to its own workers (a hook may take seconds), presence to
one worker (log lines stay in order).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import paho.mqtt.client as paho
from msm_common import topics
from msm_common.adapters.mqtt import MqttConnection
from msm_common.contracts.errors import TopicError
from msm_common.topics import ParsedTopic, ProvisioningOp, ShadowOp, TopicKind
from pymongo.errors import PyMongoError

from .presence import LOG_TOPIC_FILTER, PresenceTracker, parse_log_line
from .provisioning.service import ProvisioningService, Reply
from .publishing import Publisher, publish_all
from .shadow.model import Rejected
from .shadow.service import INTERNAL_FAILURE, Operation, Result, ShadowService, messages_for
from .shadow.store import ShadowKey

log = logging.getLogger(__name__)

REQUEST_FILTERS: Final = (
    *(f"$aws/things/+/shadow/{op}" for op in ("update", "get", "delete")),
    *(f"$aws/things/+/shadow/name/+/{op}" for op in ("update", "get", "delete")),
    topics.claim_scope_filter(topics.create_certificate()),
    topics.claim_scope_filter(topics.create_certificate_from_csr()),
    topics.claim_scope_filter("$aws/provisioning-templates/+/provision/json"),
)
_SYS_LOG_PREFIX: Final = "$SYS/broker/log/"
_SHADOW_OPS: Final[dict[ShadowOp, Operation]] = {
    ShadowOp.UPDATE: "update",
    ShadowOp.GET: "get",
    ShadowOp.DELETE: "delete",
}


def subscriptions() -> list[tuple[str, int]]:
    """The request filters and the broker log."""
    return [*((f, 1) for f in REQUEST_FILTERS), (LOG_TOPIC_FILTER, 0)]


class MqttPublisher:
    """`Publisher` over an `MqttConnection`."""

    def __init__(self, connection: MqttConnection) -> None:
        self._connection = connection

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._connection.client.publish(topic, payload, qos=qos, retain=retain)


class Workers:
    """Threads fed by queues; jobs with the same key run in order on the same thread."""

    def __init__(self, name: str, count: int) -> None:
        self._queues: list[queue.Queue[Callable[[], None] | None]] = [
            queue.Queue() for _ in range(count)
        ]
        self._threads = [
            threading.Thread(target=self._run, args=(q,), name=f"{name}-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: str, job: Callable[[], None]) -> None:
        self._queues[zlib.crc32(key.encode()) % len(self._queues)].put(job)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish what is queued, then end the threads."""
        for q in self._queues:
            q.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _run(jobs: queue.Queue[Callable[[], None] | None]) -> None:
        while (job := jobs.get()) is not None:
            try:
                job()
            except Exception:  # a bad message must not kill the worker
                log.exception("message handler failed")


@dataclass(frozen=True)
class Deps:
    shadows: ShadowService
    provisioning: ProvisioningService | None
    tracker: PresenceTracker
    publisher: Publisher
    clock_ms: Callable[[], int]


def handle_shadow(deps: Deps, parsed: ParsedTopic, payload: bytes) -> None:
    assert parsed.device_uuid is not None and parsed.shadow_op is not None
    key = ShadowKey(parsed.device_uuid, parsed.shadow_name)
    op = _SHADOW_OPS[parsed.shadow_op]
    result: Result
    try:
        result = deps.shadows.handle(key, op, payload)
    except PyMongoError as exc:
        log.error("shadow %s %s failed: %s", key.id, op, exc)
        result = Rejected(500, INTERNAL_FAILURE, deps.clock_ms() // 1000)
    publish_all(deps.publisher, messages_for(key, op, result, via_mqtt=True))


def handle_provisioning(deps: Deps, parsed: ParsedTopic, payload: bytes, client_id: str) -> None:
    """Answer claim client `client_id` on its own scope (never on the shared AWS topic)."""
    service = deps.provisioning
    if service is None:
        return
    reply: Reply
    if parsed.provisioning_op is ProvisioningOp.CREATE_CERTIFICATE:
        reply = service.create_keys_and_certificate(payload)
        topic = topics.create_certificate(_result(reply))
    elif parsed.provisioning_op is ProvisioningOp.CREATE_FROM_CSR:
        reply = service.create_certificate_from_csr(payload)
        topic = topics.create_certificate_from_csr(_result(reply))
    else:
        assert parsed.template_name is not None
        reply = service.register_thing(parsed.template_name, payload, client_id)
        topic = topics.provision(parsed.template_name, _result(reply))
    publish_all(deps.publisher, [_Out(topics.claim_scoped(client_id, topic), reply.body)])


def handle_log_line(deps: Deps, line: str) -> None:
    notice = parse_log_line(line)
    if notice is None:
        return
    for event in deps.tracker.observe(notice, deps.clock_ms()):
        topic = topics.presence(event.client_id, event.event_type)
        deps.publisher.publish(topic, event.to_payload(), qos=1)


class Router:
    """paho's on_message: decode the topic and enqueue the right handler."""

    def __init__(self, deps: Deps, *, shadow_workers: int, provisioning_workers: int) -> None:
        self._deps = deps
        self._shadow = Workers("localiot-shadow", shadow_workers)
        self._provisioning = Workers("localiot-provisioning", provisioning_workers)
        self._presence = Workers("localiot-presence", 1)
        self._seq = 0

    def on_message(self, message: paho.MQTTMessage) -> None:
        topic, payload = message.topic, bytes(message.payload)
        if message.retain:  # a retained request is not a request made now
            return
        if topic.startswith(_SYS_LOG_PREFIX):
            line = payload.decode("utf-8", "replace")
            self._presence.submit("log", lambda: handle_log_line(self._deps, line))
            return
        scoped = topics.split_claim_scoped(topic)
        client_id, topic = scoped if scoped is not None else ("", topic)
        try:
            parsed = topics.parse(topic)
        except TopicError:
            log.debug("ignoring message on %s", message.topic)
            return
        if parsed.shadow_suffix is not None or parsed.provisioning_result is not None:
            return  # a reply, not a request
        if parsed.kind is TopicKind.SHADOW and scoped is None:
            key = parsed.device_uuid or ""
            self._shadow.submit(key, lambda: handle_shadow(self._deps, parsed, payload))
        elif parsed.kind is TopicKind.PROVISIONING and scoped is not None:
            self._seq += 1
            self._provisioning.submit(
                str(self._seq), lambda: handle_provisioning(self._deps, parsed, payload, client_id)
            )

    def stop(self) -> None:
        for workers in (self._shadow, self._provisioning, self._presence):
            workers.stop()


@dataclass(frozen=True)
class _Out:
    topic: str
    payload: dict[str, object]


def _result(reply: Reply) -> str:
    return "accepted" if reply.accepted else "rejected"
