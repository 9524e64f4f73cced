"""AMQP entry points: decode a message into its typed form, call its handler, map failures.

Off-contract messages are poison (dead-lettered at once). A database error is retried here a
few times with backoff before the message goes back to the queue, so a short MongoDB outage does
not spend the quorum queue's delivery limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import pika
from msm_common.adapters.amqp import Handler, PoisonMessage
from msm_common.adapters.amqp_topology import (
    COMMAND_REQUEST_KEY,
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    QueueSpec,
)
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.errors import ContractError
from msm_common.retry import retry_call
from pymongo.errors import PyMongoError

from msm_commander.domain.messages import parse_ack_event, parse_presence_event
from msm_commander.handlers import Deps, dispatch, handle_malformed_request
from msm_commander.settings import CommanderSettings

log = logging.getLogger(__name__)
DB_ATTEMPTS: Final = 4  # the shared backoff waits ~0.5, 1 and 2 s between them
ACK_KEYS: Final = ("command.ack.*",)
PRESENCE_KEYS: Final = ("device.presence.*",)


def queues(settings: CommanderSettings) -> tuple[QueueSpec, QueueSpec, QueueSpec]:
    """Requests, acks, presence: quorum queues with dead-lettering."""
    return (
        QueueSpec(settings.requests_queue, COMMANDS_EXCHANGE, (COMMAND_REQUEST_KEY,)),
        QueueSpec(settings.acks_queue, EVENTS_EXCHANGE, ACK_KEYS),
        QueueSpec(settings.presence_queue, EVENTS_EXCHANGE, PRESENCE_KEYS),
    )


def _with_retries(d: Deps, message: object, stopping: threading.Event) -> None:
    retry_call(
        lambda: dispatch(d, message),
        on=PyMongoError,
        attempts=DB_ATTEMPTS,
        stop=stopping,
        what="database call",
        logger=log,
    )


def request_entry(d: Deps, stopping: threading.Event) -> Handler:
    def on_request(_method: Any, body: bytes, _props: pika.BasicProperties) -> None:
        try:
            request = CommandRequest.from_json(body)
        except ContractError as exc:
            d.metrics.requests.labels("malformed").inc()
            handle_malformed_request(d, body, exc)
            raise PoisonMessage(f"malformed command request: {exc}") from exc
        _with_retries(d, request, stopping)

    return on_request


def event_entry(
    d: Deps, stopping: threading.Event, parse: Callable[..., object], what: str
) -> Handler:
    def on_event(method: Any, body: bytes, _props: pika.BasicProperties) -> None:
        try:
            message = parse(body, str(method.routing_key), now=d.now())
        except ContractError as exc:
            raise PoisonMessage(f"malformed {what} event: {exc}") from exc
        _with_retries(d, message, stopping)

    return on_event


def handlers(
    d: Deps, settings: CommanderSettings, stopping: threading.Event
) -> list[tuple[QueueSpec, Handler]]:
    requests, acks, presence = queues(settings)
    return [
        (requests, request_entry(d, stopping)),
        (acks, event_entry(d, stopping, parse_ack_event, "command.ack")),
        (presence, event_entry(d, stopping, parse_presence_event, "device.presence")),
    ]
