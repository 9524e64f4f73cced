from __future__ import annotations

import pytest
from api_helpers import AuthActions, add_device
from msm_common.contracts.command_request import CommandRequest
from support.api_publisher import FakePublisher

pytestmark = pytest.mark.integration

MQTT = {
    "broker_ip": "10.0.0.5",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "hunter2-secret",
    "data_interval": 60,
}


def test_list_filters_and_pages_devices(auth, client, mongo_db):
    for i in range(5):
        add_device(
            mongo_db,
            f"dev-{i}",
            device_imei=f"35693803564380{i}",
            connectivity={"connected": i % 2 == 0},
        )
    headers = auth.headers("viewer")
    page = client.get("/api/devices?limit=2", headers=headers).get_json()
    assert [d["device_uuid"] for d in page["items"]] == ["dev-0", "dev-1"]
    rest = client.get(f"/api/devices?limit=10&cursor={page['next_cursor']}", headers=headers)
    assert [d["device_uuid"] for d in rest.get_json()["items"]] == ["dev-2", "dev-3", "dev-4"]
    online = client.get("/api/devices?online=true", headers=headers).get_json()["items"]
    assert {d["device_uuid"] for d in online} == {"dev-0", "dev-2", "dev-4"}
    offline = client.get("/api/devices?online=false", headers=headers).get_json()["items"]
    assert {d["device_uuid"] for d in offline} == {"dev-1", "dev-3"}
    found = client.get("/api/devices?q=643803", headers=headers).get_json()["items"]
    assert [d["device_uuid"] for d in found] == ["dev-3"]
    assert client.get("/api/devices?q=.*", headers=headers).get_json()["items"] == []


def test_device_detail_and_status(auth, client, mongo_db):
    add_device(mongo_db, "dev-s")
    headers = auth.headers("viewer")
    assert client.get("/api/devices/nope", headers=headers).status_code == 404
    detail = client.get("/api/devices/dev-s", headers=headers).get_json()
    assert detail["device_imei"] == "356938035643809" and detail["online"] is True
    client.post("/api/devices/dev-s/reboot", json={}, headers=auth.headers("operator"))
    status = client.get("/api/devices/dev-s/status", headers=headers).get_json()
    assert status["online"] is True and status["firmware_version"] == "1.4.2"
    assert status["latest"][0]["channel_id"] == 1 and status["latest"][0]["line_voltage"] == 231.0
    assert [c["type"] for c in status["pending_commands"]] == ["reboot"]


def test_command_is_stored_queued_and_published(app, auth, client, mongo_db, publisher):
    add_device(mongo_db, "dev-c")
    resp = client.post("/api/devices/dev-c/mqtt", json=MQTT, headers=auth.headers("operator"))
    assert resp.status_code == 202
    body = resp.get_json()
    command_id = body["command_id"]
    assert resp.headers["Location"] == f"/api/commands/{command_id}"
    assert "hunter2-secret" not in resp.get_data(as_text=True)
    assert body["params"]["broker_password_set"] is True and body["status"] == "queued"
    stored = mongo_db["commands"].find_one({"_id": command_id})
    box = app.extensions["msm"].secrets  # stored and published sealed, opened by the commander
    assert stored["status"] == "queued" and box.open(stored["params"]["broker_password"]) == (
        "hunter2-secret"
    )
    assert stored["history"][0]["reason"] == "requested"
    assert stored["requested_by"] == "operator-user"
    ((sent, message_id),) = publisher.sent
    request = CommandRequest.from_json(sent)
    assert message_id == command_id and request.command_id == command_id
    assert request.device_uuid == "dev-c" and b"hunter2" not in sent
    assert request.params["broker_password"] == stored["params"]["broker_password"]
    shown = client.get(f"/api/commands/{command_id}", headers=auth.headers("viewer"))
    assert shown.status_code == 200 and "hunter2" not in shown.get_data(as_text=True)
    listed = client.get("/api/devices/dev-c/commands", headers=auth.headers("viewer")).get_json()
    assert [c["command_id"] for c in listed["items"]] == [command_id]


def test_unknown_device_is_404_and_nothing_is_stored(auth, client, mongo_db, publisher):
    resp = client.post(
        "/api/devices/ghost/ntp",
        json={"server_1": "pool.ntp.org"},
        headers=auth.headers("operator"),
    )
    assert resp.status_code == 404
    assert mongo_db["commands"].count_documents({}) == 0 and publisher.sent == []


def test_idempotency_key_returns_the_same_command(auth, client, mongo_db, publisher):
    add_device(mongo_db, "dev-i")
    headers = {**auth.headers("operator"), "Idempotency-Key": "req-42"}
    ntp = {"server_1": "pool.ntp.org"}
    first = client.post("/api/devices/dev-i/ntp", json=ntp, headers=headers)
    again = client.post("/api/devices/dev-i/ntp", json=ntp, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["command_id"] == again.get_json()["command_id"]
    assert mongo_db["commands"].count_documents({}) == 1 and len(publisher.sent) == 1
    other = client.post(
        "/api/devices/dev-i/ntp", json={"server_1": "time.example.com"}, headers=headers
    )
    assert other.status_code == 409 and other.get_json()["field"] == "Idempotency-Key"


def test_unconfirmed_publish_fails_the_command_and_frees_the_key(make_app, mongo_db):
    app = make_app(publisher=FakePublisher(ok=False))
    client = app.test_client()
    auth = AuthActions(app, client)
    add_device(mongo_db, "dev-f")
    headers = {**auth.headers("operator"), "Idempotency-Key": "k-1"}
    resp = client.post(
        "/api/devices/dev-f/sftp",
        headers=headers,
        json={
            "server_ip": "sftp.example.com",
            "server_port": 22,
            "username": "u",
            "password": "pw-secret",
            "data_interval": 300,
        },
    )
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    doc = mongo_db["commands"].find_one({})
    assert doc["status"] == "failed" and "password" not in doc["params"]
    assert "idempotency_key" not in doc


def test_cancel_only_a_queued_command(auth, client, mongo_db):
    add_device(mongo_db, "dev-x")
    operator = auth.headers("operator")
    first = client.post("/api/devices/dev-x/mqtt", json=MQTT, headers=operator).get_json()
    cancelled = client.post(f"/api/commands/{first['command_id']}/cancel", headers=operator)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    stored = mongo_db["commands"].find_one({"_id": first["command_id"]})
    assert "broker_password" not in stored["params"]
    assert [h["status"] for h in stored["history"]] == ["queued", "cancelled"]
    second = client.post("/api/devices/dev-x/reboot", headers=operator).get_json()
    mongo_db["commands"].update_one({"_id": second["command_id"]}, {"$set": {"status": "sent"}})
    conflict = client.post(f"/api/commands/{second['command_id']}/cancel", headers=operator)
    assert conflict.status_code == 409
    assert client.post("/api/commands/nope/cancel", headers=operator).status_code == 404
    assert (
        client.post(
            f"/api/commands/{second['command_id']}/cancel", headers=auth.headers("viewer")
        ).status_code
        == 403
    )


def test_device_commands_page_newest_first(auth, client, mongo_db):
    add_device(mongo_db, "dev-p")
    operator = auth.headers("operator")
    ids = [
        client.post("/api/devices/dev-p/reboot", json={"delay_s": i}, headers=operator).get_json()[
            "command_id"
        ]
        for i in range(3)
    ]
    page = client.get("/api/devices/dev-p/commands?limit=2", headers=operator).get_json()
    rest = client.get(
        f"/api/devices/dev-p/commands?cursor={page['next_cursor']}", headers=operator
    ).get_json()
    assert [c["command_id"] for c in page["items"] + rest["items"]] == ids[::-1]
    queued = client.get("/api/devices/dev-p/commands?status=queued", headers=operator).get_json()
    assert len(queued["items"]) == 3


def test_a_request_may_shorten_or_lengthen_its_expiry(auth, client, mongo_db, publisher):
    add_device(mongo_db, "dev-e")
    headers = auth.headers("operator")
    resp = client.post("/api/devices/dev-e/reboot?expires_in_s=120", json={}, headers=headers)
    assert resp.status_code == 202
    stored = mongo_db["commands"].find_one({"_id": resp.get_json()["command_id"]})
    assert (stored["expires_at"] - stored["created_at"]).total_seconds() == 120
    request = CommandRequest.from_json(publisher.sent[0][0])
    assert request.expires_at == stored["expires_at"]
    default = client.post("/api/devices/dev-e/reboot", json={}, headers=headers).get_json()
    stored = mongo_db["commands"].find_one({"_id": default["command_id"]})
    assert (stored["expires_at"] - stored["created_at"]).total_seconds() == 86_400
    for bad in ("5", "abc", str(30 * 86_400)):
        resp = client.post(
            f"/api/devices/dev-e/reboot?expires_in_s={bad}", json={}, headers=headers
        )
        assert resp.status_code == 400 and resp.get_json()["field"] == "expires_in_s"
