"""Settings: production refuses to start without hook credentials or on local seeding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from msm_common.settings import SettingsError
from msm_provisioner.settings import DEFAULT_SEED_CSV, ProvisionerSettings

PROD: dict[str, Any] = {
    "env": "production",
    "mongo_uri": "mongodb://db.internal/msm",
    "amqp_url": "amqp://msm:secret@mq.internal/msm",
    "api_jwks_url": "https://api.internal/api/auth/jwks.json",
    "provisioner_hook_target": "arn:aws:lambda:eu-west-1:123456789012:function:msm-hook",
}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("api_jwks_url", "http://api.internal/api/auth/jwks.json", "MSM_PROVISIONER_API_JWKS_URL"),
        ("provisioner_hook_target", "http://prov.internal/hook", "MSM_PROVISIONER_HOOK_TARGET"),
    ],
)
def test_production_needs_https_for_jwks_and_hook(field: str, value: str, error: str) -> None:
    with pytest.raises(SettingsError, match=error):
        ProvisionerSettings(**{**PROD, field: value}, hook_secret="x" * 32)
    https = {**PROD, "provisioner_hook_target": "https://prov.internal/hook"}
    assert ProvisionerSettings(**https, hook_secret="x" * 32).is_production


def test_local_defaults() -> None:
    s = ProvisionerSettings(_env_file=None)
    assert (s.provisioner_port, s.provisioner_reprovision_policy) == (5057, "never")
    assert s.seed_allowlist_path is None


def test_production_needs_a_token_or_secret() -> None:
    with pytest.raises(SettingsError, match="MSM_HOOK_TOKEN or MSM_HOOK_SECRET"):
        ProvisionerSettings(**PROD)
    assert ProvisionerSettings(**PROD, hook_secret="x" * 32).is_production


def test_production_refuses_short_secrets_and_seeding() -> None:
    with pytest.raises(SettingsError, match="24 characters"):
        ProvisionerSettings(**PROD, hook_token="short")
    with pytest.raises(SettingsError, match="local stack only"):
        ProvisionerSettings(**PROD, hook_token="x" * 32, provisioner_seed_allowlist="1")


def test_production_needs_explicit_jwks_url() -> None:
    prod = {k: v for k, v in PROD.items() if k != "api_jwks_url"}
    with pytest.raises(SettingsError, match="MSM_PROVISIONER_API_JWKS_URL"):
        ProvisionerSettings(**prod, hook_token="x" * 32)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("1", DEFAULT_SEED_CSV),
        ("true", DEFAULT_SEED_CSV),
        ("0", None),
        ("", None),
        ("/tmp/m.csv", Path("/tmp/m.csv")),
    ],
)
def test_seed_allowlist_setting(value: str, path: Path | None) -> None:
    assert ProvisionerSettings(provisioner_seed_allowlist=value).seed_allowlist_path == path
