"""metersim's settings: `MSM_*` variables (deploy/local/env.sh sets them for the local stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from msm_common.settings import LOCAL_PKI, CommonSettings
from pydantic import Field


class MetersimSettings(CommonSettings):
    """Where the broker is, where certificates live, and the default fleet size."""

    service_name: str = "metersim"
    pki_dir: Path = LOCAL_PKI
    sim_devices: int = Field(default=20, ge=0, description="MSM_SIM_DEVICES: default --devices")
    provisioning_template: str = "msm-meter"
    metersim_state_dir: Path = Path(".local/metersim")
    metersim_issue_cert_command: str = "deploy/local/issue-device-cert.sh"
    # Fleet provisioning replies: "local" (localiot: on the claim client's own topics,
    # msm_common.topics.claim_scoped) or "aws" (AWS IoT: the standard topics, answered to the
    # requesting connection only).
    claim_topics: Literal["local", "aws"] = "local"

    @property
    def devices_dir(self) -> Path:
        """Device certificates: `<devices_dir>/<thing>/cert.pem, key.pem`."""
        return self.pki_dir / "devices"

    def identity(self, name: str) -> tuple[Path, Path]:
        """(cert, key) of a service identity in the PKI directory: loadgen, claim."""
        return self.pki_dir / f"{name}.crt", self.pki_dir / f"{name}.key"
