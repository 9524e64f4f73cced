"""Integration fixtures for the commander: the real service over Mongo, RabbitMQ and mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from commander_harness import FAST, QUICK_ACKS, AckRelay, Api, EventTap, FakeMeter, always
from msm_commander.bootstrap import Commander, bootstrap
from msm_commander.settings import CommanderSettings
from msm_common.adapters.amqp import ConfirmingPublisher
from msm_common.adapters.amqp_topology import EVENTS_EXCHANGE
from msm_common.secrets import LocalKeyring, SecretBox, ensure_local_keyfile
from support.services import unique


@pytest.fixture
def queue_names() -> dict[str, str]:
    """Queues of this test's own: a stopped commander's leftovers never reach the next test."""
    tag = unique("t")
    return {
        "requests_queue": f"{tag}.requests",
        "acks_queue": f"{tag}.acks",
        "presence_queue": f"{tag}.presence",
    }


@pytest.fixture(scope="session")
def secrets_key_file(tmp_path_factory: Any) -> Any:
    """The envelope key the commander opens device secrets with (the api's, in production)."""
    return ensure_local_keyfile(tmp_path_factory.mktemp("secrets") / "envelope.keys")


@pytest.fixture
def secret_box(secrets_key_file: Any) -> SecretBox:
    return SecretBox(LocalKeyring(secrets_key_file))


@pytest.fixture
def commander_settings(
    endpoints: Any,
    amqp_url: str,
    mongo_db: Any,
    queue_names: dict[str, str],
    secrets_key_file: Any,
) -> Any:
    def make(**overrides: Any) -> CommanderSettings:
        fields: dict[str, Any] = {
            "env": "test",
            "mongo_uri": endpoints.mongo_uri,
            "mongo_db": mongo_db.name,
            "amqp_url": amqp_url,
            "mqtt_host": endpoints.mqtt_host,
            "mqtt_port": endpoints.mqtt_port,
            "mqtt_ca_file": endpoints.pki("ca.crt"),
            "mqtt_cert_file": endpoints.pki("commander.crt"),
            "mqtt_key_file": endpoints.pki("commander.key"),
            "metrics_port": 0,
            "secrets_key_file": secrets_key_file,
            "consumers": 2,
            **FAST,
            **queue_names,
        }
        fields.update(overrides)
        return CommanderSettings(**fields)

    return make


@pytest.fixture
def start_commander(commander_settings: Any, mongo_db: Any) -> Iterator[Any]:
    started: list[Commander] = []

    def start(**overrides: Any) -> Commander:
        commander = bootstrap(commander_settings(**overrides), db=mongo_db).start()
        started.append(commander)
        assert commander.wait_ready(15), commander.readiness().as_dict()
        return commander

    yield start
    for commander in started:
        commander.stop()


@pytest.fixture
def commander(start_commander: Any) -> Commander:
    return start_commander()


@pytest.fixture
def quick_commander(start_commander: Any) -> Commander:
    """A commander with short ack windows, for the tests of resends and timeouts."""
    return start_commander(**QUICK_ACKS)


@pytest.fixture
def relay(amqp_url: str) -> Iterator[AckRelay]:
    r = AckRelay(amqp_url)
    yield r
    r.close()


@pytest.fixture
def api(mongo_db: Any, amqp_url: str, secret_box: SecretBox) -> Iterator[Api]:
    publisher = ConfirmingPublisher(amqp_url, name="test-api").start(timeout=15)
    assert publisher.ready
    yield Api(mongo_db, publisher, secret_box)
    publisher.close()


@pytest.fixture
def status_events(amqp_url: str) -> Iterator[EventTap]:
    tap = EventTap(amqp_url, EVENTS_EXCHANGE, ("command.status.#",))
    yield tap
    tap.close()


@pytest.fixture
def meter(endpoints: Any, issue_device_cert: Any, relay: AckRelay, mongo_db: Any) -> Iterator[Any]:
    """`meter(behaviour=..., online=True, known=True)`: a registered fake meter, connected."""
    meters: list[FakeMeter] = []

    def make(
        behaviour: Any = None,
        *,
        online: bool | None = True,
        known: bool = True,
        connect: bool = True,
    ) -> FakeMeter:
        device = unique("meter")
        m = FakeMeter(device, relay, behaviour or always())
        if known:
            doc: dict[str, Any] = {
                "_id": device,
                "device_imei": "356938035643809",
                "mqtt_status": False,
                "sftp_status": False,
            }
            if online is not None:
                doc["connectivity"] = {"connected": online}
            mongo_db["devices"].insert_one(doc)
        if connect:
            cert, key = issue_device_cert(device)
            m.connect(endpoints, cert, key)
        meters.append(m)
        return m

    yield make
    for m in meters:
        m.stop()
