"""The stored `commands` document: statuses, legal transitions, the document and its updates. Pure.

    queued -> sent -> succeeded | failed | rejected | timed_out | expired
    queued -> cancelled (API) | superseded | expired | rejected | failed (API: never published)
    sent -> sent is a resend: same command id, one more attempt.

The API creates commands and cancels them; the commander does everything else. Both build the
document and every status change here, so a status change outside `TRANSITIONS` cannot be written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from msm_common.contracts.commands import secret_fields

Document = dict[str, Any]


class CommandStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


ACTIVE: Final = frozenset({CommandStatus.QUEUED, CommandStatus.SENT})
FINAL: Final = frozenset(CommandStatus) - ACTIVE
ACTIVE_VALUES: Final = tuple(sorted(status.value for status in ACTIVE))  # as stored in MongoDB
FINAL_VALUES: Final = frozenset(status.value for status in FINAL)
TRANSITIONS: Final[Mapping[CommandStatus, frozenset[CommandStatus]]] = {
    CommandStatus.QUEUED: frozenset(
        {
            CommandStatus.SENT,
            CommandStatus.CANCELLED,
            CommandStatus.SUPERSEDED,
            CommandStatus.EXPIRED,
            CommandStatus.REJECTED,
            CommandStatus.FAILED,
        }
    ),
    CommandStatus.SENT: frozenset(
        {
            CommandStatus.SENT,
            CommandStatus.SUCCEEDED,
            CommandStatus.FAILED,
            CommandStatus.REJECTED,
            CommandStatus.TIMED_OUT,
            CommandStatus.EXPIRED,
        }
    ),
    **{final: frozenset() for final in FINAL},
}
# Config commands whose success is recorded in the device's config document of the same name.
CONFIG_TYPES: Final = frozenset({"ntp", "mqtt", "sftp"})
# Set on every transition the commander announces, cleared once its command.status event is
# confirmed (the outbox flag).
EVENT_PENDING: Final = "event_pending"


class IllegalTransition(ValueError):
    """A status change the state machine does not allow."""


def can_transition(current: CommandStatus | str, target: CommandStatus | str) -> bool:
    return CommandStatus(target) in TRANSITIONS[CommandStatus(current)]


def history_entry(
    status: CommandStatus, at: datetime, reason: str, attempts: int | None = None
) -> Document:
    """One line of a command's history (the API's entries carry no attempt count)."""
    entry: Document = {"status": status.value, "at": at, "reason": reason}
    if attempts is not None:
        entry["attempts"] = attempts
    return entry


def new_document(
    *,
    command_id: str,
    device_uuid: str,
    type_: str | None,
    params: Mapping[str, Any],
    requested_by: str | None,
    created_at: datetime,
    expires_at: datetime,
    now: datetime,
    status: CommandStatus = CommandStatus.QUEUED,
    reason: str = "requested",
    idempotency_key: str | None = None,
    announce: bool = True,
    history_attempts: int | None = 0,
) -> Document:
    """A new command: queued (or final at once, then without its secrets and its key).

    `announce` sets the outbox flag: the commander publishes `command.status` for it.
    """
    final = status in FINAL
    doc: Document = {
        "_id": command_id,
        "device_uuid": device_uuid,
        "type": type_,
        "params": _without_secrets(type_, params) if final else dict(params),
        "status": status.value,
        "history": [history_entry(status, now, reason, history_attempts)],
        "attempts": 0,
        "created_at": created_at,
        "updated_at": now,
        "expires_at": expires_at,
        "requested_by": requested_by,
    }
    if announce:
        doc[EVENT_PENDING] = True
    if idempotency_key is not None and not final:
        doc["idempotency_key"] = idempotency_key
    return doc


def transition(
    type_: str,
    target: CommandStatus,
    reason: str,
    now: datetime,
    *,
    current: CommandStatus | str | None = None,
    attempts: int | None = None,
    set_: Mapping[str, Any] | None = None,
    unset: Iterable[str] = (),
    announce: bool = True,
) -> Document:
    """The update for one transition: status, history, the outbox flag; secrets go when final.

    With `current`, a change the state machine does not allow raises IllegalTransition.
    `attempts` is the count after this transition, recorded in the history entry.
    """
    if current is not None and not can_transition(current, target):
        raise IllegalTransition(f"a {CommandStatus(current).value} command cannot become {target}")
    fields: Document = {"status": target.value, "updated_at": now}
    if announce:
        fields[EVENT_PENDING] = True
    fields.update(set_ or {})
    update: Document = {
        "$set": fields,
        "$push": {"history": history_entry(target, now, reason, attempts)},
    }
    removed = {name: "" for name in unset}
    if target in FINAL:
        removed.update({f"params.{name}": "" for name in sorted(_secrets(type_))})
    if removed:
        update["$unset"] = removed
    return update


def _secrets(type_: str | None) -> frozenset[str]:
    return secret_fields(type_) if type_ is not None and type_ in CONFIG_TYPES else frozenset()


def _without_secrets(type_: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    hidden = _secrets(type_)
    return {k: v for k, v in params.items() if k not in hidden}
