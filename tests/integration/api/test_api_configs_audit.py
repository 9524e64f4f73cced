from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_helpers import add_device

pytestmark = pytest.mark.integration


def test_configs_hide_passwords_and_show_command_state(auth, client, mongo_db):
    add_device(mongo_db, "dev-cfg")
    now = datetime.now(UTC)
    mongo_db["sftp"].insert_one(
        {
            "device_uuid": "dev-cfg",
            "server_ip": "sftp.example.com",
            "server_port": 22,
            "username": "meter",
            "password": "sftp-secret",
            "data_interval": 300,
            "updated_at": now,
            "command_id": "c-old",
        }
    )
    mongo_db["ntp"].insert_one(
        {
            "device_uuid": "dev-cfg",
            "server_1": "pool.ntp.org",
            "updated_at": now,
            "command_id": "c-ntp",
        }
    )
    sent = client.post(
        "/api/devices/dev-cfg/sftp",
        headers=auth.headers("operator"),
        json={
            "server_ip": "sftp2.example.com",
            "server_port": 2222,
            "username": "meter",
            "password": "new-secret",
            "data_interval": 600,
        },
    ).get_json()
    resp = client.get("/api/sftp?device_uuid=dev-cfg", headers=auth.headers("viewer"))
    text = resp.get_data(as_text=True)
    assert "secret" not in text
    (item,) = resp.get_json()["items"]
    assert item["password_set"] is True and item["server_ip"] == "sftp.example.com"
    assert item["command_id"] == "c-old"
    assert item["latest_command"]["command_id"] == sent["command_id"]
    assert item["latest_command"]["status"] == "queued"
    listed = client.get("/api/ntp", headers=auth.headers("viewer")).get_json()["items"]
    assert listed[0]["server_1"] == "pool.ntp.org" and listed[0]["latest_command"] is None
    mqtt = client.get("/api/mqtt?device_uuid=dev-cfg", headers=auth.headers("viewer"))
    assert mqtt.get_json()["items"] == []


def test_state_changes_are_audited(auth, client, mongo_db):
    add_device(mongo_db, "dev-a")
    auth.login("ghost-user", "nope")
    client.post("/api/devices/dev-a/reboot", headers=auth.headers("viewer"))  # denied
    client.post("/api/devices/dev-a/reboot", headers=auth.headers("operator"))
    assert client.get("/api/audit", headers=auth.headers("operator")).status_code == 403
    log = client.get("/api/audit?limit=50", headers=auth.headers("admin")).get_json()["items"]
    by_action = {}
    for entry in log:
        by_action.setdefault(entry["action"], []).append(entry)
    failed_login = next(e for e in by_action["auth.login"] if e["target"] == "ghost-user")
    assert failed_login["result"] == "denied" and failed_login["status"] == 401
    assert failed_login["actor"] is None and failed_login["ip"] == "127.0.0.1"
    commands = by_action["command.create"]
    assert {(e["actor"], e["result"], e["status"]) for e in commands} == {
        ("viewer-user", "denied", 403),
        ("operator-user", "ok", 202),
    }
    assert all(e["target"] == "dev-a" for e in commands)
    only = client.get(
        "/api/audit?action=command.create&actor=operator-user", headers=auth.headers("admin")
    ).get_json()["items"]
    assert len(only) == 1
    page = client.get("/api/audit?limit=2", headers=auth.headers("admin")).get_json()
    rest = client.get(
        f"/api/audit?limit=50&cursor={page['next_cursor']}", headers=auth.headers("admin")
    ).get_json()
    assert len(page["items"]) + len(rest["items"]) >= len(log)
