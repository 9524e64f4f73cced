"""Handlers for command requests: validate, store `queued`, publish with confirms; cancel."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from msm_common import secrets
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import CommandType, validate_params

from msm_api.context import Deps
from msm_api.domain import commands as dc
from msm_api.problems import ApiError

log = logging.getLogger(__name__)
NOT_PUBLISHED = "not_published: the message broker did not confirm the request"


def _replay(existing: dict[str, Any], actor: str, digest: str) -> dict[str, Any]:
    if existing.get("requested_by") != actor or existing.get("request_digest") != digest:
        raise ApiError(  # a conflict with the earlier request: state, not shape
            409,
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
        )
    return existing


def request_command(
    d: Deps,
    *,
    device_uuid: str,
    type_: CommandType,
    raw_params: dict[str, Any],
    actor: str,
    idempotency_key: str | None,
    now: datetime,
    ttl_s: int | None = None,
) -> dict[str, Any]:
    """The stored command (new, or the earlier one for a replayed Idempotency-Key).

    `ttl_s` overrides the configured lifetime of a command that is not yet delivered.
    """
    params = validate_params(type_, raw_params).model_dump(exclude_none=True)
    for name in secrets.sealed_fields(type_.value, params):
        raise ApiError(400, f"{name} must be the plaintext secret", field=name)
    if d.store.device(device_uuid) is None:
        raise ApiError(404, "no such device")
    digest = dc.request_digest(d.digest_secret, device_uuid, type_.value, params)
    # From here on the secret exists only sealed: in `commands`, on `msm.commands`, and in
    # the mqtt/sftp config document the commander writes once the device accepted it.
    params = secrets.seal_params(d.secrets, type_.value, params)
    if idempotency_key is not None:
        existing = d.store.command_by_idempotency_key(idempotency_key)
        if existing is not None:
            return _replay(existing, actor, digest)
    doc = dc.new_command(
        command_id=dc.new_command_id(),
        device_uuid=device_uuid,
        type_=type_,
        params=params,
        requested_by=actor,
        now=now,
        ttl=timedelta(seconds=ttl_s or d.settings.command_ttl_s),
        idempotency_key=idempotency_key,
        digest=digest,
    )
    if not d.store.insert_command(doc):  # a concurrent request with the same key won
        existing = (
            None if idempotency_key is None else d.store.command_by_idempotency_key(idempotency_key)
        )
        if existing is None:
            raise ApiError(409, "a command with this id exists already; try again")
        return _replay(existing, actor, digest)
    request = CommandRequest(
        command_id=doc["_id"],
        device_uuid=device_uuid,
        type=type_,
        params=params,
        requested_by=actor,
        requested_at=now,
        expires_at=doc["expires_at"],
        idempotency_key=idempotency_key,
    )
    if not d.publisher.publish(request.to_json(), doc["_id"]):
        _mark_unpublished(d, doc, now)
        raise ApiError(
            503, "the command could not be queued; try again", headers={"Retry-After": "5"}
        )
    d.metrics.commands.labels(type_.value).inc()
    return doc


def _mark_unpublished(d: Deps, doc: dict[str, Any], now: datetime) -> None:
    """Fail a command RabbitMQ never confirmed; free its key so the client can retry with it."""
    d.store.update_if_queued(doc["_id"], dc.unpublished_update(doc["type"], NOT_PUBLISHED, now))
    log.error("command %s not confirmed by RabbitMQ", doc["_id"], extra={"command_id": doc["_id"]})


def cancel(d: Deps, command_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Only a queued command can be cancelled (the commander re-checks before sending)."""
    current = d.store.command(command_id)
    if current is None:
        raise ApiError(404, "no such command")
    updated = d.store.update_if_queued(
        command_id, dc.cancel_update(str(current.get("type")), actor, now)
    )
    if updated is None:
        status = d.store.command(command_id) or current
        raise ApiError(
            409, f"only a queued command can be cancelled; this one is {status.get('status')}"
        )
    return updated
