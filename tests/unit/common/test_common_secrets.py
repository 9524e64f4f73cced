"""msm_common.secrets: sealing, opening, key rotation (local key file and KMS via moto)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.fernet import Fernet, InvalidToken
from moto import mock_aws
from msm_common.contracts.commands import validate_params
from msm_common.secrets import (
    KmsKeyring,
    LocalKeyring,
    SecretBox,
    SecretError,
    add_local_key,
    box_for,
    ensure_local_keyfile,
    is_sealed,
    open_params,
    reseal_params,
    seal_params,
)
from msm_common.settings import CommonSettings, SettingsError

SFTP = {
    "server_ip": "sftp.example.com",
    "server_port": 22,
    "username": "meter",
    "password": "pa55-word",
    "data_interval": 300,
}


def local_box(path: Path) -> SecretBox:
    return SecretBox(LocalKeyring(ensure_local_keyfile(path)))


def keys_in(path: Path) -> list[bytes]:
    lines = path.read_text().splitlines()
    return [line.encode() for line in lines if line and not line.startswith("#")]


def test_a_sealed_secret_opens_to_the_plaintext_and_does_not_contain_it(tmp_path: Path) -> None:
    box = local_box(tmp_path / "keys")
    sealed = box.seal("pa55-word")
    assert is_sealed(sealed) and "pa55" not in sealed
    assert box.open(sealed) == "pa55-word"
    assert box.seal("pa55-word") != sealed  # a fresh IV each time


def test_the_local_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "keys"
    ensure_local_keyfile(path)
    first = path.read_text()
    ensure_local_keyfile(path)
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_only_secret_fields_are_sealed_and_the_result_is_still_valid_params(
    tmp_path: Path,
) -> None:
    box = local_box(tmp_path / "keys")
    sealed = seal_params(box, "sftp", SFTP)
    assert {k: v for k, v in sealed.items() if k != "password"} == {
        k: v for k, v in SFTP.items() if k != "password"
    }
    validate_params("sftp", sealed)  # a sealed 256-character password still fits the contract
    long = seal_params(box, "sftp", {**SFTP, "password": "x" * 256})
    validate_params("sftp", long)
    assert open_params(box, "sftp", sealed) == SFTP
    assert seal_params(box, "ntp", {"server_1": "pool.ntp.org"}) == {"server_1": "pool.ntp.org"}


def test_a_value_from_another_key_or_tampered_or_plaintext_does_not_open(tmp_path: Path) -> None:
    box, other = local_box(tmp_path / "a"), local_box(tmp_path / "b")
    sealed = box.seal("pa55-word")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    for bad in (other.seal("pa55-word"), tampered, "pa55-word", "msmsec1:local"):
        with pytest.raises(SecretError) as caught:
            box.open(bad)
        assert "pa55" not in str(caught.value)


def test_rotation_old_values_still_open_new_values_use_the_new_key(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    box = local_box(path)
    (old_key,) = keys_in(path)
    before = box.seal("old-secret")

    add_local_key(path)
    new_key, still_old = keys_in(path)
    assert still_old == old_key and stat.S_IMODE(path.stat().st_mode) == 0o600
    after = box.seal("new-secret")  # the same running box picks the new file up

    assert box.open(before) == "old-secret" and box.open(after) == "new-secret"
    token = after.rpartition(":")[2].encode()
    assert Fernet(new_key).decrypt(token) == b"new-secret"
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(token)
    # Re-encryption moves old values to the new key; then the old key can go.
    moved = reseal_params(box, "sftp", {**SFTP, "password": before})["password"]
    path.write_text(new_key.decode() + "\n")
    assert box.open(moved) == "old-secret"
    with pytest.raises(SecretError):
        box.open(before)


def test_reseal_encrypts_a_plaintext_left_from_before(tmp_path: Path) -> None:
    box = local_box(tmp_path / "keys")
    resealed = box.reseal("legacy-plain")
    assert is_sealed(resealed) and box.open(resealed) == "legacy-plain"


@pytest.fixture
def kms() -> Any:
    with mock_aws():
        client = boto3.client("kms", region_name="us-east-1")
        yield client


def test_kms_envelope_and_rotation(kms: Any) -> None:
    first_key = kms.create_key(Description="msm secrets")["KeyMetadata"]["KeyId"]
    box = SecretBox(KmsKeyring(kms, first_key))
    sealed = box.seal("pa55-word")
    assert sealed.startswith("msmsec1:kms:") and "pa55" not in sealed
    # Another process (a new data key) and a new KMS key: old values still open, new ones
    # are made under the new key.
    second_key = kms.create_key(Description="msm secrets, rotated")["KeyMetadata"]["KeyId"]
    rotated = SecretBox(KmsKeyring(kms, second_key))
    assert rotated.open(sealed) == "pa55-word"
    newer = rotated.reseal(sealed)
    assert newer.split(":")[2] != sealed.split(":")[2] and rotated.open(newer) == "pa55-word"
    kms.disable_key(KeyId=first_key)
    assert SecretBox(KmsKeyring(kms, second_key)).open(newer) == "pa55-word"


def test_a_local_value_does_not_open_with_kms_and_back(kms: Any, tmp_path: Path) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    local, remote = local_box(tmp_path / "keys"), SecretBox(KmsKeyring(kms, key_id))
    with pytest.raises(SecretError):
        remote.open(local.seal("x"))
    with pytest.raises(SecretError):
        local.open(remote.seal("x"))


def test_production_needs_a_kms_key(tmp_path: Path) -> None:
    production = CommonSettings(
        env="production",
        mongo_uri="mongodb://db/msm",
        amqp_url="amqp://msm:pw@mq/%2F",
        secrets_key_file=tmp_path / "keys",
    )
    with pytest.raises(SettingsError, match="MSM_SECRETS_KMS_KEY_ID"):
        box_for(production)
    assert not (tmp_path / "keys").exists()  # no local key is generated in production
    local = CommonSettings(env="test", secrets_key_file=tmp_path / "keys")
    box = box_for(local)
    assert not (tmp_path / "keys").exists()  # made at first use, not at start-up
    assert box_for(local).open(box.seal("y")) == "y"
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o600
