"""The commander's settings: defaults from the issue, production strictness."""

from __future__ import annotations

import pytest
from msm_commander.settings import CommanderSettings
from msm_common.settings import SettingsError

NAMES = ("MONGO_URI", "AMQP_URL", "MQTT_HOST", "MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*NAMES, "ENV"):
        monkeypatch.delenv(f"MSM_{name}", raising=False)
    return monkeypatch


def test_defaults_are_the_issues(clean_env) -> None:
    clean_env.setenv("MSM_ENV", "local")  # unset means production, which refuses defaults
    s = CommanderSettings()
    assert (s.ack_timeout_s, s.max_attempts, s.default_expiry_s, s.tick_interval_s) == (
        30.0,
        3,
        86_400,
        1.0,
    )
    assert s.allow_unknown_devices is False and s.metrics_port == 9102
    assert s.requests_queue == "msm.commands.requests"


def test_production_needs_the_broker_identity_spelled_out(clean_env) -> None:
    clean_env.setenv("MSM_ENV", "production")
    clean_env.setenv("MSM_MONGO_URI", "mongodb://db.internal/msm")
    clean_env.setenv("MSM_AMQP_URL", "amqp://msm:secret@mq.internal/%2F")
    with pytest.raises(SettingsError, match="MSM_MQTT_CERT_FILE"):
        CommanderSettings()
    for name in NAMES[2:]:
        clean_env.setenv(f"MSM_{name}", "/etc/msm/x")
    # ... and the KMS key that opens device secrets (no local key file in production).
    with pytest.raises(SettingsError, match="MSM_SECRETS_KMS_KEY_ID"):
        CommanderSettings()
    clean_env.setenv("MSM_SECRETS_KMS_KEY_ID", "alias/msm-device-secrets")
    assert CommanderSettings().is_production
