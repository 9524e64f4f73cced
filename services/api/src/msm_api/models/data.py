"""Telemetry, configurations and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from msm_api.models.common import OPEN, Cursor, DeviceUuid, PageQuery, Timestamp

MAX_TELEMETRY_LIMIT = 5000


class TelemetryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)
    device_uuid: DeviceUuid | None = None
    channel_id: Annotated[int, Field(ge=0, le=1024)] | None = None
    phase: Literal["A", "B", "C"] | None = None
    from_: Annotated[Timestamp | None, Field(alias="from")] = None
    to: Timestamp | None = None
    interval: Literal["1m", "5m", "1h", "1d"] | None = None
    limit: int = Field(default=500, ge=1, le=MAX_TELEMETRY_LIMIT)
    cursor: Cursor | None = None


class LatestQuery(PageQuery):
    device_uuid: DeviceUuid | None = None


class TelemetryPage(BaseModel):
    model_config = OPEN
    items: list[dict[str, Any]]
    next_cursor: str | None
    interval: str | None = None


class ConfigQuery(PageQuery):
    device_uuid: DeviceUuid | None = None


class ConfigItem(BaseModel):
    model_config = OPEN
    device_uuid: str
    updated_at: datetime | None
    command_id: str | None
    latest_command: dict[str, Any] | None


class ConfigPage(BaseModel):
    items: list[ConfigItem]
    next_cursor: str | None


class AuditQuery(PageQuery):
    actor: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    action: Annotated[str, Field(pattern=r"^[a-z_.]{1,64}$")] | None = None
    from_: Annotated[Timestamp | None, Field(alias="from")] = None
    to: Timestamp | None = None


class AuditEntry(BaseModel):
    model_config = OPEN
    at: datetime
    actor: str | None
    action: str
    target: str | None
    ip: str | None
    result: str
    status: int


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None
