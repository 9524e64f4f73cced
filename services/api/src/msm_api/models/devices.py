"""Devices, their status and their commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msm_common.contracts.command_document import CommandStatus
from pydantic import BaseModel, Field

from msm_api.models.common import FORBID, OPEN, PageQuery


class DevicesQuery(PageQuery):
    online: bool | None = None
    q: Annotated[str, Field(min_length=1, max_length=128, description="in uuid/IMEI")] | None = None


class DeviceOut(BaseModel):
    model_config = OPEN
    device_uuid: str
    online: bool


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class Reading(BaseModel):
    model_config = OPEN
    channel_id: int | str
    phase: str | None


class PendingCommand(BaseModel):
    command_id: str
    type: str
    status: str
    created_at: datetime | None


class DeviceStatus(BaseModel):
    model_config = OPEN
    device_uuid: str
    online: bool
    since: datetime | None
    last_seen: datetime | None
    latest: list[Reading]
    mqtt_status: bool | None
    sftp_status: bool | None
    firmware_version: str | None
    pending_commands: list[PendingCommand]


class HistoryEntry(BaseModel):
    model_config = OPEN
    status: str
    at: datetime | None
    reason: str | None = None


class CommandOut(BaseModel):
    model_config = OPEN
    command_id: str
    device_uuid: str | None
    type: str | None
    params: dict[str, Any]
    status: str | None
    history: list[HistoryEntry]
    created_at: datetime | None
    expires_at: datetime | None


class CommandPage(BaseModel):
    items: list[CommandOut]
    next_cursor: str | None


class CommandsQuery(PageQuery):
    status: CommandStatus | None = None


class CommandRequestQuery(BaseModel):
    """Options of a command request that are not the device's parameters."""

    model_config = FORBID
    expires_in_s: int | None = Field(
        default=None,
        ge=60,
        le=7 * 86_400,
        description="seconds until a command not yet delivered expires (default 24 h)",
    )
