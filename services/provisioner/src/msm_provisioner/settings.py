"""The provisioner's settings: its own as `MSM_PROVISIONER_*` (the old `MSM_*` names still work
for one release, with a DeprecationWarning), on top of what every service shares (`MSM_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from msm_common.settings import (
    LOCAL_PKI,
    CommonSettings,
    SettingsError,
    env_name,
    service_aliases,
)
from pydantic import Field, SecretStr, model_validator

DEFAULT_SEED_CSV = Path("deploy/local/allowlist-sim.csv")
_TRUTHY = frozenset({"1", "true", "yes", "on"})


class ProvisionerSettings(CommonSettings):
    """Pre-provisioning hook, registry, certificate lifecycle, AWS setup, admin API."""

    # The hook's credentials keep MSM_HOOK_TOKEN / MSM_HOOK_SECRET: the hook's callers (localiot,
    # deploy/aws/hook_lambda.py) send the same secret under the same name.
    model_config = service_aliases(
        "provisioner", CommonSettings, keep=("hook_token", "hook_secret")
    )

    service_name: str = "msm-provisioner"
    # Its own MQTT identity (least privilege: deploy/local/mosquitto/acl.base, deploy/aws/).
    mqtt_cert_file: Path = LOCAL_PKI / "provisioner.crt"
    mqtt_key_file: Path = LOCAL_PKI / "provisioner.key"
    provisioner_port: int = Field(default=5057, ge=1, le=65535)
    # /metrics (all gunicorn workers' figures) on an ops port of its own, never the public port.
    metrics_port: int = Field(default=9104, ge=0, le=65535, description="0 disables /metrics")

    # Hook authentication: a bearer token (localiot), an HMAC secret (the Lambda adapter), or both.
    # Production refuses to start with neither.
    hook_token: SecretStr = SecretStr("")
    hook_secret: SecretStr = SecretStr("")
    hook_max_skew_s: int = Field(default=300, ge=1, description="HMAC timestamp tolerance")

    # Decisions.
    provisioner_reprovision_policy: Literal["never", "reset"] = "never"
    provisioner_claim_quota: int = Field(default=10_000, ge=0, description="devices per claim cert")
    provisioner_claim_rate: int = Field(default=3000, ge=0, description="attempts/claim/minute")

    # Certificate lifecycle.
    provisioner_decommission_status: Literal["INACTIVE", "REVOKED"] = "REVOKED"
    provisioner_expiry_days: int = Field(default=30, ge=1, description="default expiry window")
    provisioner_rotation_timeout_s: int = Field(default=3600, ge=60)
    provisioner_reconcile_interval_s: float = Field(default=10.0, gt=0)

    # The admin API trusts the api service's access tokens (its JWKS, its issuer and audience).
    api_jwks_url: str = "http://127.0.0.1:8080/api/auth/jwks.json"
    api_jwt_issuer: str = "msm-api"
    api_jwt_audience: str = "msm"
    api_jwks_cache_s: int = Field(default=300, ge=1)
    provisioner_max_upload_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # Background work in each worker: registry events over MQTT, event outbox, reconciler.
    provisioner_background: bool = True
    # Empty: every replica sees every registry event (handling is idempotent). mosquitto 2.0 does
    # not deliver `$aws/...` topics to shared subscriptions, so locally this must stay empty.
    provisioner_share_group: str = ""
    publish_timeout_s: float = Field(default=5.0, gt=0)

    # AWS setup (`msm-provisioner setup`).
    provisioner_aws_dir: Path = Path("deploy/aws")
    provisioner_template_name: str = "msm-meter"
    provisioner_hook_target: str = "http://127.0.0.1:5057/hook"  # a Lambda ARN in AWS
    provisioner_role_arn: str = "arn:aws:iam::123456789012:role/msm-iot-provisioning"
    provisioner_claim_cert_file: Path | None = Path(".local/pki/claim.crt")
    provisioner_claim_out_dir: Path = Path(".local/provisioner/claim")

    # Local stack: import this factory manifest at start ("1" means the simulator's CSV).
    provisioner_seed_allowlist: str = ""

    workers: int = Field(default=1, ge=1)
    threads: int = Field(default=8, ge=1)
    graceful_timeout_s: int = Field(default=20, ge=1)

    def required_in_production(self) -> tuple[str, ...]:
        return (*super().required_in_production(), "api_jwks_url")

    @property
    def seed_allowlist_path(self) -> Path | None:
        value = self.provisioner_seed_allowlist.strip()
        if not value or value.lower() in {"0", "false", "no", "off"}:
            return None
        return DEFAULT_SEED_CSV if value.lower() in _TRUTHY else Path(value)

    @model_validator(mode="after")
    def _check_hook_auth(self) -> ProvisionerSettings:
        if not self.is_production:
            return self
        token = self.hook_token.get_secret_value()
        secret = self.hook_secret.get_secret_value()
        if not token and not secret:
            raise SettingsError("production needs MSM_HOOK_TOKEN or MSM_HOOK_SECRET")
        for name, value in (("MSM_HOOK_TOKEN", token), ("MSM_HOOK_SECRET", secret)):
            if value and len(value) < 24:
                raise SettingsError(f"{name} must have at least 24 characters")
        if self.provisioner_seed_allowlist:
            raise SettingsError("MSM_PROVISIONER_SEED_ALLOWLIST is for the local stack only")
        if not self.api_jwks_url.startswith("https://"):
            name = env_name(ProvisionerSettings, "api_jwks_url")
            raise SettingsError(f"production needs an https:// {name}")
        target = self.provisioner_hook_target
        if not target.startswith(("https://", "arn:")):
            raise SettingsError(
                "production needs an https:// (or Lambda ARN) MSM_PROVISIONER_HOOK_TARGET"
            )
        return self
