"""The per-batch outbox: what RabbitMQ did not confirm is held in one entry per batch and
republished until it is; nothing stored goes unannounced, nothing is announced twice."""

from __future__ import annotations

from datetime import timedelta

import orjson
from ingest_fakes import (
    NOW,
    FakeConfirmation,
    FakePublisher,
    make_pipeline,
    make_recovery,
    ms,
    orphan_entry,
    stored_row,
)
from msm_common.contracts import telemetry_event_id
from msm_ingest.batch_writer import BatchWriter, Published
from msm_ingest.metrics import IngestMetrics
from support.readings import telemetry_payload
from support.waiting import wait_for

T0 = ms(NOW - timedelta(minutes=5))


class NacksDev2(FakePublisher):
    """The broker nacks every event of dev-2."""

    def publish(self, events):
        self.sent.extend(events)
        return FakeConfirmation([not e.routing_key.endswith(".dev-2") for e in events])


def test_an_unconfirmed_event_puts_exactly_its_readings_in_one_outbox_entry(store, acks):
    pipeline = make_pipeline(store, NacksDev2(), batch_max_wait_s=0.2).start()
    try:
        for device in ("dev-1", "dev-2", "dev-3"):
            pipeline.submit(acks.delivery(f"msm/{device}/telemetry", telemetry_payload(T0)))
        wait_for("3 acks", lambda: acks.acked == 3, 5)
    finally:
        pipeline.stop(2.0)
    [entry] = store.outbox.values()
    assert entry.telemetry == [[f"dev-2:0:{p}:{T0}" for p in "ABC"]]
    assert len(store.rows) == 9


def test_broker_outage_keeps_storing_and_recovery_announces_everything_once(store, acks):
    publisher = FakePublisher(ready=False)
    pipeline = make_pipeline(store, publisher).start()
    recovery = make_recovery(store, publisher, owner="test-owner")
    try:
        for i in range(4):
            pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(T0 + i)))
        wait_for("4 acks", lambda: acks.acked == 4, 5)  # stored and acked while RabbitMQ is down
        wait_for(
            "every stored row in the outbox",
            lambda: sorted(store.outbox_reading_ids()) == sorted(store.rows),
            5,
        )
        for entry in store.outbox.values():
            recovery.hold(entry, FakeConfirmation([False] * entry.size), list(range(entry.size)))
        assert recovery.run_once() == 0  # broker still down: nothing lost, nothing removed
        publisher.ready = True
        assert recovery.run_once() >= 1
    finally:
        pipeline.stop(2.0)
    assert store.outbox == {}
    assert sorted(publisher.reading_ids()) == sorted(store.rows)  # each reading exactly once


def test_command_acks_go_to_the_outbox_when_unconfirmed_and_are_acked_after(store, acks):
    pipeline = make_pipeline(store, FakePublisher(ready=False)).start()
    try:
        ack = orjson.dumps({"command_id": "c1", "status": "success"})
        pipeline.submit(acks.delivery("msm/dev-1/reboot", ack))
        wait_for("1 ack", lambda: acks.acked == 1, 5)
    finally:
        pipeline.stop(2.0)
    [event] = store.outbox_events()
    assert event.routing_key == "command.ack.dev-1"
    assert orjson.loads(event.body)["data"]["command_id"] == "c1"


def test_orphaned_entries_are_republished_with_the_same_event_ids(store, publisher):
    for phase in "ABC":
        store.rows[f"d:0:{phase}:1"] = stored_row(f"d:0:{phase}:1", phase=phase)
    group = [f"d:0:{p}:1" for p in "ABC"]
    store.outbox["old"] = orphan_entry("old", [group])
    store.outbox["young"] = orphan_entry("young", [["d:0:A:1"]], age_s=5)  # within the grace
    assert make_recovery(store, publisher).run_once() == 1
    assert publisher.ids() == [telemetry_event_id(group)]  # as the lost first publish had it
    assert list(store.outbox) == ["young"]


def test_a_replica_never_takes_its_own_entries_for_orphans(store, publisher):
    store.rows["d:0:A:1"] = stored_row("d:0:A:1")
    entry = orphan_entry("mine", [["d:0:A:1"]])
    entry.owner = "recovery-owner"
    store.outbox["mine"] = entry
    assert make_recovery(store, publisher).run_once() == 0
    assert publisher.sent == []


def test_an_own_entry_confirmed_late_is_removed_without_a_second_publish(store, publisher):
    store.rows["d:0:A:1"] = stored_row("d:0:A:1")
    entry = orphan_entry("late", [["d:0:A:1"]], age_s=0)
    store.outbox["late"] = entry
    first = FakeConfirmation([False], done=False)  # no answer yet within outbox_after
    recovery = make_recovery(store, publisher, confirm_timeout_s=60)
    recovery.hold(entry, first, [0])
    assert recovery.run_once() == 0 and "late" in store.outbox
    first.results, first.done = [True], True  # the broker confirms it after all
    assert recovery.run_once() == 1
    assert store.outbox == {} and publisher.sent == []


def test_settling_a_cut_connection_keeps_exactly_the_unanswered_events(store):
    writer = BatchWriter(store, FakePublisher(), IngestMetrics(), clock=lambda: NOW, owner="me")
    # Two telemetry events; the broker confirmed the first, then the connection was cut.
    published = Published("b1", FakeConfirmation([True, False]), [["r1", "r2"], ["r3"]], [], [])
    settled = writer.settle(published, 0.1, lambda _step, call: call())
    assert settled.entry is not None and settled.positions == [1]
    assert store.outbox["b1"].telemetry == [["r3"]]
    assert store.outbox["b1"].owner == "me"
