"""The composition root: settings in, the provisioner's dependencies out. Nothing runs at import.

Replaceable parts (keyword arguments, for tests): `db`, `clock`, `registry` or `iot_client`,
`events` or `amqp_publisher`, `rotation`, `accounts`.
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
from msm_common.adapters.mqtt_settings import service_mqtt_config
from msm_common.auth.principal import Accounts, Authenticator, MongoAccounts, RoleCache, mongo_roles
from msm_common.auth.tokens import JwksKeys, TokenVerifier
from pymongo.database import Database

from msm_provisioner.adapters.events import AmqpPublisher, Outbox
from msm_provisioner.adapters.nonces import NonceStore
from msm_provisioner.adapters.registry import Boto3Registry, Registry
from msm_provisioner.adapters.registry import iot_client as boto3_iot_client
from msm_provisioner.adapters.shadow import RotationSignal, ShadowRotationSignal
from msm_provisioner.adapters.store import Store
from msm_provisioner.deps import Deps, EventSink
from msm_provisioner.metrics import ProvisionerMetrics
from msm_provisioner.settings import ProvisionerSettings

log = logging.getLogger(__name__)
PUBLISHER_START_TIMEOUT_S = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    settings: ProvisionerSettings,
    *,
    db: Database[dict[str, Any]] | None = None,
    clock: Callable[[], datetime] | None = None,
    registry: Registry | None = None,
    iot_client: Any = None,
    events: EventSink | None = None,
    amqp_publisher: AmqpPublisher | None = None,
    rotation: RotationSignal | None = None,
    accounts: Accounts | None = None,
) -> Deps:
    """Build the dependencies; each part given replaces the real one. `iot_client` (a boto3
    "iot" client) is used for the real registry, `amqp_publisher` for the real event outbox."""
    closers: list[Callable[[], None]] = []
    if db is None:
        client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
        closers.append(client.close)
        db = client[settings.database_name]
    clock = clock or utcnow
    registry = registry or Boto3Registry(
        iot_client or boto3_iot_client(settings.aws_endpoint_url, settings.aws_region)
    )
    if events is None:
        amqp = amqp_publisher or ConfirmingPublisher(
            settings.amqp_url, name=settings.service_name
        ).start(PUBLISHER_START_TIMEOUT_S)
        events = Outbox(db, amqp, clock)
    closers.insert(0, events.close)
    rotation = rotation or ShadowRotationSignal(settings.iot_data_endpoint, settings.aws_region)
    verifier = TokenVerifier(
        JwksKeys(settings.api_jwks_url, cache_s=settings.api_jwks_cache_s),
        issuer=settings.api_jwt_issuer,
        audience=settings.api_jwt_audience,
    )
    return Deps(
        settings=settings,
        store=Store(db),
        registry=registry,
        events=events,
        rotation=rotation,
        auth=Authenticator(verifier, accounts or MongoAccounts(db), RoleCache(mongo_roles(db))),
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
    return service_mqtt_config(
        settings, default_client_id=f"msm-provisioner-{uuid.uuid4().hex[:8]}"
    )
