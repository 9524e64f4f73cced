"""The ingest service's settings: `MSM_*` (shared) plus `MSM_INGEST_*` (this service's own)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from msm_common.contracts import is_thing_name
from msm_common.settings import LOCAL_PKI, CommonSettings, SettingsError, service_aliases
from pydantic import Field, model_validator


class IngestSettings(CommonSettings):
    """Sources, batching, outbox recovery, device state, shadows and quarantine of ingest."""

    model_config = service_aliases("ingest", CommonSettings, old_names=False)  # always MSM_INGEST_*

    service_name: str = "msm-ingest"
    # Its own MQTT identity (least privilege: deploy/local/mosquitto/acl.base, deploy/aws/).
    mqtt_cert_file: Path = LOCAL_PKI / "ingest.crt"
    mqtt_key_file: Path = LOCAL_PKI / "ingest.key"
    metrics_port: int = Field(default=9101, ge=0, le=65535, description="0 disables /metrics")

    source: Literal["mqtt", "sqs"] = Field(default="mqtt")

    # MQTT source: a persistent session per connection, optionally in a shared-subscription group.
    client_id: str = Field(default="")
    shared_group: str = Field(default="")
    mqtt_connections: int = Field(default=1, ge=1, le=64)
    session_expiry_s: int = Field(default=3600, ge=0)
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    # The device level of the subscriptions: "+" (every device), or a comma-separated list of
    # device uuids (a canary replica, or a test that must not see other tests' traffic).
    subscribe_devices: str = Field(default="+")

    # SQS source (fed by an AWS IoT Rule, see deploy/aws/iot-rule-sqs.md).
    sqs_queue_url: str = Field(default="")
    sqs_pollers: int = Field(default=2, ge=1, le=64)
    sqs_wait_s: int = Field(default=10, ge=0, le=20)

    # Batching: a batch closes at batch_max messages or batch_max_wait_ms after its first one.
    batch_max: int = Field(default=500, ge=1, le=10_000)
    batch_max_wait_ms: int = Field(default=50, ge=0, le=60_000)
    queue_max: int = Field(default=0, ge=0)
    confirm_timeout_s: float = Field(default=10.0, gt=0)
    mongo_timeout_ms: int = Field(default=5000, ge=100)
    shutdown_timeout_s: float = Field(default=8.0, gt=0, le=60)

    # A batch's deliveries are acknowledged once RabbitMQ confirmed its events, or after this
    # long once one outbox entry holds what is still unconfirmed (RabbitMQ slow or down).
    outbox_after_ms: int = Field(default=1000, ge=0, le=60_000)
    recovery_interval_s: float = Field(default=5.0, gt=0)
    # Another process's outbox entry older than this is taken for an orphan and republished.
    recovery_grace_s: float = Field(default=60.0, ge=0)
    # A device's last_seen and latest readings are written at most once per device per interval
    # (and at once on its first message or a connectivity change); the API reads newer readings
    # from telemetry.
    device_state_interval_s: float = Field(default=60.0, ge=0, le=3600)

    shadow_enabled: bool = Field(default=True)
    shadow_min_interval_s: float = Field(default=10.0, ge=0)

    require_known_device: bool = Field(default=False)
    quarantine_payload_max: int = Field(default=4096, ge=0, le=1 << 20)
    event_source: str = Field(default="msm-ingest")

    def required_in_production(self) -> tuple[str, ...]:
        names = [*super().required_in_production()]
        if self.source == "sqs":
            names.append("sqs_queue_url")
        if self.shadow_enabled:
            names.append("iot_data_endpoint")
        return tuple(names)

    @property
    def client_id_base(self) -> str:
        """The fixed client id of this replica (its persistent session is keyed by it)."""
        return self.client_id or f"msm-ingest-{socket.gethostname()}"

    @property
    def device_segments(self) -> tuple[str, ...]:
        segments = tuple(s.strip() for s in self.subscribe_devices.split(",") if s.strip())
        return segments or ("+",)

    @property
    def effective_queue_max(self) -> int:
        """Large enough that paho's callback never blocks: the broker stops at receive_maximum."""
        floor = self.receive_maximum * self.mqtt_connections + self.batch_max
        return max(self.queue_max, floor)

    @model_validator(mode="after")
    def _check_ingest(self) -> IngestSettings:
        if self.source == "mqtt" and self.batch_max > self.receive_maximum * self.mqtt_connections:
            raise SettingsError(
                "MSM_INGEST_BATCH_MAX must not exceed MSM_INGEST_RECEIVE_MAXIMUM x connections: "
                "with manual acks the broker stops delivering at the receive maximum, so a "
                "larger batch could only ever close on time"
            )
        if self.source == "mqtt" and self.mqtt_connections > 1 and not self.shared_group:
            raise SettingsError("several MQTT connections need MSM_INGEST_SHARED_GROUP")
        for segment in self.device_segments:
            if segment != "+" and not is_thing_name(segment):
                raise SettingsError(f"MSM_INGEST_SUBSCRIBE_DEVICES: {segment!r} is not a device")
        if self.source == "sqs" and not self.sqs_queue_url:
            raise SettingsError("MSM_INGEST_SOURCE=sqs needs MSM_INGEST_SQS_QUEUE_URL")
        return self
