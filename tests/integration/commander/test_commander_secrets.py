"""The commander opens a device secret only into the device payload, with its own key."""

from __future__ import annotations

import time
from pathlib import Path

from commander_harness import Api, until
from msm_common.secrets import LocalKeyring, SecretBox, ensure_local_keyfile
from support.command_samples import SFTP


def test_the_device_gets_the_plaintext_and_the_finished_command_keeps_nothing(
    commander, api, meter, mongo_db
) -> None:
    m = meter()
    cid = api.request(m.uuid, "sftp")
    queued = mongo_db["commands"].find_one({"_id": cid})
    assert queued["params"]["password"] != SFTP["password"]  # stored sealed
    done = until(mongo_db, cid, "succeeded")
    assert m.received[0].body["password"] == SFTP["password"]
    assert "password" not in done["params"]  # purged once final


def test_a_secret_sealed_under_a_key_the_commander_lacks_is_rejected_unsent(
    commander, api, meter, mongo_db, tmp_path: Path
) -> None:
    m = meter()
    stranger = SecretBox(LocalKeyring(ensure_local_keyfile(tmp_path / "other.keys")))
    cid = Api(mongo_db, api.publisher, stranger).request(m.uuid, "sftp")
    rejected = until(mongo_db, cid, "rejected")
    reason = rejected["history"][-1]["reason"]
    assert reason.startswith("invalid_params:") and "decrypt" in reason
    assert "password" not in rejected["params"]
    time.sleep(0.5)
    assert m.ids() == []


def test_a_plaintext_secret_is_never_sent(commander, api, meter, mongo_db) -> None:
    m = meter()
    # What a writer that bypasses the api (or a version before encryption at rest) stores.
    cid = Api(mongo_db, api.publisher, PlaintextBox()).request(m.uuid, "sftp")
    rejected = until(mongo_db, cid, "rejected")
    assert "not encrypted" in rejected["history"][-1]["reason"]
    assert SFTP["password"] not in str(rejected) and m.ids() == []


class PlaintextBox:
    """Seals nothing."""

    def seal(self, plaintext: str) -> str:
        return plaintext
