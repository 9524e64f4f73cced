"""Outages of MongoDB and RabbitMQ, made real by cutting a TCP proxy in front of each."""

from __future__ import annotations

import urllib.parse

import pytest
from ingest_it_support import (
    ListSource,
    TcpProxy,
    now_ms,
    proxied_mongo,
    running,
    settings_for,
)
from support.event_tap import EventTap
from support.readings import telemetry_payload
from support.services import unique
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_database_outage_stops_acks_and_nothing_is_lost(endpoints, mongo_db, amqp_url):
    proxy, uri = proxied_mongo(endpoints, mongo_db.name)
    settings = settings_for(endpoints, mongo_db.name, amqp_url, mongo_uri=uri, mongo_timeout_ms=500)
    source = ListSource()
    device = unique("itdbdown")
    t0 = now_ms() - 1000
    try:
        with running(settings, source=source) as ingest:
            source.feed(f"msm/{device}/telemetry", telemetry_payload(t0))
            wait_for("1 ack", lambda: source.acks == 1, 15)
            proxy.down()
            for i in range(1, 21):
                source.feed(f"msm/{device}/telemetry", telemetry_payload(t0 + i))
            with pytest.raises(TimeoutError):
                wait_for("another ack", lambda: source.acks > 1, 2.0)  # nothing durable: no ack
            assert ingest.metrics.registry.get_sample_value("msm_ingest_store_retries_total") > 0
            proxy.up()
            wait_for("21 acks", lambda: source.acks == 21, 20)
    finally:
        proxy.close()
    assert mongo_db.telemetry.count_documents({}) == 63
    assert max(source.acked.values()) == 1


def test_broker_outage_keeps_storing_and_events_catch_up(endpoints, mongo_db, amqp_url):
    parsed = urllib.parse.urlsplit(amqp_url)
    proxy = TcpProxy(parsed.port or 5672)
    proxied = urllib.parse.urlunsplit(parsed._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    device = unique("itmqdown")
    tap = EventTap(amqp_url, [f"telemetry.received.{device}", f"command.ack.{device}"])
    settings = settings_for(endpoints, mongo_db.name, proxied)
    source = ListSource()
    t0 = now_ms() - 1000
    try:
        with running(settings, source=source):
            proxy.down()
            for i in range(10):
                source.feed(f"msm/{device}/telemetry", telemetry_payload(t0 + i))
            source.feed(f"msm/{device}/sftp", b'{"command_id": "c-9", "status": "failed"}')
            wait_for("11 acks", lambda: source.acks == 11, 15)  # durable in MongoDB (rows, outbox)
            assert mongo_db.telemetry.count_documents({}) == 30
            held = [
                rid
                for entry in mongo_db.ingest_event_outbox.find()
                for ids in entry["telemetry"]
                for rid in ids
            ]
            assert sorted(held) == sorted(r["_id"] for r in mongo_db.telemetry.find({}, {"_id": 1}))
            proxy.up()
            events = tap.wait(11, timeout=30)  # 10 telemetry events (one per message), 1 ack
            wait_for(
                "an empty outbox", lambda: mongo_db.ingest_event_outbox.count_documents({}) == 0, 15
            )
    finally:
        proxy.close()
        tap.close()
    ids = [
        r["reading_id"]
        for e in events
        if e["type"] == "msm.telemetry.received"
        for r in e["data"]["readings"]
    ]
    assert set(ids) == {r["_id"] for r in mongo_db.telemetry.find({}, {"_id": 1})}
    assert [e["data"]["command_id"] for e in events if e["type"] == "msm.command.ack"] == ["c-9"]
