"""Settings: local defaults work out of the box; production refuses them."""

from __future__ import annotations

import pytest
from msm_common.health import readiness
from msm_common.settings import CommonSettings, SettingsError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("MSM_"):
            monkeypatch.delenv(key)


def test_msm_env_unset_refuses_to_start_with_local_defaults() -> None:
    # Fail closed: no MSM_ENV means production, which never runs on local defaults.
    with pytest.raises(SettingsError, match="MSM_ENV is not set") as refused:
        CommonSettings()
    assert "MSM_MONGO_URI" in str(refused.value) and "MSM_ENV=local" in str(refused.value)


def test_local_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSM_ENV", "local")
    s = CommonSettings()
    assert s.env == "local"
    assert s.mongo_uri == "mongodb://127.0.0.1:27017/msm"
    assert s.database_name == "msm"
    assert s.mqtt_port == 8883
    assert s.bind_host == "127.0.0.1"


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSM_ENV", "local")
    monkeypatch.setenv("MSM_MONGO_URI", "mongodb://db.example:27017/fleet")
    monkeypatch.setenv("MSM_MQTT_PORT", "9883")
    s = CommonSettings()
    assert s.database_name == "fleet"
    assert s.mqtt_port == 9883


def test_production_refuses_to_start_on_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSM_ENV", "production")
    with pytest.raises(SettingsError, match="MSM_MONGO_URI"):
        CommonSettings()


def in_production(monkeypatch: pytest.MonkeyPatch, amqp_url: str) -> None:
    """MSM_ENV=production with an explicit database and the broker at `amqp_url`."""
    monkeypatch.setenv("MSM_ENV", "production")
    monkeypatch.setenv("MSM_MONGO_URI", "mongodb://db:27017/msm")
    monkeypatch.setenv("MSM_AMQP_URL", amqp_url)


def test_production_refuses_the_guest_rabbitmq_account(monkeypatch: pytest.MonkeyPatch) -> None:
    in_production(monkeypatch, "amqp://guest:guest@mq:5672/%2F")
    with pytest.raises(SettingsError, match="guest"):
        CommonSettings()


def test_production_starts_with_explicit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    in_production(monkeypatch, "amqps://msm:s3cret@mq:5671/msm")
    assert CommonSettings().is_production


def test_readiness_reports_each_dependency_and_survives_a_raising_check() -> None:
    def broken() -> bool:
        raise ConnectionError("refused")

    result = readiness({"mongo": lambda: True, "amqp": broken})
    assert not result.ready
    assert result.as_dict() == {"status": "not_ready", "checks": {"mongo": True, "amqp": False}}
    assert readiness({"mongo": lambda: True}).ready
