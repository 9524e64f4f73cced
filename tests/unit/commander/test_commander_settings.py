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


def test_own_settings_are_msm_commander_names(clean_env) -> None:
    clean_env.setenv("MSM_ENV", "local")
    clean_env.setenv("MSM_COMMANDER_ACK_TIMEOUT_S", "4")
    clean_env.setenv("MSM_COMMANDER_REQUESTS_QUEUE", "q.requests")
    s = CommanderSettings()
    assert (s.ack_timeout_s, s.requests_queue) == (4.0, "q.requests")


def test_an_old_name_still_works_for_one_release_with_a_deprecation_warning(clean_env) -> None:
    clean_env.setenv("MSM_ENV", "local")
    clean_env.setenv("MSM_MAX_ATTEMPTS", "5")
    with pytest.warns(DeprecationWarning, match="set MSM_COMMANDER_MAX_ATTEMPTS instead"):
        assert CommanderSettings().max_attempts == 5


def test_the_new_name_wins_over_the_old_one(clean_env) -> None:
    clean_env.setenv("MSM_ENV", "local")
    clean_env.setenv("MSM_MAX_ATTEMPTS", "5")
    clean_env.setenv("MSM_COMMANDER_MAX_ATTEMPTS", "2")
    with pytest.warns(DeprecationWarning):
        assert CommanderSettings().max_attempts == 2
