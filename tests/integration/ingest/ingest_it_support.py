"""Helpers for ingest's integration tests: run ingest, publish, read events, break connections."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from msm_common.adapters.mqtt import MqttConnection
from msm_ingest.bootstrap import Ingest, bootstrap
from msm_ingest.ports import Delivery, Sink
from msm_ingest.settings import IngestSettings
from support.services import unique


def now_ms() -> int:
    return int(time.time() * 1000)


def settings_for(endpoints: Any, db_name: str, amqp_url: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "mongo_uri": endpoints.mongo_uri,
        "mongo_db": db_name,
        "amqp_url": amqp_url,
        "client_id": unique("it-ingest"),
        "shared_group": unique("g"),
        "metrics_port": 0,
        "shadow_enabled": False,
        "batch_max_wait_ms": 20,
        "recovery_interval_s": 0.5,
        "outbox_after_ms": 300,
        "mongo_timeout_ms": 1500,
    }
    values.update(overrides)
    return IngestSettings(**values)


@contextlib.contextmanager
def running(settings: IngestSettings, **overrides: Any) -> Iterator[Ingest]:
    ingest = bootstrap(settings, **overrides)
    stop = threading.Event()
    assert ingest.prepare(stop)
    ingest.start()
    wait_connected = getattr(ingest.source, "wait_connected", None)
    if wait_connected is not None:
        assert wait_connected(10), "ingest did not connect to the broker"
    try:
        yield ingest
    finally:
        ingest.stop(5.0)


class ListSource:
    """A Source fed by the test; counts acknowledgements per message."""

    name = "list"
    sink_may_block = True
    disconnects = 0

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self.acked: dict[int, int] = {}
        self.lock = threading.Lock()

    def start(self, sink: Sink) -> None:
        self.sink = sink

    def feed(self, topic: str, payload: bytes, received_at: datetime | None = None) -> int:
        key = len(self.acked)
        self.acked[key] = 0

        def ack() -> None:
            with self.lock:
                self.acked[key] += 1

        assert self.sink is not None
        self.sink([Delivery(topic, payload, received_at or datetime.now(UTC), ack, "list")])
        return key

    @property
    def acks(self) -> int:
        return sum(1 for n in self.acked.values() if n)

    def pause(self) -> None: ...
    def flush_acks(self) -> None: ...
    def stop(self) -> None: ...
    def ready(self) -> bool:
        return True


class Meter:
    """Publishes as any device (the `loadgen` identity may publish to msm/#)."""

    def __init__(self, endpoints: Any, cert: str = "loadgen") -> None:
        cfg = endpoints.mqtt_config(
            endpoints.pki(f"{cert}.crt"), endpoints.pki(f"{cert}.key"), unique("it-meter")
        )
        self.conn = MqttConnection(cfg).start()
        assert self.conn.wait_connected(10), self.conn.last_error

    def publish(self, topic: str, payload: bytes) -> None:
        self.conn.publish(topic, payload, 1).wait_for_publish(10)

    def close(self) -> None:
        self.conn.stop()


class TcpProxy:
    """A loopback TCP forwarder that can be cut (`down`) and restored (`up`)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def down(self) -> None:
        self.open = False
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def up(self) -> None:
        self.open = True

    def close(self) -> None:
        self.down()
        self.server.close()


def proxied_mongo(endpoints: Any, db_name: str) -> tuple[TcpProxy, str]:
    """A TcpProxy in front of the test database, and a URI of `db_name` through it."""
    proxy = TcpProxy(urllib.parse.urlsplit(endpoints.mongo_uri).port or 27017)
    return proxy, f"mongodb://127.0.0.1:{proxy.port}/{db_name}?directConnection=true"
