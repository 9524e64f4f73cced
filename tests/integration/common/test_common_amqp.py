"""The AMQP adapter against the real RabbitMQ: confirms, manual acks, dead-lettering."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pika
import pytest
from msm_common.adapters import amqp, amqp_topology
from msm_common.adapters.amqp_topology import QueueSpec

pytestmark = pytest.mark.integration


def _queue(amqp_url: str, spec: QueueSpec) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    amqp_topology.declare(conn.channel(), (spec,))
    conn.close()


def _drain(amqp_url: str, queue: str, want: int, timeout: float = 10.0) -> list[bytes]:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        got.append(body)
    conn.close()
    return got


@pytest.fixture
def publisher(amqp_url: str):
    pub = amqp.ConfirmingPublisher(amqp_url, name="test").start(timeout=15)
    assert pub.ready
    yield pub
    pub.close()


def test_confirmed_publish_lands_on_a_bound_queue(amqp_url: str, publisher) -> None:
    spec = QueueSpec("t.events.confirm", amqp_topology.EVENTS_EXCHANGE, ("telemetry.received.#",))
    _queue(amqp_url, spec)
    msgs = [
        amqp.OutgoingMessage(
            amqp_topology.EVENTS_EXCHANGE, f"telemetry.received.dev-{i}", b"%d" % i
        )
        for i in range(500)
    ]
    confirmed = publisher.publish_confirmed(msgs, timeout=30)

    assert all(confirmed)
    bodies = _drain(amqp_url, spec.name, 500)
    assert sorted(int(b) for b in bodies) == list(range(500))


def test_publish_without_a_connection_is_reported_not_lost_silently() -> None:
    pub = amqp.ConfirmingPublisher("amqp://guest:guest@127.0.0.1:1/%2F").start(timeout=0.5)
    try:
        msg = amqp.OutgoingMessage(amqp_topology.EVENTS_EXCHANGE, "x", b"{}")
        assert pub.publish_confirmed([msg], timeout=1) == [False]
    finally:
        pub.close()


def _dead_letters(amqp_url: str, spec: QueueSpec) -> QueueSpec:
    """A queue of our own for what `spec`'s queue dead-letters, declared."""
    dlq = QueueSpec(
        spec.name.replace(".commands.", ".dead."),
        amqp_topology.DEAD_LETTER_EXCHANGE,
        (f"dead.{spec.name}",),
        dead_letter=False,
    )
    _queue(amqp_url, dlq)
    return dlq


@contextlib.contextmanager
def _consuming(amqp_url: str, spec: QueueSpec, handle, **options) -> Iterator[amqp.Consumer]:
    """A consumer of `spec` with `handle`, connected; stopped (its thread ended) afterwards."""
    consumer = amqp.Consumer(amqp_url, [(spec, handle)], name="test", **options)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        assert consumer.connected.wait(15)
        yield consumer
    finally:
        consumer.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_consumer_acks_good_messages_and_dead_letters_poison(amqp_url: str, publisher) -> None:
    spec = QueueSpec("t.commands.poison", amqp_topology.COMMANDS_EXCHANGE, ("t.poison",))
    dlq = _dead_letters(amqp_url, spec)
    seen: list[bytes] = []
    done = threading.Event()

    def handle(_method, body: bytes, _props) -> None:
        if body == b"poison":
            raise amqp.PoisonMessage("cannot be parsed")
        seen.append(body)
        if len(seen) == 2:
            done.set()

    with _consuming(amqp_url, spec, handle, prefetch=10):
        msgs = [
            amqp.OutgoingMessage(amqp_topology.COMMANDS_EXCHANGE, "t.poison", b)
            for b in (b"one", b"poison", b"two")
        ]
        assert all(publisher.publish_confirmed(msgs))

        assert done.wait(10)
        assert seen == [b"one", b"two"]
        assert _drain(amqp_url, dlq.name, 1) == [b"poison"]


def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue(
    amqp_url: str, publisher
) -> None:
    spec = QueueSpec(
        "t.commands.flaky", amqp_topology.COMMANDS_EXCHANGE, ("t.flaky",), delivery_limit=2
    )
    dlq = _dead_letters(amqp_url, spec)
    attempts: list[int] = []

    def handle(_method, _body: bytes, _props) -> None:
        attempts.append(1)
        raise RuntimeError("database down")

    with _consuming(amqp_url, spec, handle):
        message = amqp.OutgoingMessage(amqp_topology.COMMANDS_EXCHANGE, "t.flaky", b"x")
        assert all(publisher.publish_confirmed([message]))

        assert _drain(amqp_url, dlq.name, 1, timeout=20) == [b"x"]
        assert len(attempts) == 3  # first delivery + two redeliveries, then dead-lettered


def test_batches_from_several_threads_are_each_confirmed_whole(amqp_url: str, publisher) -> None:
    msgs = [amqp.OutgoingMessage(amqp_topology.EVENTS_EXCHANGE, "nobody.bound", b"x")] * 300
    results: list[list[bool]] = []
    futures = publisher.publish_async(msgs[:50])

    def send() -> None:
        results.append(publisher.publish_batch(msgs).wait(30))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [len(r) for r in results] == [300] * 4 and all(all(r) for r in results)
    assert all(f.result(timeout=10) is None for f in futures)
