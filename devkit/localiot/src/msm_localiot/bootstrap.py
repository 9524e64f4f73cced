"""The composition root: build localiot's parts from settings; tests pass their own parts.

    app = bootstrap(settings).start()   ...   app.stop()

Replaceable parts (keyword arguments): `clock` (epoch seconds), `mongo_db`, `shadow_store`,
`certificate_store`, `iot_client` (boto3 "iot") or `registry`, `broker`, `hook`, `ca`, and
`publisher` — given a publisher, localiot makes no MQTT connection at all (no MQTT requests,
presence or revocation sync): the HTTP side alone, for tests of the data plane.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import paho.mqtt.client as paho
from cryptography import x509
from cryptography.x509.oid import NameOID
from msm_common.adapters import mongo
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_common.adapters.mqtt_settings import service_mqtt_config
from pymongo.database import Database

from .http_side import HttpServer, IotDataApp
from .mqtt_side import Deps, MqttPublisher, Router, subscriptions
from .presence import OWN_IDENTITY, ClientIdPolicy, PresenceTracker
from .provisioning import certificates as certs
from .provisioning.broker import BrokerAccess, Kicker, MosquittoAccess, kick_config
from .provisioning.ca import LocalCA, certificate_fingerprint
from .provisioning.certificates import CertificateStore
from .provisioning.hook import Hook, HttpHook
from .provisioning.registry import Boto3Registry, Registry
from .provisioning.revocation import PeriodicSync, sync_certificate_status
from .provisioning.service import ProvisioningConfig, ProvisioningService
from .provisioning.templates import TemplateDirectory
from .publishing import Publisher
from .settings import LocaliotSettings
from .shadow import store as shadows_mongo
from .shadow.service import ShadowService
from .shadow.store import ShadowStore

log = logging.getLogger(__name__)


@dataclass
class Localiot:
    settings: LocaliotSettings
    shadows: ShadowService
    provisioning: ProvisioningService
    tracker: PresenceTracker
    http: HttpServer
    publisher: Publisher
    sync_certificates: Callable[[], list[str]]
    mqtt: MqttConnection | None = None
    router: Router | None = None
    periodic_sync: PeriodicSync | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self, timeout_s: float = 20.0) -> Localiot:
        if self.mqtt is not None:
            self.mqtt.start()
            if not self.mqtt.wait_connected(timeout_s):
                self.mqtt.stop()
                raise RuntimeError(f"MQTT broker not reachable: {self.mqtt.last_error}")
        self.http.start()
        if self.periodic_sync is not None:
            self.periodic_sync.start()
        log.info("localiot started")
        return self

    def stop(self) -> None:
        """Stop taking requests, finish the queued ones, then close everything."""
        self.http.stop()
        if self.mqtt is not None:
            self.mqtt.client.unsubscribe([t for t, _ in subscriptions()])
        if self.router is not None:
            self.router.stop()
        if self.periodic_sync is not None:
            self.periodic_sync.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        for close in self.closers:
            close()
        log.info("localiot stopped")


def bootstrap(
    settings: LocaliotSettings,
    *,
    clock: Callable[[], float] = time.time,
    mongo_db: Database[dict[str, Any]] | None = None,
    shadow_store: ShadowStore | None = None,
    certificate_store: CertificateStore | None = None,
    iot_client: Any = None,
    registry: Registry | None = None,
    broker: BrokerAccess | None = None,
    hook: Hook | None = None,
    ca: LocalCA | None = None,
    publisher: Publisher | None = None,
) -> Localiot:
    """Build localiot; each part given replaces the real one (`iot_client` is a boto3 "iot"
    client for the real registry). Given a `publisher`, no MQTT connection is made at all."""
    closers: list[Callable[[], None]] = []
    db = mongo_db
    if db is None and (shadow_store is None or certificate_store is None):
        client = mongo.connect(settings.mongo_uri, app_name="msm-localiot")
        closers.append(client.close)
        db = client[settings.database_name]

    store = shadow_store or _mongo_shadow_store(db)
    certificate_store = certificate_store or _mongo_certificate_store(db)
    shadows = ShadowService(store, clock)

    mqtt_config = service_mqtt_config(
        settings, default_client_id=f"msm-localiot-{uuid.uuid4().hex[:8]}"
    )
    holder: dict[str, Router] = {}
    mqtt: MqttConnection | None = None
    if publisher is None:
        mqtt = MqttConnection(
            mqtt_config,
            subscriptions=subscriptions(),
            on_message=lambda message: _route(holder, message),
        )
        publisher = MqttPublisher(mqtt)

    registry = registry or Boto3Registry(iot_client or _iot_client(settings))
    broker = broker or MosquittoAccess(
        settings.mosquitto_acl_dir,
        settings.mosquitto_reload,
        settings.localiot_revoke_command,
        settings.issued_cert_dir,
    )
    provisioning = ProvisioningService(
        _provisioning_config(settings),
        ca=ca or LocalCA.from_files(settings.ca_cert_file, settings.ca_key_file),
        certificates=certificate_store,
        registry=registry,
        broker=broker,
        templates=TemplateDirectory(settings.localiot_template_dirs),
        hook=hook or HttpHook(settings.hook_token.get_secret_value(), settings.hook_timeout_s),
        publisher=publisher,
        clock=lambda: datetime.fromtimestamp(clock(), tz=UTC),
    )
    # A meter's presence only from its own certificate; our own kick sessions by our CN.
    tracker = PresenceTracker(
        ClientIdPolicy(certificate_store.thing_of), own_identity=_common_name(mqtt_config)
    )
    kicker = Kicker(kick_config(mqtt_config), tracker.expect_kick)

    def sync() -> list[str]:
        return sync_certificate_status(
            certificate_store,
            registry,
            broker,
            connected_clients=tracker.clients_of,
            kick=kicker.kick,
            now=datetime.fromtimestamp(clock(), tz=UTC),
        )

    app = IotDataApp(
        shadows, publisher, clock, ready=lambda: mqtt is None or mqtt.connected.is_set()
    )
    host, port = settings.http_address
    localiot = Localiot(
        settings=settings,
        shadows=shadows,
        provisioning=provisioning,
        tracker=tracker,
        http=HttpServer(app, host, port),
        publisher=publisher,
        sync_certificates=sync,
        mqtt=mqtt,
        closers=closers,
    )
    if mqtt is not None:
        deps = Deps(shadows, provisioning, tracker, publisher, lambda: int(clock() * 1000))
        holder["router"] = localiot.router = Router(
            deps,
            shadow_workers=settings.localiot_workers,
            provisioning_workers=max(2, settings.localiot_workers // 2),
        )
        localiot.periodic_sync = PeriodicSync(sync, settings.localiot_cert_sync_interval_s)
    return localiot


def _route(holder: dict[str, Router], message: paho.MQTTMessage) -> None:
    router = holder.get("router")
    if router is not None:
        router.on_message(message)


def _mongo_shadow_store(db: Any) -> shadows_mongo.MongoShadowStore:
    found = shadows_mongo.MongoShadowStore(db[shadows_mongo.COLLECTION])
    found.ensure_indexes()
    return found


def _mongo_certificate_store(db: Any) -> certs.MongoCertificateStore:
    found = certs.MongoCertificateStore(db[certs.COLLECTION])
    found.ensure_indexes()
    return found


def _common_name(config: MqttConfig) -> str:
    """Our MQTT identity: the CN of our certificate (mosquitto's username for us)."""
    if config.cert_file is None:
        return OWN_IDENTITY
    try:
        cert = x509.load_pem_x509_certificate(Path(config.cert_file).read_bytes())
    except (OSError, ValueError):
        return OWN_IDENTITY
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else OWN_IDENTITY


def _iot_client(settings: LocaliotSettings) -> Any:
    session = boto3.session.Session()
    local_credentials: dict[str, str] = {}
    if session.get_credentials() is None and settings.aws_endpoint_url:
        # moto takes any credentials; a machine without AWS configuration has none.
        local_credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return session.client(
        "iot",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        **local_credentials,
    )


def _provisioning_config(settings: LocaliotSettings) -> ProvisioningConfig:
    claim = settings.claim_cert_file
    claim_id = certificate_fingerprint(claim.read_text()) if claim.is_file() else ""
    return ProvisioningConfig(
        default_template=settings.provisioning_template,
        default_hook_url=settings.provisioning_hook_url,
        token_ttl=timedelta(seconds=settings.ownership_token_ttl_s),
        claim_certificate_id=claim_id,
        region=settings.aws_region,
    )
