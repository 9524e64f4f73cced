"""The commander's settings: its own as `MSM_COMMANDER_*` (the old `MSM_*` names still work for
one release, with a DeprecationWarning), on top of what every service shares (`MSM_*`)."""

from __future__ import annotations

from pathlib import Path

from msm_common.adapters import amqp_topology
from msm_common.settings import LOCAL_PKI, CommonSettings, service_aliases
from pydantic import Field


class CommanderSettings(CommonSettings):
    """Delivery policy, ticker cadence, consumers and queues of the command delivery service."""

    model_config = service_aliases("commander", CommonSettings)

    service_name: str = "msm-commander"
    # Its own MQTT identity (least privilege: deploy/local/mosquitto/acl.base, deploy/aws/).
    mqtt_cert_file: Path = LOCAL_PKI / "commander.crt"
    mqtt_key_file: Path = LOCAL_PKI / "commander.key"
    metrics_port: int = Field(default=9102, ge=0, le=65535, description="0 disables /metrics")

    ack_timeout_s: float = Field(default=30.0, gt=0, description="first attempt's ack window")
    max_attempts: int = Field(default=3, ge=1, le=20, description="sends per command, at most")
    retry_backoff_factor: float = Field(
        default=2.0, ge=1.0, le=10.0, description="each resend waits this much longer for its ack"
    )
    max_ack_timeout_s: float = Field(default=600.0, gt=0, description="cap of one ack window")
    default_expiry_s: int = Field(
        default=86_400, ge=1, description="for a command stored without expires_at"
    )
    allow_unknown_devices: bool = Field(
        default=False, description="deliver to device uuids with no `devices` document"
    )

    tick_interval_s: float = Field(default=1.0, gt=0, description="deadline and expiry checks")
    sweep_page: int = Field(default=200, ge=1, description="queued commands checked per tick")
    stall_grace_s: float = Field(
        default=5.0, ge=0, description="a queued command untouched this long is re-checked"
    )
    outbox_grace_s: float = Field(
        default=10.0, ge=0, description="a command.status event unconfirmed this long is resent"
    )
    gauge_interval_s: float = Field(default=10.0, gt=0)
    unhealthy_after_failed_ticks: int = Field(
        default=5, ge=1, description="ticks failing in a row before the liveness check fails"
    )

    prefetch: int = Field(default=50, ge=1, le=10_000)
    consumers: int = Field(default=8, ge=1, le=64, description="consumer threads (connections)")
    publish_timeout_s: float = Field(default=5.0, gt=0, description="MQTT PUBACK wait")

    requests_queue: str = amqp_topology.COMMAND_REQUESTS_QUEUE
    acks_queue: str = "msm.commander.acks"
    presence_queue: str = "msm.commander.presence"

    def required_in_production(self) -> tuple[str, ...]:
        """Besides the database and broker: the MQTT broker, the commander's identity, and the
        KMS key that opens device secrets."""
        return (
            *super().required_in_production(),
            "mqtt_host",
            "mqtt_ca_file",
            "mqtt_cert_file",
            "mqtt_key_file",
            "secrets_kms_key_id",
        )
