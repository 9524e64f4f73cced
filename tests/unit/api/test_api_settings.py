from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api.settings import ApiSettings
from msm_common.settings import SettingsError

PROD = {
    "env": "production",
    "mongo_uri": "mongodb://db/msm",
    "amqp_url": "amqp://u:p@mq/%2F",
    "jwt_issuer": "https://msm.example",
    "secrets_kms_key_id": "alias/msm-device-secrets",
}


def test_production_refuses_to_start_without_a_key(tmp_path):
    with pytest.raises(SettingsError):
        ApiSettings(**PROD)
    with pytest.raises(SettingsError):
        ApiSettings(**PROD, jwt_private_key_file=tmp_path / "missing.pem")


def test_production_starts_with_its_key(tmp_path):
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = tmp_path / "jwt.pem"
    key.write_bytes(pem)
    settings = ApiSettings(**PROD, jwt_private_key_file=key)
    assert settings.is_production and settings.access_token_ttl_s == 900
    without_kms = {k: v for k, v in PROD.items() if k != "secrets_kms_key_id"}
    with pytest.raises(SettingsError, match="MSM_SECRETS_KMS_KEY_ID"):
        ApiSettings(**without_kms, jwt_private_key_file=key)


def test_local_defaults():
    settings = ApiSettings(env="local")
    assert settings.api_port == 8080 and settings.max_body_bytes == 64 * 1024
    assert settings.gunicorn_workers >= 2
