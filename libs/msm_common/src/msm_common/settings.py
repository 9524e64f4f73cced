"""Settings shared by every MSM service: one object per service, read from `MSM_*` variables.

Defaults describe the local stack (`make run`), but only `MSM_ENV=local` (or `test`) lets a
service use them: with MSM_ENV unset a service runs as production (fail closed), where every
setting listed by a service's `required_in_production()` must be given explicitly: nothing falls
back to a local default or a generated secret. deploy/local/env.sh sets MSM_ENV=local.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, AliasGenerator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.uri_parser import parse_uri

LOCAL_PKI = Path(".local/pki")
LOCAL_AWS_ENDPOINTS = {
    "aws_endpoint_url": "http://127.0.0.1:5055",
    "iot_data_endpoint": "http://127.0.0.1:5056",
}


class SettingsError(RuntimeError):
    """A service cannot start with the configuration it was given."""


class CommonSettings(BaseSettings):
    """What every service needs: environment, database, broker, MQTT identity, logging."""

    model_config = SettingsConfigDict(env_prefix="MSM_", extra="ignore", frozen=True)

    env: Literal["local", "test", "production"] = "production"  # unset: production
    service_name: str = "msm"
    log_level: str = "INFO"
    bind_host: str = "127.0.0.1"
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="0 disables the metrics server"
    )

    mongo_uri: str = "mongodb://127.0.0.1:27017/msm"
    mongo_db: str = ""  # empty: the database named in mongo_uri, else "msm"
    telemetry_retention_days: int = Field(default=400, ge=1)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 8883
    mqtt_ca_file: Path = LOCAL_PKI / "ca.crt"
    mqtt_cert_file: Path = LOCAL_PKI / "backend.crt"
    mqtt_key_file: Path = LOCAL_PKI / "backend.key"
    mqtt_client_id: str = ""
    mqtt_keepalive_s: int = 30

    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # local/test: moto (LOCAL_AWS_ENDPOINTS)
    iot_data_endpoint: str | None = None

    # Envelope key of device secrets at rest (msm_common.secrets): a KMS key id or ARN in
    # production; elsewhere, if unset, a local key file generated on first use (0600).
    secrets_kms_key_id: str | None = None
    secrets_key_file: Path = Path(".local/secrets/envelope.keys")

    def required_in_production(self) -> tuple[str, ...]:
        """Names of settings that must be set explicitly when `env` is production."""
        return ("mongo_uri", "amqp_url")

    @property
    def database_name(self) -> str:
        return self.mongo_db or parse_uri(self.mongo_uri).get("database") or "msm"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @model_validator(mode="before")
    @classmethod
    def _warn_old_names(cls, data: Any) -> Any:
        warn_renamed(cls)  # a service's old MSM_<NAME> variables (see `service_aliases`)
        return data

    @model_validator(mode="before")
    @classmethod
    def _local_endpoints_outside_production(cls, data: Any) -> Any:
        """moto's addresses are defaults of the local stack only: in production the AWS SDK
        finds the real endpoints (and a setting named explicitly stays explicit)."""
        if isinstance(data, dict):
            keys = {str(k).lower() for k in data}
            env = next((v for k, v in data.items() if str(k).lower() in ("env", "msm_env")), None)
            if env not in (None, "production"):
                for name, local in LOCAL_AWS_ENDPOINTS.items():
                    if name not in keys and f"msm_{name}" not in keys:
                        data[name] = local
        return data

    @model_validator(mode="after")
    def _check_production(self) -> CommonSettings:
        if not self.is_production:
            return self
        missing = [n for n in self.required_in_production() if n not in self.model_fields_set]
        if missing:
            names = ", ".join(env_name(type(self), n) for n in missing)
            unset = "env" not in self.model_fields_set
            why = "MSM_ENV is not set, so this runs as production, and " if unset else ""
            hint = " (for the local stack set MSM_ENV=local: source deploy/local/env.sh)"
            raise SettingsError(
                f"{why}production mode needs explicit settings: {names}{hint if unset else ''}"
            )
        if "guest:guest@" in self.amqp_url:
            raise SettingsError("production mode refuses the default RabbitMQ guest account")
        return self


# -- one naming scheme: MSM_<SERVICE>_<NAME> for a service's own settings -----------------------
def renamed(service: str, name: str) -> AliasChoices:
    """`MSM_<SERVICE>_<NAME>` (wins), the old `MSM_<NAME>` (accepted for one release with a
    DeprecationWarning, see `warn_renamed`), and the field name for keyword construction."""
    return AliasChoices(f"MSM_{service}_{name}".upper(), f"MSM_{name}".upper(), name)


def service_aliases(
    service: str,
    shared: type[BaseSettings],
    *,
    keep: Collection[str] = (),
    old_names: bool = True,
) -> SettingsConfigDict:
    """The config of a service's settings class: its own fields (those `shared` does not declare)
    are read as `renamed(service, name)`, the shared ones as `MSM_<NAME>`.

    A field already named after its service (`api_port`, `provisioner_claim_quota`) has had its
    `MSM_<SERVICE>_` name all along and keeps it; so do the fields in `keep` (a name another
    program reads too). `old_names=False`: the service never had other names (no `MSM_<NAME>`)."""

    def alias(name: str) -> AliasChoices:
        if name in shared.model_fields or name in keep or name.startswith(f"{service}_"):
            return AliasChoices(f"MSM_{name}".upper(), name)
        if not old_names:
            return AliasChoices(f"MSM_{service}_{name}".upper(), name)
        return renamed(service, name)

    return SettingsConfigDict(alias_generator=AliasGenerator(validation_alias=alias))


def variables(cls: type[BaseSettings], field: str) -> list[str]:
    """The variables that set `field`, the one that wins first (then a deprecated old name)."""
    alias = cls.model_fields[field].validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    names = [c.upper() for c in choices if isinstance(c, str) and c.upper().startswith("MSM_")]
    return names or [f"MSM_{field}".upper()]


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The variable that sets `field` (the new one, for a renamed setting)."""
    return variables(cls, field)[0]


def deprecated_names(cls: type[BaseSettings]) -> dict[str, str]:
    """The deprecated variables `cls` still reads, each with the name that replaces it."""
    return {
        names[1]: names[0] for field in cls.model_fields if len(names := variables(cls, field)) == 2
    }


# Shown by default (Python hides a DeprecationWarning outside __main__): an operator still using
# an old name sees which variable to set instead.
warnings.filterwarnings("default", category=DeprecationWarning, module=__name__)


def warn_renamed(cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
    """Warn about every old variable name still set for a field declared with `renamed`."""
    env = {k.upper() for k in (os.environ if environ is None else environ)}
    for old, new in deprecated_names(cls).items():
        if old in env:
            warnings.warn(
                f"{old} is deprecated and will be ignored in the next release: set {new} instead",
                DeprecationWarning,
                stacklevel=1,
            )
