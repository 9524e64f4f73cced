"""The composition root: settings in, the provisioner's dependencies out. Nothing runs at import.

Overrides (tests): `db`, `clock`, `registry` or `iot_client`, `events` or `amqp_publisher`,
`rotation`, `accounts`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from msm_common.adapters import mongo
from msm_common.adapters.amqp import ConfirmingPublisher
from msm_common.adapters.mqtt import MqttConfig
from msm_common.auth.principal import Accounts, Authenticator, MongoAccounts, RoleCache, mongo_roles
from msm_common.auth.tokens import JwksKeys, TokenVerifier
from pymongo.database import Database

from msm_provisioner.adapters.events import Outbox
from msm_provisioner.adapters.nonces import NonceStore
from msm_provisioner.adapters.registry import Boto3Registry, Registry, iot_client
from msm_provisioner.adapters.shadow import RotationSignal, ShadowRotationSignal
from msm_provisioner.adapters.store import Store
from msm_provisioner.deps import Deps, EventSink
from msm_provisioner.metrics import ProvisionerMetrics
from msm_provisioner.settings import ProvisionerSettings

log = logging.getLogger(__name__)
PUBLISHER_START_TIMEOUT_S = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def bootstrap(settings: ProvisionerSettings, **overrides: Any) -> Deps:
    closers: list[Callable[[], None]] = []
    db: Database[dict[str, Any]] | None = overrides.get("db")
    if db is None:
        client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
        closers.append(client.close)
        db = client[settings.database_name]
    clock: Callable[[], datetime] = overrides.get("clock") or utcnow
    registry: Registry = overrides.get("registry") or Boto3Registry(
        overrides.get("iot_client") or iot_client(settings.aws_endpoint_url, settings.aws_region)
    )
    events: EventSink | None = overrides.get("events")
    if events is None:
        amqp = overrides.get("amqp_publisher") or ConfirmingPublisher(
            settings.amqp_url, name=settings.service_name
        ).start(PUBLISHER_START_TIMEOUT_S)
        events = Outbox(db, amqp, clock)
    closers.insert(0, events.close)
    rotation: RotationSignal = overrides.get("rotation") or ShadowRotationSignal(
        settings.iot_data_endpoint, settings.aws_region
    )
    verifier = TokenVerifier(
        JwksKeys(settings.api_jwks_url, cache_s=settings.api_jwks_cache_s),
        issuer=settings.api_jwt_issuer,
        audience=settings.api_jwt_audience,
    )
    accounts: Accounts = overrides.get("accounts") or MongoAccounts(db)
    return Deps(
        settings=settings,
        store=Store(db),
        registry=registry,
        events=events,
        rotation=rotation,
        auth=Authenticator(verifier, accounts, RoleCache(mongo_roles(db))),
        nonces=NonceStore(db),
        metrics=ProvisionerMetrics(),
        clock=clock,
        closers=closers,
    )


def prepare(d: Deps) -> None:
    """Idempotent start-up work, safe in every replica: indexes."""
    d.store.ensure_indexes()
    d.nonces.ensure_indexes()
    if isinstance(d.events, Outbox):
        d.events.ensure_indexes()


def mqtt_config(settings: ProvisionerSettings) -> MqttConfig:
    return MqttConfig(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        ca_file=settings.mqtt_ca_file,
        cert_file=settings.mqtt_cert_file,
        key_file=settings.mqtt_key_file,
        client_id=settings.mqtt_client_id or f"msm-provisioner-{uuid.uuid4().hex[:8]}",
        keepalive_s=settings.mqtt_keepalive_s,
    )
