"""What arrives on a command topic: a meter's acknowledgement, or our own command echoed back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from msm_common.contracts import _checks
from msm_common.contracts.commands import CommandType
from msm_common.contracts.errors import ContractError, field_error, short_repr
from msm_common.contracts.timeparse import as_utc

MAX_ACK_MESSAGE: Final = 1024
MAX_LEGACY_BYTES: Final = 32


class AckStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"


# Status words as firmware spells them (case-insensitive) -> the contract's status.
STATUS_WORDS: Final[dict[str, AckStatus]] = {
    "success": AckStatus.SUCCESS,
    "succeeded": AckStatus.SUCCESS,
    "ok": AckStatus.SUCCESS,
    "failed": AckStatus.FAILED,
    "fail": AckStatus.FAILED,
    "error": AckStatus.FAILED,
    "rejected": AckStatus.REJECTED,
    "in_progress": AckStatus.IN_PROGRESS,
}


@dataclass(frozen=True, slots=True)
class CommandAck:
    """A meter's answer to a command; `command_id` is None from older firmware."""

    device_uuid: str
    command_type: CommandType
    command_id: str | None
    status: AckStatus
    message: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CloudCommandEcho:
    """The backend's own command (`"origin": "cloud"`) seen on the shared topic: skip it."""

    device_uuid: str
    command_type: CommandType
    command_id: str | None


def parse_command_topic_message(
    device_uuid: str,
    command_type: CommandType,
    payload: bytes,
    *,
    received_at: datetime,
    max_bytes: int = _checks.MAX_PAYLOAD_BYTES,
) -> CommandAck | CloudCommandEcho:
    """Read a payload from a command topic; a bare legacy word (`OK`, `error`) is an ack too."""
    try:
        data = _checks.load_json(payload, max_bytes=max_bytes)
    except ContractError:
        word = _legacy_word(payload)
        if word is None:
            raise
        data = word
    if type(data) is str:  # legacy firmware: the whole payload is the status
        return CommandAck(device_uuid, command_type, None, _status(data), None, as_utc(received_at))
    obj = _checks.require_object(data, "command topic payload")
    command_id = obj.get("command_id")
    if command_id is not None:
        command_id = _checks.string(obj, "command_id", "", 128)
    if obj.get("origin") == "cloud":
        return CloudCommandEcho(device_uuid, command_type, command_id)
    if "status" not in obj:
        raise field_error("status", "required", missing=True)
    message = obj.get("message")
    if message is not None and type(message) is not str:
        raise field_error("message", f"must be a string, got {short_repr(message)}")
    return CommandAck(
        device_uuid,
        command_type,
        command_id,
        _status(obj["status"]),
        None if message is None else message[:MAX_ACK_MESSAGE],
        as_utc(received_at),
    )


def _legacy_word(payload: bytes) -> str | None:
    word = payload.strip()
    if len(word) > MAX_LEGACY_BYTES or not word.isalpha():
        return None
    return word.decode("ascii")


def _status(value: object) -> AckStatus:
    status = STATUS_WORDS.get(value.lower()) if type(value) is str else None
    if status is None:
        raise field_error(
            "status",
            f"must be success, failed, rejected or in_progress, got {short_repr(value)}",
        )
    return status
