"""Device secrets sent with mqtt/sftp config commands are sealed before anything keeps them.

The api stores and publishes only ciphertext (the commander opens it right before publishing to
the device, see tests/e2e/test_e2e_commander_commands.py), and never answers with either form.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import add_device
from msm_common.secrets import LocalKeyring, SecretBox, ensure_local_keyfile, is_sealed
from support.secrets_scan import plaintext_anywhere

pytestmark = pytest.mark.integration

SFTP = {
    "server_ip": "sftp.example.com",
    "server_port": 22,
    "username": "meter",
    "password": "sftp-plaintext-Zq81",
    "data_interval": 300,
}
MQTT = {
    "broker_ip": "10.9.8.7",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "mqtt-plaintext-Kx42",
    "data_interval": 60,
}


@pytest.fixture
def box(tmp_path: Any) -> SecretBox:
    return SecretBox(LocalKeyring(ensure_local_keyfile(tmp_path / "envelope.keys")))


@pytest.fixture
def sealed_client(make_app: Any, box: SecretBox) -> Any:
    return make_app(secrets=box).test_client()


def test_config_secrets_are_stored_and_published_only_encrypted(
    sealed_client, make_app, auth, mongo_db, publisher, box
) -> None:
    add_device(mongo_db, "dev-sealed")
    headers = auth.headers("operator")
    sftp = sealed_client.post("/api/devices/dev-sealed/sftp", headers=headers, json=SFTP)
    mqtt = sealed_client.post("/api/devices/dev-sealed/mqtt", headers=headers, json=MQTT)
    assert (sftp.status_code, mqtt.status_code) == (202, 202)

    plain = (SFTP["password"], MQTT["broker_password"])
    assert plaintext_anywhere(mongo_db, plain) == []
    bodies = [body for body, _id in publisher.sent]
    assert len(bodies) == 2 and not any(p.encode() in b for b in bodies for p in plain)
    # What is kept is the ciphertext, and the commander's key opens it.
    stored = mongo_db["commands"].find_one({"_id": sftp.get_json()["command_id"]})
    assert is_sealed(stored["params"]["password"])
    assert box.open(stored["params"]["password"]) == SFTP["password"]
    assert stored["params"]["password"].encode() in bodies[0]
    # The api shows that a secret is set, never the secret nor its ciphertext.
    shown = sealed_client.get(f"/api/commands/{stored['_id']}", headers=headers)
    assert shown.get_json()["params"]["password_set"] is True
    assert "password" not in shown.get_json()["params"]
    assert stored["params"]["password"] not in shown.get_data(as_text=True)


def test_config_documents_show_that_a_sealed_secret_is_set(
    sealed_client, auth, mongo_db, box
) -> None:
    add_device(mongo_db, "dev-doc")
    sealed = box.seal(SFTP["password"])
    mongo_db["sftp"].insert_one({"device_uuid": "dev-doc", **SFTP, "password": sealed})
    resp = sealed_client.get("/api/sftp?device_uuid=dev-doc", headers=auth.headers("viewer"))
    (item,) = resp.get_json()["items"]
    assert item["password_set"] is True and "password" not in item
    assert sealed not in resp.get_data(as_text=True)


def test_a_ciphertext_is_not_accepted_as_a_password(sealed_client, auth, mongo_db, box) -> None:
    add_device(mongo_db, "dev-replay")
    stolen = box.seal("someone-elses-password")
    resp = sealed_client.post(
        "/api/devices/dev-replay/sftp",
        headers=auth.headers("operator"),
        json={**SFTP, "password": stolen},
    )
    assert resp.status_code == 400
    assert "password" in resp.get_json()["detail"]
    assert mongo_db["commands"].count_documents({"device_uuid": "dev-replay"}) == 0
