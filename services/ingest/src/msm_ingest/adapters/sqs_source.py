"""SQS source: messages an AWS IoT Rule copied from MQTT (see deploy/aws/iot-rule-sqs.md).

At fleet scale one MQTT connection cannot drain AWS IoT Core (100 publishes/s per connection),
so a rule `SELECT *, topic() AS topic, timestamp() AS received_at FROM 'msm/+/+'` sends every
device message to SQS. Pollers long-poll in batches of 10 and hand each message on; a message
is deleted only after the pipeline acknowledged it (its write is durable). A crash leaves it
invisible until its visibility timeout, then it comes again: a duplicate, not a loss.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from msm_common.retry import Backoff

from msm_ingest.ports import Delivery, Sink

log = logging.getLogger(__name__)
RECEIVE_BACKOFF = Backoff(initial_s=0.5, max_s=20.0)

RULE_FIELDS = ("topic", "received_at")  # added by the rule's SELECT, not the device's own


def decode_rule_message(body: str | bytes, now: datetime) -> tuple[str, bytes, datetime]:
    """(topic, payload, received_at) of one rule output.

    `SELECT *, topic() AS topic, timestamp() AS received_at` merges the device's JSON object
    with the two rule fields; they are removed again and the rest is the payload. A rule that
    forwards raw bytes (`encode(*, 'base64') AS payload_b64`) is understood too. Anything else
    becomes a delivery with an empty topic, which the pipeline quarantines.
    """
    raw = body.encode() if isinstance(body, str) else body
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", raw, now
    if type(obj) is not dict or type(obj.get("topic")) is not str:
        return "", raw, now
    topic = obj.pop("topic")
    stamp = obj.pop("received_at", None)
    received = now
    if type(stamp) is int and 0 < stamp < 10**14:
        received = datetime.fromtimestamp(stamp / 1000, UTC)
    if "payload_b64" in obj and len(obj) == 1 and type(obj["payload_b64"]) is str:
        try:
            return topic, base64.b64decode(obj["payload_b64"], validate=True), received
        except ValueError:
            return topic, raw, received
    return topic, orjson.dumps(obj), received


class SqsSource:
    name = "sqs"
    sink_may_block = True  # pollers wait for room in the pipeline: that is the back-pressure
    disconnects = 0  # HTTP requests, no connection of its own to lose

    def __init__(
        self,
        queue_url: str,
        *,
        endpoint_url: str | None,
        region: str,
        pollers: int = 2,
        wait_s: int = 10,
        client: Any = None,
    ) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client(
            "sqs",
            endpoint_url=endpoint_url or None,
            region_name=region,
            config=Config(max_pool_connections=pollers + 2, retries={"mode": "standard"}),
        )
        self._pollers = pollers
        self._wait_s = wait_s
        self._sink: Sink | None = None
        self._paused = threading.Event()
        self._acked: list[str] = []
        self._lock = threading.Lock()
        self._deletes: queue.Queue[list[str] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._deleter: threading.Thread | None = None
        self._healthy = threading.Event()

    def start(self, sink: Sink) -> None:
        self._sink = sink
        for n in range(self._pollers):
            t = threading.Thread(target=self._poll, name=f"sqs-poller-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        self._deleter = threading.Thread(target=self._delete_loop, name="sqs-deleter", daemon=True)
        self._deleter.start()

    def ready(self) -> bool:
        return self._healthy.is_set()

    def _poll(self) -> None:
        failures = 0
        while not self._paused.is_set():
            try:
                response = self._client.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self._wait_s,
                )
            except (BotoCoreError, ClientError) as exc:
                self._healthy.clear()
                failures += 1
                delay = RECEIVE_BACKOFF.delay(failures)
                log.warning("SQS receive failed (%s); retrying in %.1fs", exc, delay)
                self._paused.wait(delay)
                continue
            self._healthy.set()
            failures = 0
            now = datetime.now(UTC)
            burst = []
            for message in response.get("Messages", []):
                topic, payload, received = decode_rule_message(message["Body"], now)
                ack = partial(self._ack, message["ReceiptHandle"])
                burst.append(Delivery(topic, payload, received, ack, "sqs"))
            if self._paused.is_set():
                return  # not deleted: visible again after their visibility timeout
            assert self._sink is not None
            self._sink(burst)

    def _ack(self, receipt_handle: str) -> None:
        with self._lock:
            self._acked.append(receipt_handle)

    def flush_acks(self) -> None:
        with self._lock:
            handles, self._acked = self._acked, []
        for start in range(0, len(handles), 10):
            self._deletes.put(handles[start : start + 10])

    def _delete_loop(self) -> None:
        while True:
            handles = self._deletes.get()
            if handles is None:
                return
            self._delete(handles)

    def _delete(self, handles: list[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
        try:
            result = self._client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            # Not deleted: they come again after their visibility timeout, as duplicates.
            log.warning("SQS delete of %d messages failed: %s", len(entries), exc)
            return
        if result.get("Failed"):
            log.warning("SQS could not delete %d messages", len(result["Failed"]))

    def pause(self) -> None:
        self._paused.set()

    def stop(self) -> None:
        self._paused.set()
        self.flush_acks()
        self._deletes.put(None)
        if self._deleter is not None:
            self._deleter.join(timeout=5)
        for t in self._threads:
            t.join(timeout=0.5)  # a long poll in progress ends on its own; its messages reappear
