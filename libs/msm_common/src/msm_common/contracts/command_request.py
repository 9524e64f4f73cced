"""A command request on `msm.commands` (API -> commander), and the command it becomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from msm_common.contracts import _checks
from msm_common.contracts.commands import (
    CommandId,
    CommandType,
    DeviceCommand,
    UtcDatetime,
    validate_params,
)
from msm_common.contracts.errors import ContractError, from_validation_error
from msm_common.contracts.timeparse import format_timestamp
from msm_common.identifiers import THING_NAME_PATTERN

_TYPES = frozenset(t.value for t in CommandType)


class CommandRequest(BaseModel):
    """What the API asks the commander to deliver. `params` are validated for `type` on build.

    Building one directly raises pydantic's ValidationError; `from_json` raises ContractError.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: CommandId
    device_uuid: str = Field(pattern=THING_NAME_PATTERN, strict=True)
    type: CommandType
    params: dict[str, Any] = Field(default_factory=dict, repr=False)  # may hold secrets
    requested_by: str = Field(min_length=1, max_length=256, strict=True)
    requested_at: UtcDatetime
    expires_at: UtcDatetime
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256, strict=True)

    @model_validator(mode="after")
    def _check(self) -> CommandRequest:
        if self.expires_at <= self.requested_at:
            raise ValueError("expires_at must be after requested_at")
        try:
            validated = validate_params(self.type, self.params, field_prefix="params")
        except ContractError as exc:
            raise ValueError(exc.detail) from None
        # Store the normalised form (e.g. compressed IPs), without unset optionals.
        object.__setattr__(self, "params", validated.model_dump(exclude_none=True))
        return self

    def to_json(self) -> bytes:
        body = self.model_dump(exclude_none=True)
        body["requested_at"] = format_timestamp(self.requested_at)
        body["expires_at"] = format_timestamp(self.expires_at)
        return orjson.dumps(body)

    @classmethod
    def from_json(
        cls, payload: bytes, *, max_bytes: int = _checks.MAX_PAYLOAD_BYTES
    ) -> CommandRequest:
        """Parse a request body; raise ContractError (poison message) if it is off-contract."""
        obj = _checks.require_object(_checks.load_json(payload, max_bytes=max_bytes), "request")
        params = obj.get("params", {})
        if obj.get("type") in _TYPES and isinstance(params, dict):
            validate_params(obj["type"], params, field_prefix="params")  # names the bad field
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise from_validation_error(exc) from None

    def to_device_command(self, *, issued_at: datetime) -> DeviceCommand:
        """The command to publish to the device, issued now and expiring with the request."""
        return DeviceCommand(
            command_id=self.command_id,
            type=self.type,
            issued_at=issued_at,
            expires_at=self.expires_at,
            params=validate_params(self.type, self.params),
        )
