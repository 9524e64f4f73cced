"""Helpers for localiot's integration tests: AWS's device SDK as a device, an observer listener,
a tiny pre-provisioning hook server."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from awscrt import mqtt, mqtt5
from awsiot import iotidentity, mqtt5_client_builder
from msm_common import topics
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from support.json_stub import JsonStub

TIMEOUT = 15.0
QOS1 = mqtt.QoS.AT_LEAST_ONCE


class ConnectFailed(RuntimeError):
    pass


@dataclass
class SdkDevice:
    """An awsiotsdk MQTT 5 client over mTLS, as firmware would use it."""

    client: mqtt5.Client
    client_id: str
    stopped: Future[None] = field(default_factory=Future)

    @classmethod
    def connect(
        cls, cert: Path, key: Path, ca: Path, client_id: str, port: int = 8883
    ) -> SdkDevice:
        connected: Future[bool] = Future()
        stopped: Future[None] = Future()

        def failed(data: mqtt5.LifecycleConnectFailureData) -> None:
            if not connected.done():
                connected.set_exception(ConnectFailed(str(data.exception)))

        def disconnected(_data: mqtt5.LifecycleDisconnectData) -> None:
            if not stopped.done():
                stopped.set_result(None)

        client = mqtt5_client_builder.mtls_from_path(
            endpoint="localhost",  # the broker certificate names localhost and 127.0.0.1
            port=port,
            cert_filepath=str(cert),
            pri_key_filepath=str(key),
            ca_filepath=str(ca),
            client_id=client_id,
            on_lifecycle_connection_success=lambda _d: (
                connected.done() or connected.set_result(True)
            ),
            on_lifecycle_connection_failure=failed,
            on_lifecycle_disconnection=disconnected,
        )
        client.start()
        try:
            connected.result(TIMEOUT)
        except BaseException:
            client.stop()
            raise
        return cls(client, client_id, stopped)

    def publish(self, topic: str, payload: bytes) -> None:
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
        self.client.publish(packet).result(TIMEOUT)

    def stop(self, *, clean: bool = True) -> None:
        """Disconnect with a DISCONNECT packet, or (clean=False) just drop the connection."""
        self.client.stop(mqtt5.DisconnectPacket() if clean else None)


@dataclass
class Provisioned:
    thing_name: str
    certificate_id: str
    cert: Path
    key: Path


def claim_client_id() -> str:
    """A claim connection's client id: `provision-<random>` (the AWS claim policy's rule)."""
    return f"provision-{uuid.uuid4().hex}"


def first_message(subscribe: Any, request: Any) -> Future[Any]:
    """Subscribe (an SDK client's `subscribe_to_…` with its request) and wait until the broker
    confirms; the future holds the first message that arrives."""
    got: Future[Any] = Future()

    def keep(message: Any) -> None:
        if not got.done():
            got.set_result(message)

    subscribed, _ = subscribe(request, QOS1, keep)
    subscribed.result(TIMEOUT)
    return got


def connect_claim(endpoints: Any) -> SdkDevice:
    """A connection with the fleet's claim certificate, as a meter makes before it has its own."""
    return SdkDevice.connect(
        endpoints.pki("claim.crt"),
        endpoints.pki("claim.key"),
        endpoints.pki("ca.crt"),
        claim_client_id(),
    )


class ClaimSession:
    """The claim identity with AWS's provisioning messages (`awsiot.iotidentity` requests and
    responses) on localiot's per-client topics (`msm-local/claim/<clientId>/...`): there, as on
    AWS, the answers reach this connection only."""

    def __init__(self, device: SdkDevice) -> None:
        self.device = device
        self.connection = device.client.new_connection()

    def create_keys_and_certificate(self) -> iotidentity.CreateKeysAndCertificateResponse:
        return self._call(
            topics.create_certificate(), {}, iotidentity.CreateKeysAndCertificateResponse
        )

    def create_certificate_from_csr(
        self, csr_pem: str
    ) -> iotidentity.CreateCertificateFromCsrResponse:
        request = iotidentity.CreateCertificateFromCsrRequest(certificate_signing_request=csr_pem)
        return self._call(
            topics.create_certificate_from_csr(),
            request.to_payload(),
            iotidentity.CreateCertificateFromCsrResponse,
        )

    def register_thing(
        self, template: str, token: str, parameters: dict[str, str]
    ) -> iotidentity.RegisterThingResponse:
        request = iotidentity.RegisterThingRequest(
            template_name=template, certificate_ownership_token=token, parameters=parameters
        )
        return self._call(
            topics.provision(template), request.to_payload(), iotidentity.RegisterThingResponse
        )

    def _call(self, topic: str, payload: dict[str, Any], response: Any) -> Any:
        answer: Future[tuple[bool, dict[str, Any]]] = Future()
        for result, accepted in (("accepted", True), ("rejected", False)):

            def on_reply(topic: str, payload: bytes, accepted: bool = accepted, **_: Any) -> None:
                if not answer.done():
                    answer.set_result((accepted, json.loads(payload)))

            scoped = topics.claim_scoped(self.device.client_id, f"{topic}/{result}")
            subscribed, _ = self.connection.subscribe(scoped, QOS1, on_reply)
            subscribed.result(TIMEOUT)
        body = json.dumps(payload)
        published, _ = self.connection.publish(
            topics.claim_scoped(self.device.client_id, topic), body, QOS1
        )
        published.result(TIMEOUT)
        accepted, reply = answer.result(TIMEOUT)
        if not accepted:
            raise Rejected(iotidentity.ErrorResponse.from_payload(reply))
        return response.from_payload(reply)


class Rejected(Exception):
    def __init__(self, error: iotidentity.ErrorResponse) -> None:
        super().__init__(f"{error.status_code} {error.error_code}: {error.error_message}")
        self.error = error


def provision(pki: Path, tmp: Path, serial: str, template: str = "msm-meter") -> Provisioned:
    """The whole fleet-provisioning-by-claim flow, as a device does it."""
    claim = SdkDevice.connect(
        pki / "claim.crt", pki / "claim.key", pki / "ca.crt", claim_client_id()
    )
    try:
        session = ClaimSession(claim)
        created = session.create_keys_and_certificate()
        registered = session.register_thing(
            template, created.certificate_ownership_token, {"SerialNumber": serial}
        )
    finally:
        claim.stop()
    cert, key = tmp / f"{serial}.crt", tmp / f"{serial}.key"
    cert.write_text(created.certificate_pem)
    key.write_text(created.private_key)
    return Provisioned(registered.thing_name, created.certificate_id, cert, key)


class Listener:
    """A subscriber with the tests' observer identity collecting (topic, payload) pairs."""

    def __init__(self, pki: Path, host: str, port: int, *filters: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        config = MqttConfig(
            host=host,
            port=port,
            ca_file=pki / "ca.crt",
            cert_file=pki / "test-observer.crt",
            key_file=pki / "test-observer.key",
            client_id=f"test-listener-{uuid.uuid4().hex[:8]}",
        )
        subscribed = threading.Event()
        self.connection = MqttConnection(
            config,
            subscriptions=[(f, 1) for f in filters],
            on_message=lambda m: self.messages.put((m.topic, bytes(m.payload))),
            on_connect=lambda _s: subscribed.set(),
        )
        self.connection.start()
        assert subscribed.wait(TIMEOUT), self.connection.last_error
        # The SUBACK follows the CONNACK; a round trip through the broker settles it.
        probe = f"msm/test-probe-{uuid.uuid4().hex[:8]}/x"
        self.connection.subscribe(probe)
        self.connection.publish(probe, b"probe")
        self.wait_for(lambda t, _p: t == probe)

    def wait_for(self, match: Any, timeout: float = TIMEOUT) -> tuple[str, Any]:
        """The first message, received so far or within `timeout`, that `match(topic, payload)`
        accepts (JSON payloads decoded). Messages are kept: several waits may look at one."""
        for topic, payload in self.seen:
            if match(topic, payload):
                return topic, payload
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                topic, raw = self.messages.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append((topic, _decode(raw)))
            if match(*self.seen[-1]):
                return self.seen[-1]
        raise TimeoutError("no matching message")

    def nothing_on(self, topic: str, seconds: float) -> bool:
        try:
            self.wait_for(lambda t, _p: t == topic, seconds)
        except TimeoutError:
            return True
        return False

    def stop(self) -> None:
        self.connection.stop()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@dataclass
class HookServer:
    """A pre-provisioning hook on 127.0.0.1 answering `answer`; records what it received."""

    answer: dict[str, Any]
    calls: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""


@contextlib.contextmanager
def hook_server(answer: dict[str, Any]) -> Iterator[HookServer]:
    hook = HookServer(answer)
    with JsonStub(lambda: hook.answer) as stub:
        hook.calls, hook.url = stub.calls, stub.url("/pre-provisioning")
        yield hook


@dataclass
class RecordingPublisher:
    """Stands in for the broker when a test runs localiot's HTTP side alone."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload))
