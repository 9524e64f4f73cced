"""`msm-commander reencrypt-secrets` after a key rotation, on the real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from msm_commander.reencrypt import reencrypt
from msm_common.secrets import (
    LocalKeyring,
    SecretBox,
    SecretError,
    add_local_key,
    ensure_local_keyfile,
)
from support.command_samples import MQTT, SFTP


def test_rotation_then_reencrypt_moves_every_stored_secret_to_the_new_key(
    mongo_db: Any, tmp_path: Path
) -> None:
    path = ensure_local_keyfile(tmp_path / "envelope.keys")
    box = SecretBox(LocalKeyring(path))
    old = box.seal(SFTP["password"])
    mongo_db["commands"].insert_many(
        [
            {
                "_id": "c-sftp",
                "type": "sftp",
                "status": "queued",
                "params": {**SFTP, "password": old},
            },
            # Stored by a version from before encryption at rest.
            {"_id": "c-mqtt", "type": "mqtt", "status": "queued", "params": dict(MQTT)},
            {"_id": "c-done", "type": "sftp", "status": "succeeded", "params": {"username": "m"}},
        ]
    )
    mongo_db["sftp"].insert_one({"device_uuid": "d1", **SFTP, "password": old})

    add_local_key(path)
    done = reencrypt(mongo_db, box)
    assert (done.values, done.failed) == (3, 0)

    # Only the new key is kept: everything still opens.
    newest = path.read_text().splitlines()[1]
    path.write_text(newest + "\n")
    only_new = SecretBox(LocalKeyring(path))
    sftp_cmd = mongo_db["commands"].find_one({"_id": "c-sftp"})["params"]["password"]
    mqtt_cmd = mongo_db["commands"].find_one({"_id": "c-mqtt"})["params"]["broker_password"]
    config = mongo_db["sftp"].find_one({"device_uuid": "d1"})["password"]
    assert only_new.open(sftp_cmd) == only_new.open(config) == SFTP["password"]
    assert only_new.open(mqtt_cmd) == MQTT["broker_password"]
    with pytest.raises(SecretError):
        only_new.open(old)
    assert reencrypt(mongo_db, only_new).failed == 0  # idempotent
