"""Smoke-check the local mTLS mosquitto: identities, ACLs, $SYS log topic, large packets.

Run with the project venv after `stack.sh up`:  .venv/bin/python deploy/local/check-mqtt.py
Issues a device certificate for CN=dev-1 (and reuses it on later runs). Exits 1 on any failure.
"""

from __future__ import annotations

import os
import queue
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

HERE = Path(__file__).resolve().parent
PKI = Path(os.environ.get("MSM_PKI_DIR", HERE.parent.parent / ".local" / "pki"))
HOST, PORT = "127.0.0.1", 8883
NOT_AUTHORIZED = 0x87
failures: list[str] = []


def success(code: int) -> bool:
    """PUBACK 0x10 "no matching subscribers" is a success too; a SUBACK carries the granted QoS."""
    return code < 0x80


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


class Peer:
    """A connected MQTT 5 client recording acks and received messages."""

    def __init__(self, cert: Path | None, key: Path | None, client_id: str = "") -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.acks: dict[int, queue.Queue[int]] = {}
        self.connack: queue.Queue[int] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"check-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.tls_set(
            ca_certs=str(PKI / "ca.crt"),
            certfile=cert and str(cert),
            keyfile=key and str(key),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc.value)
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_publish = lambda c, u, mid, rc, p: self._ack(mid, rc.value)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._ack(mid, rcs[0].value)

    def _ack(self, mid: int, code: int) -> None:
        self.acks.setdefault(mid, queue.Queue()).put(code)

    def connect(self) -> bool:
        try:
            self.client.connect(HOST, PORT, keepalive=30)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        try:
            return self.connack.get(timeout=5) == 0
        except queue.Empty:
            return False

    def _wait_ack(self, mid: int) -> int:
        return self.acks.setdefault(mid, queue.Queue()).get(timeout=5)

    def subscribe(self, topic: str) -> int:
        return self._wait_ack(self.client.subscribe(topic, qos=1)[1])

    def publish(self, topic: str, payload: bytes | str) -> int:
        """Publish with QoS 1; return the PUBACK reason code."""
        return self._wait_ack(self.client.publish(topic, payload, qos=1).mid)

    def received(self, topic: str, payload: bytes, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                return False
            if msg.topic == topic and msg.payload == payload:
                return True
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def identity(name: str, client_id: str = "") -> Peer:
    return Peer(PKI / f"{name}.crt", PKI / f"{name}.key", client_id)


def device(device_id: str) -> Peer:
    out = subprocess.run(
        [str(HERE / "issue-device-cert.sh"), device_id], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Peer(Path(out) / "cert.pem", Path(out) / "key.pem")


def drain(peer: Peer, topic: str, wait: float = 1.0) -> list[mqtt.MQTTMessage]:
    """Messages on `topic` received within `wait` seconds."""
    got, deadline = [], time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = peer.messages.get(timeout=left)
        except queue.Empty:
            break
        if msg.topic == topic:
            got.append(msg)
    return got


def check_services(backend: Peer, tag: bytes) -> None:
    """One identity per service, each with only what it uses; `backend` observes everything."""
    allowed = {
        ("ingest", "msm/x/reboot"): False,
        ("ingest", "msm/x/telemetry"): False,
        ("ingest", "$aws/events/presence/connected/x"): False,
        ("commander", "msm/x/reboot"): True,
        ("commander", "msm/x/sftp"): True,
        ("commander", "msm/x/telemetry"): False,
        ("commander", "$aws/events/presence/connected/x"): False,
        ("provisioner", "msm/x/reboot"): False,
        ("provisioner", "$aws/events/thing/x/created"): False,
        ("localiot", "$aws/events/presence/connected/x"): True,
        ("localiot", "$aws/things/x/shadow/update/accepted"): True,
        ("localiot", "msm/x/reboot"): False,
        ("loadgen", "$aws/events/presence/connected/x"): False,
        ("claim", "$aws/events/presence/connected/x"): False,
        ("claim", "$aws/certificates/create/json"): False,  # only on its own scope (below)
        ("backend", "msm/x/reboot"): False,  # the former shared identity: no rights left
        ("backend", "msm/x/telemetry"): False,
    }
    peers = {name: identity(name) for name in {name for name, _ in allowed}}
    for (name, topic), ok in allowed.items():
        peer = peers[name]
        if not peer.client.is_connected():
            check(peer.connect(), f"{name} certificate connects")
        sent = peer.publish(topic, tag)
        check(
            success(sent) == ok and backend.received(topic, tag, timeout=1.0) == ok,
            f"{name} -> {topic}: " + ("delivered" if ok else "refused (0x87), not delivered"),
        )
    ingest = peers["ingest"]
    check(success(ingest.subscribe("$share/ingest/msm/+/telemetry")), "ingest shares telemetry")
    check(success(ingest.subscribe("$aws/events/presence/+/+")), "ingest subscribes presence")
    check(
        success(backend.publish("msm/x/telemetry", tag))
        and ingest.received("msm/x/telemetry", tag),
        "ingest reads telemetry",
    )
    for peer in peers.values():
        peer.close()


def main() -> int:
    check(not Peer(None, None).connect(), "client without a certificate is refused")

    backend = identity("test-observer")  # tests only: sees and may publish anything
    check(backend.connect(), "test-observer certificate connects")
    for topic in ("msm/+/#", "$aws/#", "$SYS/broker/log/#", "msm-local/#"):
        check(success(backend.subscribe(topic)), f"test-observer subscribes {topic}")
    tag = uuid.uuid4().bytes
    check(success(backend.publish("msm/x/telemetry", tag)), "test-observer publishes telemetry")
    check(backend.received("msm/x/telemetry", tag), "test-observer receives msm/x/telemetry")

    check_services(backend, tag)

    loadgen = identity("loadgen")
    check(loadgen.connect(), "loadgen certificate connects")
    check(
        success(loadgen.publish("msm/dev-2/telemetry", tag)),
        "loadgen publishes msm/dev-2/telemetry",
    )

    dev = device("dev-1")
    check(dev.connect(), "device dev-1 connects")
    check(
        any(b"u'dev-1'" in m.payload for m in drain(backend, "$SYS/broker/log/N")),
        "$SYS/broker/log/N reports dev-1's connection with u'dev-1'",
    )
    check(success(dev.publish("msm/dev-1/telemetry", tag)), "dev-1 publishes msm/dev-1/telemetry")
    check(backend.received("msm/dev-1/telemetry", tag), "backend receives dev-1's telemetry")
    check(
        dev.publish("msm/dev-2/telemetry", tag) == NOT_AUTHORIZED,
        "dev-1 -> msm/dev-2/telemetry: PUBACK 0x87",
    )
    check(
        not backend.received("msm/dev-2/telemetry", tag),
        "backend does not receive the denied publish",
    )
    # mosquitto 2.0.11 grants the SUBACK but checks read access on every delivery.
    dev.subscribe("msm/dev-2/#")
    check(
        success(loadgen.publish("msm/dev-2/telemetry", tag))
        and not dev.received("msm/dev-2/telemetry", tag),
        "dev-1 subscribed to msm/dev-2/# receives nothing",
    )
    check(
        success(dev.publish("$aws/things/dev-1/shadow/update", b"{}")),
        "dev-1 publishes its own shadow update",
    )
    check(
        dev.publish("$aws/things/dev-2/shadow/update", b"{}") == NOT_AUTHORIZED,
        "dev-1 -> dev-2's shadow: 0x87",
    )

    mine, other = f"provision-{uuid.uuid4().hex}", f"provision-{uuid.uuid4().hex}"
    claim = identity("claim", mine)
    check(claim.connect(), "claim certificate connects")
    check(
        claim.publish("msm/dev-1/telemetry", tag) == NOT_AUTHORIZED,
        "claim -> msm/dev-1/telemetry: 0x87",
    )
    scope = f"msm-local/claim/{mine}/$aws/certificates/create/json"
    check(success(claim.subscribe(f"{scope}/#")), "claim subscribes its own reply topics")
    check(success(claim.subscribe("msm-local/claim/+/$aws/#")), "claim subscribes any scope")
    check(
        success(claim.publish(scope, b"{}")) and backend.received(scope, b"{}", timeout=1.0),
        "claim publishes a request on its own scope",
    )
    check(
        claim.publish(f"msm-local/claim/{other}/$aws/certificates/create/json", b"{}")
        == NOT_AUTHORIZED,
        "claim -> another client's scope: 0x87",
    )
    check(
        success(backend.publish(f"msm-local/claim/{other}/x/accepted", tag))
        and not claim.received(f"msm-local/claim/{other}/x/accepted", tag, timeout=1.0),
        "claim does not receive another client's replies",
    )
    check(
        success(backend.publish(f"{scope}/accepted", tag))
        and claim.received(f"{scope}/accepted", tag),
        "claim receives its own replies",
    )

    check(
        success(loadgen.publish("$aws/things/dev-2/shadow/get", b"{}")),
        "loadgen publishes dev-2's shadow get",
    )

    big = os.urandom(1024 * 1024)
    check(success(backend.publish("msm/x/telemetry", big)), "1 MB publish accepted")
    check(backend.received("msm/x/telemetry", big, timeout=5), "1 MB message delivered")

    dev.close()
    check(
        any(b"disconnected" in m.payload for m in drain(backend, "$SYS/broker/log/N")),
        "$SYS/broker/log/N reports a disconnect",
    )
    for peer in (claim, loadgen, backend):
        peer.close()
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
