"""Shared model pieces: strict request config, pages, problems."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msm_common.identifiers import THING_NAME_PATTERN
from pydantic import BaseModel, ConfigDict, Field

FORBID = ConfigDict(extra="forbid")
OPEN = ConfigDict(extra="allow")

DeviceUuid = Annotated[str, Field(pattern=THING_NAME_PATTERN)]
Cursor = Annotated[str, Field(min_length=1, max_length=1024)]
Timestamp = Annotated[datetime, Field(description="ISO-8601; without offset it is UTC")]


class PageQuery(BaseModel):
    model_config = FORBID
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Cursor | None = None


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""

    model_config = OPEN
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None


class Page(BaseModel):
    model_config = OPEN
    items: list[dict[str, Any]]
    next_cursor: str | None
