"""The api service's settings: its own as `MSM_API_*` (the old `MSM_*` names still work for one
release, with a DeprecationWarning), on top of what every service shares (`MSM_*`)."""

from __future__ import annotations

import os
from pathlib import Path

from msm_common.settings import CommonSettings, SettingsError, env_name, service_aliases
from pydantic import Field, SecretStr, model_validator

LOCAL_SECRETS = Path(".local/secrets")


class ApiSettings(CommonSettings):
    """REST API: port, JWT keys and lifetimes, first admin, gunicorn, limits, login throttling."""

    model_config = service_aliases("api", CommonSettings)  # api_port: MSM_API_PORT as before

    service_name: str = "msm-api"
    api_port: int = Field(default=8080, ge=1, le=65535)
    # /metrics (all gunicorn workers' figures) on an ops port of its own, never the API's port.
    metrics_port: int = Field(default=9103, ge=0, le=65535, description="0 disables /metrics")

    # A PEM private key (RSA -> RS256, Ed25519 -> EdDSA). Generated once under .local/secrets
    # outside production; production refuses to start without it.
    jwt_private_key_file: Path | None = None
    # Comma-separated PEM files whose keys verify tokens but never sign (key rotation: the
    # previous key until its tokens have expired, the next key before it starts signing).
    jwt_verify_key_files: str = ""
    jwt_issuer: str = "msm-api"
    jwt_audience: str = "msm"
    access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(default=14 * 86_400, ge=300)
    # A login's refresh session ends this long after the login, however often it is rotated.
    session_max_lifetime_s: int = Field(default=30 * 86_400, ge=300)

    admin_email: str | None = None
    admin_password: SecretStr | None = None
    admin_username: str = "admin"

    workers: int = Field(default=0, ge=0, description="0: 2 x CPU cores")
    threads: int = Field(default=8, ge=1)
    graceful_timeout_s: int = Field(default=20, ge=1)
    trusted_proxies: int = Field(default=0, ge=0, description="X-Forwarded-For hops to trust")

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    command_ttl_s: int = Field(default=86_400, ge=60)
    publish_timeout_s: float = Field(default=5.0, gt=0)

    # Login throttling: failures are remembered login_window_s; past the free attempts each
    # further failure doubles the wait (login_backoff_base_s, at most login_backoff_max_s).
    login_window_s: int = Field(default=900, ge=1)
    login_max_account_failures: int = Field(default=5, ge=1, description="free attempts")
    login_max_address_failures: int = Field(default=20, ge=1, description="free attempts")
    login_backoff_base_s: float = Field(default=1.0, gt=0)
    login_backoff_max_s: float = Field(default=60.0, gt=0)

    # CSV export: the longest time range one export may cover, and exports per user per minute.
    csv_max_range_days: int = Field(default=31, ge=1)
    csv_exports_per_minute: int = Field(default=6, ge=1)

    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    def required_in_production(self) -> tuple[str, ...]:
        # The KMS key: device secrets are sealed before anything stores them (msm_common.secrets).
        return (
            *super().required_in_production(),
            "jwt_private_key_file",
            "jwt_issuer",
            "secrets_kms_key_id",
        )

    @property
    def secrets_dir(self) -> Path:
        return Path(os.environ.get("MSM_SECRETS_DIR", str(LOCAL_SECRETS)))

    @property
    def jwt_verify_key_paths(self) -> tuple[Path, ...]:
        return tuple(Path(p.strip()) for p in self.jwt_verify_key_files.split(",") if p.strip())

    @property
    def gunicorn_workers(self) -> int:
        return self.workers or 2 * (os.cpu_count() or 1)

    @model_validator(mode="after")
    def _check_api_production(self) -> ApiSettings:
        if not self.is_production:
            return self
        key = self.jwt_private_key_file
        if key is None or not key.is_file():
            name = env_name(ApiSettings, "jwt_private_key_file")
            raise SettingsError(f"production needs a readable {name} ({key})")
        if self.admin_password is not None and len(self.admin_password.get_secret_value()) < 12:
            name = env_name(ApiSettings, "admin_password")
            raise SettingsError(f"{name} must have at least 12 characters")
        return self
