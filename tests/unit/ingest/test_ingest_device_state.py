"""Coalesced device state: last_seen and latest readings written at most once per device per
interval, at once on a first message or a connectivity change, and never left behind."""

from __future__ import annotations

from datetime import timedelta

from ingest_fakes import NOW, Clock, make_pipeline, ms
from msm_common.contracts import Reading
from msm_ingest.domain.device_state import DeviceStateCoalescer
from support.readings import telemetry_payload
from support.waiting import wait_for


def reading(at_s: float, phase: str = "A") -> Reading:
    return Reading("dev-1", NOW + timedelta(seconds=at_s), 0, phase, 25.0, 230.0, 5.0, 1000.0, 1.0)


def test_a_device_sending_every_second_is_written_once_per_interval_and_stays_current():
    state = DeviceStateCoalescer(interval_s=60)
    writes = []
    for second in range(0, 181):  # a meter sending every second for three minutes
        r = reading(second)
        state.observe({"dev-1": {"0:A": r}}, {"dev-1": r.timestamp}, now=float(second))
        writes += [(second, w) for w in state.take_due(float(second), NOW)]
    assert [at for at, _ in writes] == [0, 60, 120, 180]  # first message, then once per interval
    for at, write in writes:  # each write carries the newest reading and last_seen of its time
        assert write.update["$max"]["last_seen"] == NOW + timedelta(seconds=at)
        assert write.update["$max"]["latest.0:A"]["timestamp"] == NOW + timedelta(seconds=at)


def test_what_a_device_sent_after_its_last_write_is_written_one_interval_later():
    state = DeviceStateCoalescer(interval_s=60)
    first, last = reading(0), reading(30)
    state.observe({"dev-1": {"0:A": first}}, {"dev-1": first.timestamp}, now=0.0)
    assert len(state.take_due(0.0, NOW)) == 1
    state.observe({"dev-1": {"0:A": last}}, {"dev-1": last.timestamp}, now=30.0)
    assert state.take_due(59.0, NOW) == []  # then the device goes quiet
    [write] = state.take_due(60.0, NOW)
    assert write.update["$max"]["last_seen"] == last.timestamp


def test_a_connectivity_change_writes_the_held_state_at_once():
    state = DeviceStateCoalescer(interval_s=60)
    for at in (0, 10):
        r = reading(at)
        state.observe({"dev-1": {"0:A": r}}, {"dev-1": r.timestamp}, now=float(at))
        state.take_due(float(at), NOW)
    state.changed("dev-1", now=11.0)
    [write] = state.take_due(11.0, NOW)
    assert write.update["$max"]["last_seen"] == reading(10).timestamp


def test_a_device_silent_longer_than_the_interval_is_written_at_once_again():
    state = DeviceStateCoalescer(interval_s=60)
    for at in (0, 500):
        r = reading(at)
        state.observe({"dev-1": {"0:A": r}}, {"dev-1": r.timestamp}, now=float(at))
        assert len(state.take_due(float(at), NOW)) == 1


def test_the_pipeline_writes_a_device_once_per_interval_and_flushes_when_idle(
    store, publisher, acks
):
    clock = Clock()
    pipeline = make_pipeline(store, publisher, interval_s=60, mono=clock).start()
    t0 = ms(NOW - timedelta(minutes=5))
    try:
        for i in range(20):  # one message a second for 20 s, each in a batch of its own
            clock.now += 1
            pipeline.submit(acks.delivery("msm/dev-1/telemetry", telemetry_payload(t0 + i * 1000)))
            wait_for("the next ack", lambda i=i: acks.acked == i + 1, 5)
        assert len(store.device_writes) == 1  # the first message
        clock.now += 60  # no more messages: the held state still goes out within the interval
        wait_for("2 device writes", lambda: len(store.device_writes) == 2, 5)
    finally:
        pipeline.stop(2.0)
    newest = store.device_writes[-1].update["$max"]
    assert newest["latest.0:A"]["timestamp"].timestamp() * 1000 == t0 + 19_000
    assert len(store.rows) == 60
