"""A saturated pipeline keeps its MQTT connection, and device state is coalesced per interval.

Backlog: a store that takes far longer per batch than the keep-alive, a small receive maximum,
and many more messages queued on the broker than the pipeline holds. paho's network thread only
enqueues (the broker stops at the receive maximum), so it keeps answering keep-alives while the
worker is stuck in the store: no disconnect, and everything is stored once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from ingest_it_support import Meter, now_ms, running, settings_for
from msm_api.adapters.telemetry import with_newer_rows
from msm_ingest.adapters.mongo_store import MongoStore
from support.readings import telemetry_payload
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


class SlowStore(MongoStore):
    """The real store, with every row insert taking `delay` seconds longer."""

    def __init__(self, db, delay: float) -> None:
        super().__init__(db)
        self.delay = delay

    def insert_readings(self, docs):
        time.sleep(self.delay)
        return super().insert_readings(docs)


def test_keep_alive_holds_while_a_slow_store_saturates_the_pipeline(endpoints, mongo_db, amqp_url):
    device = unique("itbacklog")
    settings = settings_for(
        endpoints,
        mongo_db.name,
        amqp_url,
        subscribe_devices=device,
        mqtt_keepalive_s=1,  # the broker drops a client silent for 1.5 s
        receive_maximum=20,
        batch_max=20,
    )
    meter = Meter(endpoints)
    t0 = now_ms() - 600_000
    try:
        with running(settings, store=SlowStore(mongo_db, delay=1.0)) as ingest:
            for i in range(120):  # six batches of 20: ~6 s of a store stuck 1 s per batch
                meter.conn.publish(f"msm/{device}/telemetry", telemetry_payload(t0 + i * 1000), 1)
            wait_for(
                "360 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 360, 60
            )
            assert ingest.source.ready()
            assert ingest.source.disconnects == 0  # keep-alive serviced all along
    finally:
        meter.close()
    assert mongo_db.telemetry.count_documents({}) == 360


def test_a_device_sending_often_is_written_once_per_interval_and_reads_stay_current(
    endpoints, mongo_db, amqp_url
):
    device = unique("itcoalesce")
    settings = settings_for(
        endpoints, mongo_db.name, amqp_url, subscribe_devices=device, device_state_interval_s=2
    )
    meter = Meter(endpoints)
    t0 = now_ms() - 60_000
    try:
        with running(settings) as ingest:
            started = time.monotonic()
            for i in range(17):  # four messages a second for four seconds
                meter.publish(
                    f"msm/{device}/telemetry", telemetry_payload(t0 + i * 250, active_power=i)
                )
                time.sleep(max(0.0, started + (i + 1) * 0.25 - time.monotonic()))
            wait_for("51 telemetry rows", lambda: mongo_db.telemetry.count_documents({}) == 51, 15)
            writes = ingest.metrics.registry.get_sample_value(
                "msm_ingest_device_state_writes_total"
            )
            assert 2 <= writes <= 4  # at 0 s, 2 s, 4 s: not 17
            doc = mongo_db.devices.find_one({"_id": device})
            # What the API shows: last_seen at most one interval old, the newest reading itself.
            assert datetime.now(UTC) - doc["last_seen"] < timedelta(seconds=2 + 1)
            latest = with_newer_rows(mongo_db, device, doc["latest"])
            assert latest["0:A"]["active_power"] == 16.0
    finally:
        meter.close()
