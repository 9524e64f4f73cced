"""The device, command and config views' success paths on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from api_fakes import Fakes
from api_store_fake import InMemoryApiStore
from msm_common.contracts.command_request import CommandRequest
from support.command_samples import MQTT, NTP

DEVICE = "meter-0001"
SEEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(api_store: InMemoryApiStore) -> InMemoryApiStore:
    api_store.devices[DEVICE] = {
        "_id": DEVICE,
        "device_imei": "356938035643809",
        "connectivity": {"connected": True, "since": SEEN},
        "last_seen": SEEN,
        "firmware_version": "2.3.1",
        "mqtt_status": True,
        "latest": {"1:L1": {"timestamp": SEEN, "line_voltage": 230.1}},
    }
    return api_store


@pytest.fixture
def client(store_app: Any, store: InMemoryApiStore) -> Any:
    return store_app.test_client()


def published(store_app: Any) -> list[CommandRequest]:
    publisher = store_app.extensions["msm"].publisher
    return [CommandRequest.from_json(body) for body, _ in publisher.sent]


def test_a_device_is_shown_with_its_uuid_and_online_flag(client: Any, bearer: Any) -> None:
    resp = client.get(f"/api/devices/{DEVICE}", headers=bearer("viewer"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["device_uuid"], body["online"], body["device_imei"]) == (
        DEVICE,
        True,
        "356938035643809",
    )
    assert "latest" not in body


def test_an_unknown_device_is_404(client: Any, bearer: Any) -> None:
    assert client.get("/api/devices/nobody", headers=bearer("viewer")).status_code == 404


def test_status_shows_latest_readings_newer_telemetry_and_pending_commands(
    client: Any, bearer: Any, store: InMemoryApiStore, fakes: Fakes
) -> None:
    # Rows newer than the document's `latest` show; older ones were merged into it already.
    row = {"device_uuid": DEVICE, "phase": "L1", "line_voltage": 229.0}
    fakes.telemetry.add(
        [
            {**row, "channel_id": 2, "timestamp": SEEN + timedelta(seconds=5)},
            {**row, "channel_id": 3, "timestamp": SEEN},
        ]
    )
    sent = client.post(f"/api/devices/{DEVICE}/reboot", headers=bearer("operator"))
    assert sent.status_code == 202
    body = client.get(f"/api/devices/{DEVICE}/status", headers=bearer("viewer")).get_json()
    assert body["online"] is True and body["mqtt_status"] is True
    assert [(r["channel_id"], r["line_voltage"]) for r in body["latest"]] == [
        (1, 230.1),
        (2, 229.0),
    ]
    [pending] = body["pending_commands"]
    assert (pending["command_id"], pending["status"]) == (sent.get_json()["command_id"], "queued")


def test_a_command_request_is_stored_queued_and_published(
    store_app: Any, client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    resp = client.post(f"/api/devices/{DEVICE}/ntp", json=NTP, headers=bearer("operator"))
    assert resp.status_code == 202
    command_id = resp.get_json()["command_id"]
    assert resp.headers["Location"] == f"/api/commands/{command_id}"
    assert store.commands[command_id]["status"] == "queued"
    [request] = published(store_app)
    assert (request.command_id, request.device_uuid, request.params) == (command_id, DEVICE, NTP)


def test_a_secret_is_stored_and_published_sealed_never_shown(
    store_app: Any, client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    resp = client.post(f"/api/devices/{DEVICE}/mqtt", json=MQTT, headers=bearer("operator"))
    command_id = resp.get_json()["command_id"]
    assert "mqtt-secret" not in orjson.dumps(store.commands[command_id]).decode()
    assert published(store_app)[0].params["broker_password"] != "mqtt-secret"
    shown = client.get(f"/api/commands/{command_id}", headers=bearer("viewer")).get_json()
    assert "mqtt-secret" not in orjson.dumps(shown).decode()


def test_a_replayed_idempotency_key_returns_the_same_command(
    store_app: Any, client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    headers = {**bearer("operator"), "Idempotency-Key": "reboot-once"}
    first = client.post(f"/api/devices/{DEVICE}/reboot", headers=headers)
    again = client.post(f"/api/devices/{DEVICE}/reboot", headers=headers)
    assert again.status_code == 202
    assert again.get_json()["command_id"] == first.get_json()["command_id"]
    assert len(store.commands) == 1 and len(published(store_app)) == 1


def test_a_command_the_broker_did_not_confirm_is_failed_and_503(
    store_app: Any, client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    store_app.extensions["msm"].publisher.ok = False
    resp = client.post(f"/api/devices/{DEVICE}/reboot", headers=bearer("operator"))
    assert resp.status_code == 503
    [doc] = store.commands.values()
    assert doc["status"] == "failed"


def test_a_command_is_shown_with_its_history(client: Any, bearer: Any) -> None:
    command_id = client.post(
        f"/api/devices/{DEVICE}/reboot", headers=bearer("operator")
    ).get_json()["command_id"]
    body = client.get(f"/api/commands/{command_id}", headers=bearer("viewer")).get_json()
    assert (body["command_id"], body["device_uuid"], body["type"]) == (command_id, DEVICE, "reboot")
    assert [h["status"] for h in body["history"]] == ["queued"]


def test_a_queued_command_is_cancelled_once(
    client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    command_id = client.post(
        f"/api/devices/{DEVICE}/reboot", headers=bearer("operator")
    ).get_json()["command_id"]
    resp = client.post(f"/api/commands/{command_id}/cancel", headers=bearer("operator"))
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert store.commands[command_id]["status"] == "cancelled"
    again = client.post(f"/api/commands/{command_id}/cancel", headers=bearer("operator"))
    assert again.status_code == 409


def test_configs_list_each_devices_config_without_secrets_with_its_last_command(
    client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    command_id = client.post(
        f"/api/devices/{DEVICE}/mqtt", json=MQTT, headers=bearer("operator")
    ).get_json()["command_id"]
    store.configs["mqtt"] = {
        DEVICE: {"device_uuid": DEVICE, **MQTT, "updated_at": SEEN, "command_id": "c-0"},
        "meter-0002": {"device_uuid": "meter-0002", **MQTT, "updated_at": SEEN},
    }
    page = client.get("/api/mqtt?limit=1", headers=bearer("viewer")).get_json()
    [item] = page["items"]
    assert (item["device_uuid"], item["broker_ip"], item["configured"]) == (
        DEVICE,
        "10.1.2.3",
        True,
    )
    assert "broker_password" not in item and item["broker_password_set"] is True
    assert item["latest_command"]["command_id"] == command_id
    rest = client.get(f"/api/mqtt?cursor={page['next_cursor']}", headers=bearer("viewer"))
    assert [x["device_uuid"] for x in rest.get_json()["items"]] == ["meter-0002"]


def test_configs_of_one_device(client: Any, bearer: Any, store: InMemoryApiStore) -> None:
    store.configs["ntp"] = {DEVICE: {"device_uuid": DEVICE, **NTP, "updated_at": SEEN}}
    body = client.get(f"/api/ntp?device_uuid={DEVICE}", headers=bearer("viewer")).get_json()
    assert [x["server_1"] for x in body["items"]] == ["pool.ntp.org"]


def test_devices_are_listed_in_pages_filtered_by_presence_and_text(
    client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    for n in (2, 3):
        store.devices[f"meter-000{n}"] = {
            "_id": f"meter-000{n}",
            "device_imei": f"35693803564381{n}",
        }
    headers = bearer("viewer")
    first = client.get("/api/devices?limit=2", headers=headers).get_json()
    assert [x["device_uuid"] for x in first["items"]] == [DEVICE, "meter-0002"]
    rest = client.get(f"/api/devices?cursor={first['next_cursor']}", headers=headers).get_json()
    assert [x["device_uuid"] for x in rest["items"]] == ["meter-0003"]
    assert rest["next_cursor"] is None
    online = client.get("/api/devices?online=true", headers=headers).get_json()
    assert [x["device_uuid"] for x in online["items"]] == [DEVICE]
    found = client.get("/api/devices?q=643813", headers=headers).get_json()
    assert [x["device_uuid"] for x in found["items"]] == ["meter-0003"]


def test_a_devices_commands_come_newest_first_in_pages(
    client: Any, bearer: Any, store: InMemoryApiStore
) -> None:
    operator = bearer("operator")
    ids = [
        client.post(f"/api/devices/{DEVICE}/reboot", headers=operator).get_json()["command_id"]
        for _ in range(3)
    ]
    newest_first = sorted(ids, key=lambda c: (store.commands[c]["created_at"], c), reverse=True)
    headers = bearer("viewer")
    first = client.get(f"/api/devices/{DEVICE}/commands?limit=2", headers=headers).get_json()
    cursor = first["next_cursor"]
    rest = client.get(f"/api/devices/{DEVICE}/commands?cursor={cursor}", headers=headers)
    seen = [x["command_id"] for x in first["items"] + rest.get_json()["items"]]
    assert seen == newest_first


def test_latest_readings_per_device(client: Any, bearer: Any, store: InMemoryApiStore) -> None:
    store.devices["meter-0002"] = {"_id": "meter-0002"}
    headers = bearer("viewer")
    body = client.get("/api/telemetry/latest?limit=1", headers=headers).get_json()
    [item] = body["items"]
    assert item["device_uuid"] == DEVICE
    assert [(r["channel_id"], r["phase"], r["line_voltage"]) for r in item["readings"]] == [
        (1, "L1", 230.1)
    ]
    rest = client.get(f"/api/telemetry/latest?cursor={body['next_cursor']}", headers=headers)
    assert [x["device_uuid"] for x in rest.get_json()["items"]] == ["meter-0002"]
    one = client.get(f"/api/telemetry/latest?device_uuid={DEVICE}", headers=headers).get_json()
    assert [x["device_uuid"] for x in one["items"]] == [DEVICE]
