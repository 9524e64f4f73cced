"""The pipeline with in-memory fakes: what is stored, published and acknowledged, and when."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from ingest_fakes import (
    NOW,
    FakePublisher,
    FakeStore,
    make_pipeline,
    metric,
    ms,
)
from support.readings import telemetry_payload
from support.waiting import wait_for

T0 = ms(NOW - timedelta(minutes=5))


@pytest.fixture
def running(store: FakeStore, publisher: FakePublisher):
    pipelines = []

    def start(**config):
        p = make_pipeline(store, publisher, **config).start()
        pipelines.append(p)
        return p

    yield start
    for p in pipelines:
        p.stop(2.0)


def test_telemetry_is_stored_once_published_and_acked(running, store, publisher, acks):
    pipeline = running()
    for i in range(10):
        pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i * 1000)))
    wait_for("10 acks", lambda: acks.acked == 10, 5)
    assert len(store.rows) == 30
    assert all(r["processed"] for r in store.rows.values())  # written once, never updated
    assert store.outbox == {}  # every event confirmed: no outbox write at all
    assert sorted(publisher.reading_ids("telemetry.received.dev-1")) == sorted(store.rows)
    assert len(publisher.ids("telemetry.received.dev-1")) == 10  # one event per message
    last = store.device_writes[-1]
    assert last.device_uuid == "dev-1"
    assert set(last.update["$max"]) == {"last_seen", "latest.0:A", "latest.0:B", "latest.0:C"}


def test_a_redelivered_message_is_a_duplicate_not_a_second_row(running, store, acks):
    pipeline = running()
    payload = telemetry_payload(T0)
    pipeline.submit(acks.delivery("msm/dev-1/telemetry", payload))
    wait_for("1 ack", lambda: acks.acked == 1, 5)
    pipeline.submit(acks.delivery("msm/dev-1/telemetry", payload))
    wait_for("2 acks", lambda: acks.acked == 2, 5)
    assert len(store.rows) == 3
    wait_for(
        "the duplicate counted",
        lambda: (
            metric(pipeline, "msm_ingest_messages_total", kind="telemetry", outcome="duplicate")
            == 1
        ),
        5,
    )


BAD_INPUTS = {
    "1 MB of garbage": (b"\x8f\x00garbage" * 110_000, "too_large"),
    "invalid UTF-8": (b'{"timestamp": "\xff\xfe", "channel_id": 0}', "invalid_encoding"),
    "JSON bomb": (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    "NaN": (
        b'{"timestamp": 1748779200000, "channel_id": 0, "phase": "A", "temperature": NaN}',
        "non_finite_number",
    ),
    "Infinity": (
        b'{"timestamp": 1748779200000, "channel_id": 0, "phase": "A", '
        b'"temperature": 25, "line_voltage": Infinity}',
        "non_finite_number",
    ),
    "wrong-typed field": (telemetry_payload(T0, current="5 A"), "field_invalid"),
    "not an object": (b"[1, 2, 3]", "not_an_object"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_is_quarantined_acked_and_the_next_message_still_stored(
    name, running, store, acks
):
    payload, reason = BAD_INPUTS[name]
    pipeline = running()
    pipeline.submit(acks.delivery("msm/dev-bad/telemetry", payload))
    pipeline.submit(acks.delivery("msm/dev-good/telemetry", telemetry_payload(T0)))
    wait_for("2 acks", lambda: acks.acked == 2, 5)
    [record] = store.rejected
    assert record["reason"] == reason
    assert record["topic"] == "msm/dev-bad/telemetry"
    assert record["size"] == len(payload)
    assert record["payload"] == payload[:4096]
    assert len(store.rows) == 3
    assert metric(pipeline, "msm_ingest_rejected_total", reason=reason) == 1


def test_unknown_topic_is_quarantined(running, store, acks):
    pipeline = running()
    pipeline.submit(acks.delivery("msm/dev-1/firmware", b"{}"))
    wait_for("1 ack", lambda: acks.acked == 1, 5)
    assert store.rejected[0]["reason"] == "unknown_topic"


def test_unknown_device_is_stored_by_default(running, store, acks):
    pipeline = running()
    pipeline.submit(acks.delivery("msm/never-seen/telemetry", telemetry_payload(T0)))
    wait_for("1 ack", lambda: acks.acked == 1, 5)
    assert len(store.rows) == 3
    assert store.device_writes[0].device_uuid == "never-seen"


def test_unknown_device_is_quarantined_when_known_devices_are_required(running, store, acks):
    store.known = {"registered"}
    pipeline = running(require_known_device=True)
    pipeline.submit(acks.delivery("msm/never-seen/telemetry", telemetry_payload(T0)))
    pipeline.submit(acks.delivery("msm/registered/telemetry", telemetry_payload(T0)))
    wait_for("2 acks", lambda: acks.acked == 2, 5)
    assert [r["reason"] for r in store.rejected] == ["unknown_device"]
    assert {r["device_uuid"] for r in store.rows.values()} == {"registered"}


def test_store_outage_holds_acks_until_the_write_succeeds(running, store, acks):
    store.failures["insert_readings"] = 4  # ~1.5 s of backoff
    pipeline = running()
    for i in range(5):
        pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i)))
    with pytest.raises(TimeoutError):
        wait_for("an ack", lambda: acks.acked > 0, 0.5)
    wait_for("5 acks", lambda: acks.acked == 5, 10)
    assert len(store.rows) == 15
    assert metric(pipeline, "msm_ingest_store_retries_total") == 4
    assert acks.twice() == 0


def test_a_write_retried_after_a_failure_still_publishes_every_reading(
    running, store, publisher, acks
):
    # The first attempt may have stored rows before failing: they are this batch's, not dups.
    store.failures["update_devices"] = 1
    pipeline = running()
    pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0)))
    wait_for("1 ack", lambda: acks.acked == 1, 5)
    wait_for("3 readings announced", lambda: len(publisher.reading_ids()) == 3, 5)


def test_cloud_command_echo_is_skipped(running, store, publisher, acks):
    pipeline = running()
    echo = orjson.dumps({"command_id": "c1", "type": "reboot", "origin": "cloud"})
    pipeline.submit(acks.delivery("msm/dev-1/reboot", echo))
    wait_for("1 ack", lambda: acks.acked == 1, 5)
    assert publisher.sent == [] and store.rejected == []


def test_batches_close_by_count_and_by_time(running, store, acks):
    pipeline = running(batch_max=5, batch_max_wait_s=0.2)
    for i in range(12):
        pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i, phases="A")))
    wait_for("12 acks", lambda: acks.acked == 12, 5)
    assert store.insert_sizes[:2] == [5, 5]
    assert sum(store.insert_sizes) == 12  # the last 2 went when their time was up


def test_stop_flushes_what_is_queued_and_acks_it(store, publisher, acks):
    pipeline = make_pipeline(store, publisher, batch_max=3).start()
    for i in range(20):
        pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i, phases="A")))
    assert pipeline.stop(5.0)
    assert acks.acked == 20 and len(store.rows) == 20


def test_stop_gives_up_on_a_dead_store_and_acks_nothing(store, publisher, acks):
    store.failures["insert_readings"] = 10**6
    pipeline = make_pipeline(store, publisher).start()
    pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0)))
    assert not pipeline.stop(1.0) or acks.acked == 0
    assert acks.acked == 0


def test_a_failing_shadow_endpoint_never_holds_up_storage(store, publisher, acks):
    from msm_ingest.metrics import IngestMetrics
    from msm_ingest.ports import ShadowError
    from msm_ingest.shadow import ShadowUpdater

    class DownShadow:
        calls = 0

        def update_reported(self, thing, reported):
            DownShadow.calls += 1
            raise ShadowError("endpoint down")

    metrics = IngestMetrics()
    shadow = ShadowUpdater(DownShadow(), metrics, min_interval_s=0).start()
    pipeline = make_pipeline(store, publisher, shadow=shadow).start()
    try:
        for i in range(5):
            pipeline.submit(acks.delivery(f"msm/dev-{i}/telemetry", telemetry_payload(T0)))
        wait_for("5 acks", lambda: acks.acked == 5, 5)
        wait_for("5 shadow updates tried", lambda: DownShadow.calls == 5, 5)
    finally:
        pipeline.stop(2.0)
        shadow.stop()
    assert len(store.rows) == 15
    assert (
        metrics.registry.get_sample_value("msm_ingest_shadow_updates_total", {"outcome": "failed"})
        == 5
    )


def test_a_burst_larger_than_a_batch_is_split_and_every_message_acked(store, publisher, acks):
    pipeline = make_pipeline(store, publisher, batch_max=10).start()
    try:
        burst = [
            acks.delivery(f"msm/dev-{i % 3}/telemetry", telemetry_payload(T0 + i, phases="A"))
            for i in range(25)
        ]
        pipeline.submit_many(burst)
        pipeline.submit_many([])
        wait_for("25 acks", lambda: acks.acked == 25, 5)
    finally:
        pipeline.stop(2.0)
    assert len(store.rows) == 25
    assert max(store.insert_sizes) <= 10 and sum(store.insert_sizes) == 25
    assert pipeline._queued == 0


def test_the_mqtt_sink_never_blocks_even_past_the_queue_limit(store, publisher, acks):
    # After a reconnect the broker resends what the old connection left unacknowledged while
    # those deliveries are still queued: the network thread must not wait for room.
    pipeline = make_pipeline(store, publisher, queue_max=2)  # not started: nothing drains
    burst = [acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i)) for i in range(5)]
    pipeline.enqueue_many(burst)  # returns at once
    assert pipeline._queued == 5
    pipeline.start()
    try:
        wait_for("5 acks", lambda: acks.acked == 5, 5)
    finally:
        pipeline.stop(2.0)


def test_a_poller_waits_for_room_and_goes_on_once_the_worker_takes_a_batch(store, publisher, acks):
    import threading

    pipeline = make_pipeline(store, publisher, queue_max=3, batch_max=3)  # not started yet
    first = [acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i)) for i in range(3)]
    more = [acks.delivery("msm/dev-2/telemetry", telemetry_payload(T0 + i)) for i in range(3)]
    pipeline.submit_many(first)  # fills the queue
    poller = threading.Thread(target=pipeline.submit_many, args=(more,), daemon=True)
    poller.start()
    poller.join(0.3)
    assert poller.is_alive()  # full: the SQS poller waits (back-pressure)
    pipeline.start()
    try:
        poller.join(5)
        assert not poller.is_alive()
        wait_for("6 acks", lambda: acks.acked == 6, 5)
    finally:
        pipeline.stop(2.0)
    assert len(store.rows) == 6 * 3
