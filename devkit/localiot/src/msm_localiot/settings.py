"""localiot's settings: `MSM_*` variables, local-stack defaults (deploy/local/env.sh sets them)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from msm_common.settings import LOCAL_PKI, CommonSettings
from pydantic import Field, SecretStr


class LocaliotSettings(CommonSettings):
    """Device Shadow (MQTT + HTTP), fleet provisioning by claim and presence, beside mosquitto."""

    service_name: str = "localiot"
    # Its own MQTT identity (least privilege: deploy/local/mosquitto/acl.base, deploy/aws/).
    mqtt_cert_file: Path = LOCAL_PKI / "localiot.crt"
    mqtt_key_file: Path = LOCAL_PKI / "localiot.key"

    pki_dir: Path = LOCAL_PKI
    # Provisioning: the template devices name, where templates live, the hook that vets them.
    provisioning_template: str = "msm-meter"
    localiot_template_dirs: list[Path] = Field(
        default_factory=lambda: [
            Path("deploy/local/provisioning"),
            Path(".local/localiot/templates"),
        ]
    )
    provisioning_hook_url: str = ""  # empty: no pre-provisioning hook for the default template
    hook_token: SecretStr = SecretStr("")
    hook_timeout_s: float = Field(default=5.0, gt=0)  # AWS gives a hook 5 s
    ownership_token_ttl_s: int = Field(default=3600, ge=1)

    # The broker's view: per-device ACL fragments, the reload script, revocation into the CRL.
    mosquitto_acl_dir: Path = Path(".local/mosquitto/acl.d")
    mosquitto_reload: str = "deploy/local/mosquitto-reload.sh"
    localiot_revoke_command: str = "deploy/local/revoke-cert.sh"
    localiot_state_dir: Path = Path(".local/localiot")
    localiot_cert_sync_interval_s: float = Field(default=5.0, gt=0)

    localiot_workers: int = Field(default=4, ge=1, le=64)
    localiot_http_listen: str = ""  # host:port; empty: the host and port of iot_data_endpoint

    @property
    def ca_cert_file(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.pki_dir / "ca.key"

    @property
    def claim_cert_file(self) -> Path:
        return self.pki_dir / "claim.crt"

    @property
    def issued_cert_dir(self) -> Path:
        """PEM copies of the certificates localiot signed (revoke-cert.sh takes a file)."""
        return self.localiot_state_dir / "certs"

    @property
    def http_address(self) -> tuple[str, int]:
        """Where the iot-data HTTP endpoint listens."""
        listen = (
            self.localiot_http_listen
            or urllib.parse.urlsplit(self.iot_data_endpoint or "http://127.0.0.1:5056").netloc
        )
        host, _, port = listen.rpartition(":")
        return host or self.bind_host, int(port)
