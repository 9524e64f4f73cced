"""Shared model pieces: strict request config, pages, problems."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from msm_common.identifiers import THING_NAME_PATTERN
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

FORBID = ConfigDict(extra="forbid")
OPEN = ConfigDict(extra="allow")

DeviceUuid = Annotated[str, Field(pattern=THING_NAME_PATTERN)]
# base64url of a MAC and a JSON position: what the API issues looks like this; one it did not
# issue (or issued for another listing) is answered 404, as an unknown id would be.
Cursor = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{19,1024}$",
        description="next_cursor of the previous page of the same listing",
    ),
]
# ISO-8601 date-times only (no epoch numbers): RFC 3339 with an offset, or without one (UTC).
_ISO_DATETIME: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
# The documented forms: every value they allow is a real date-time here, also in UTC (years
# 0002-9998, days 01-28), with an offset (RFC 3339) or without one (UTC).
_DATE_TIME: Final = (
    r"(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    r"-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
)
_AWARE_PATTERN: Final = rf"^{_DATE_TIME}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
_NAIVE_PATTERN: Final = rf"^{_DATE_TIME}$"


def _iso_datetime(value: object) -> object:
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:  # also in UTC: 0001-01-01T00:00:00+01:00 is not
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
            return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed
        except (ValueError, OverflowError):
            raise ValueError("must be a real date-time within years 1-9999 in UTC") from None
    raise ValueError("must be an ISO-8601 date-time such as 2025-03-01T12:00:00Z")


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [
                {"format": "date-time", "pattern": _AWARE_PATTERN},
                {"pattern": _NAIVE_PATTERN},
            ],
            "description": "ISO-8601 (RFC 3339); without an offset it is UTC",
        }
    ),
]


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
