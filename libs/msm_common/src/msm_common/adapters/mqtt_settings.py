"""The MQTT connection a service opens under its own identity, from its `MSM_MQTT_*` settings."""

from __future__ import annotations

from msm_common.adapters.mqtt import MqttConfig
from msm_common.settings import CommonSettings


def service_mqtt_config(settings: CommonSettings, *, default_client_id: str) -> MqttConfig:
    """Broker, TLS identity and keep-alive of `settings`; the client id is `MSM_MQTT_CLIENT_ID`,
    else `default_client_id`."""
    return MqttConfig(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        ca_file=settings.mqtt_ca_file,
        cert_file=settings.mqtt_cert_file,
        key_file=settings.mqtt_key_file,
        client_id=settings.mqtt_client_id or default_client_id,
        keepalive_s=settings.mqtt_keepalive_s,
    )
