"""What handlers reach: the provisioner's dependencies, built by `bootstrap`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from msm_common.auth.principal import Authenticator
from msm_common.contracts.events import CloudEvent

from msm_provisioner.adapters.nonces import NonceStore
from msm_provisioner.adapters.registry import Registry
from msm_provisioner.adapters.shadow import RotationSignal
from msm_provisioner.adapters.store import Store
from msm_provisioner.domain.hook import HookPolicy
from msm_provisioner.metrics import ProvisionerMetrics
from msm_provisioner.settings import ProvisionerSettings

SOURCE = "msm-provisioner"


class EventSink(Protocol):
    @property
    def ready(self) -> bool: ...

    def publish(self, event: CloudEvent) -> None: ...

    def flush(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class Deps:
    settings: ProvisionerSettings
    store: Store
    registry: Registry
    events: EventSink
    rotation: RotationSignal
    auth: Authenticator  # the api's access tokens, as the api itself checks them
    nonces: NonceStore  # hook signatures already used
    metrics: ProvisionerMetrics
    clock: Callable[[], datetime]
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def policy(self) -> HookPolicy:
        s = self.settings
        return HookPolicy(
            reprovision=s.provisioner_reprovision_policy,
            quota=s.provisioner_claim_quota,
            rate_per_minute=s.provisioner_claim_rate,
            rotation_timeout=timedelta(seconds=s.provisioner_rotation_timeout_s),
        )

    def close(self) -> None:
        for close in self.closers:
            close()
