"""AWS endpoints: moto's local addresses are defaults of the local stack, never of production."""

from __future__ import annotations

import os

import pytest
from msm_common.settings import CommonSettings

PRODUCTION = {
    "MSM_ENV": "production",
    "MSM_MONGO_URI": "mongodb://db.example:27017/msm",
    "MSM_AMQP_URL": "amqps://msm:secret@mq.example:5671/msm",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MSM_"):
            monkeypatch.delenv(key)


def test_production_leaves_the_endpoints_to_the_aws_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    s = CommonSettings()
    assert (s.aws_endpoint_url, s.iot_data_endpoint) == (None, None)


def test_production_keeps_an_endpoint_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MSM_AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    s = CommonSettings()
    assert s.aws_endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
    assert CommonSettings(iot_data_endpoint="https://x-ats.iot.example").iot_data_endpoint == (
        "https://x-ats.iot.example"
    )


def test_the_local_stack_talks_to_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSM_ENV", "local")
    s = CommonSettings()
    assert s.aws_endpoint_url == "http://127.0.0.1:5055"
    assert s.iot_data_endpoint == "http://127.0.0.1:5056"
