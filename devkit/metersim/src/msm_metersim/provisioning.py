"""Fleet provisioning by claim, as a meter does it on first boot (against localiot or AWS IoT).

With the shared claim certificate: CreateKeysAndCertificate (`$aws/certificates/create/json`),
then RegisterThing (`$aws/provisioning-templates/<template>/provision/json`) with the ownership
token and `SerialNumber`. The client id is `provision-<random>` (the AWS claim policy allows no
other); against localiot every topic is under the client's own scope
(`msm-local/claim/<client id>/...`), where no other holder of the claim certificate can read
the private key and ownership token it gets back. The new certificate is stored under
`<pki>/devices/<thing>/` and the serial -> thing mapping under the state directory, so a restart
reuses them.
"""

from __future__ import annotations

import json
import os
import queue
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Self

import orjson
import paho.mqtt.client as paho
from msm_common import topics
from msm_common.adapters.mqtt import MqttConfig, MqttConnection
from msm_common.contracts import is_thing_name

from msm_metersim.identity import Identity, cert_paths, has_cert
from msm_metersim.settings import MetersimSettings

RESPONSE_TIMEOUT_S: Final = 15.0


class ProvisioningError(RuntimeError):
    """The claim flow was refused or did not answer."""


class ClaimClient:
    """One connection with the claim certificate; provisions meters one after the other."""

    def __init__(self, settings: MetersimSettings, *, timeout_s: float = RESPONSE_TIMEOUT_S):
        self.template = settings.provisioning_template
        self.timeout_s = timeout_s
        self._inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        cert, key = settings.identity("claim")
        client_id = f"provision-{uuid.uuid4().hex}"
        config = MqttConfig(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_ca_file,
            cert,
            key,
            client_id=client_id,
        )
        local = settings.claim_topics == "local"
        self._scope: Callable[[str], str] = (
            (lambda topic: topics.claim_scoped(client_id, topic)) if local else (lambda t: t)
        )
        results = (topics.ProvisioningResult.ACCEPTED, topics.ProvisioningResult.REJECTED)
        filters = [self._scope(topics.create_certificate(r)) for r in results]
        filters += [self._scope(topics.provision(self.template, r)) for r in results]
        self._conn = MqttConnection(
            config, subscriptions=[(f, 1) for f in filters], on_message=self._on_message
        )

    def _on_message(self, message: paho.MQTTMessage) -> None:
        self._inbox.put((message.topic, bytes(message.payload)))

    def __enter__(self) -> Self:
        self._conn.start()
        if not self._conn.wait_connected(self.timeout_s):
            self._conn.stop()
            raise ProvisioningError(f"claim connection failed: {self._conn.last_error}")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._conn.stop()

    def provision(self, serial: str) -> dict[str, Any]:
        """Create keys and a certificate, register the thing; return the combined answers."""
        created = self._request(topics.create_certificate(), {}, topics.create_certificate)
        registered = self._request(
            topics.provision(self.template),
            {
                "certificateOwnershipToken": created["certificateOwnershipToken"],
                "parameters": {"SerialNumber": serial},
            },
            lambda result: topics.provision(self.template, result),
        )
        thing = registered.get("thingName")
        if not isinstance(thing, str) or not is_thing_name(thing):
            raise ProvisioningError(f"RegisterThing gave no usable thingName: {registered}")
        return {**created, **registered}

    def _request(self, topic: str, body: dict[str, Any], answer: Any) -> dict[str, Any]:
        accepted = self._scope(answer(topics.ProvisioningResult.ACCEPTED))
        rejected = self._scope(answer(topics.ProvisioningResult.REJECTED))
        self._conn.publish(self._scope(topic), orjson.dumps(body), qos=1)
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                got_topic, payload = self._inbox.get(timeout=left)
            except queue.Empty:
                break
            if got_topic == rejected:
                raise ProvisioningError(f"{topic} rejected: {payload.decode(errors='replace')}")
            if got_topic == accepted:
                data = json.loads(payload)
                if isinstance(data, dict):
                    return data
        raise ProvisioningError(f"no answer to {topic} within {self.timeout_s} s")


def _state_file(settings: MetersimSettings, serial: str) -> Path:
    return settings.metersim_state_dir / "provisioned" / f"{serial}.json"


def _store(settings: MetersimSettings, serial: str, answer: dict[str, Any]) -> Identity:
    thing = answer["thingName"]
    cert, key = cert_paths(settings, thing)
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_text(answer["certificatePem"])
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(answer["privateKey"])
    state = _state_file(settings, serial)
    state.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "serial": serial,
        "thing_name": thing,
        "certificate_id": answer.get("certificateId"),
        "device_configuration": answer.get("deviceConfiguration", {}),
        "provisioned_at": time.time(),
    }
    state.write_text(json.dumps(record, indent=2))
    return Identity(thing, serial, cert, key)


def known(settings: MetersimSettings, serial: str) -> Identity | None:
    """The identity an earlier run provisioned for `serial`, if its certificate is still here."""
    try:
        thing = json.loads(_state_file(settings, serial).read_text())["thing_name"]
    except (OSError, ValueError, KeyError):
        return None
    if not has_cert(settings, thing):
        return None
    cert, key = cert_paths(settings, thing)
    return Identity(thing, serial, cert, key)


def provision_fleet(settings: MetersimSettings, serials: Sequence[str]) -> list[Identity]:
    """Identities for `serials`: reused from an earlier run, or provisioned now by claim."""
    found = {serial: known(settings, serial) for serial in serials}
    missing = [serial for serial, who in found.items() if who is None]
    if missing:
        with ClaimClient(settings) as claim:
            for serial in missing:
                found[serial] = _store(settings, serial, claim.provision(serial))
    return [who for who in found.values() if who is not None]
