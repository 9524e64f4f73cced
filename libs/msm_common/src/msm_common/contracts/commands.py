"""Commands the cloud sends to a meter on `msm/{uuid}/{reboot|ntp|mqtt|sftp}`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from msm_common.contracts import _checks
from msm_common.contracts.errors import (
    NOT_AN_OBJECT,
    ContractError,
    field_error,
    from_validation_error,
    short_repr,
)
from msm_common.contracts.timeparse import format_timestamp, utc_ms
from msm_common.identifiers import COMMAND_ID_PATTERN


class CommandType(StrEnum):
    """The four command topics; also the ack topics."""

    REBOOT = "reboot"
    NTP = "ntp"
    MQTT = "mqtt"
    SFTP = "sftp"


def _host(value: str) -> str:
    host = _checks.normalize_host(value)
    if host is None:
        raise ValueError("must be a hostname or IP address of at most 253 characters")
    return host


def _whole(value: object) -> object:
    # JSON does not tell 614 from 614.0, and neither does JSON Schema's "integer".
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = BeforeValidator(_whole)
Host = Annotated[
    str, Field(strict=True, json_schema_extra=_checks.HOST_SCHEMA), AfterValidator(_host)
]
Port = Annotated[int, Field(strict=True, ge=1, le=65535), Whole]
Interval = Annotated[int, Field(strict=True, ge=1, le=86_400, description="seconds"), Whole]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=128)]
SEALED_PREFIX: Final = "msmsec1:"  # msm_common.secrets: a secret encrypted at rest


def _secret(value: str) -> str:
    # A plaintext secret is what the device receives (at most 256 characters); between the api
    # and the device it travels sealed, which is longer.
    limit = 4096 if value.startswith(SEALED_PREFIX) else 256
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return value


# The schema documents the plaintext a client sends (the API refuses sealed values).
_PLAIN_SECRET_SCHEMA: Final = {"maxLength": 256}
Secret = Annotated[
    str,
    Field(strict=True, repr=False, json_schema_extra=_PLAIN_SECRET_SCHEMA),
    AfterValidator(_secret),
]
CommandId = Annotated[str, Field(strict=True, pattern=COMMAND_ID_PATTERN)]
UtcDatetime = Annotated[datetime, AfterValidator(utc_ms)]

_PARAMS_CONFIG: Final = ConfigDict(extra="forbid", frozen=True)


class RebootParams(BaseModel):
    model_config = _PARAMS_CONFIG
    delay_s: Annotated[int, Field(strict=True, ge=0, le=86_400), Whole] | None = None


class NtpParams(BaseModel):
    model_config = _PARAMS_CONFIG
    server_1: Host
    server_2: Host | None = None
    server_3: Host | None = None


class MqttParams(BaseModel):
    model_config = _PARAMS_CONFIG
    broker_ip: Host
    broker_port: Port
    broker_user: Name
    broker_password: Secret
    data_interval: Interval


class SftpParams(BaseModel):
    model_config = _PARAMS_CONFIG
    server_ip: Host
    server_port: Port
    username: Name
    password: Secret
    data_interval: Interval


CommandParams = RebootParams | NtpParams | MqttParams | SftpParams

PARAMS_MODELS: Final[Mapping[CommandType, type[CommandParams]]] = {
    CommandType.REBOOT: RebootParams,
    CommandType.NTP: NtpParams,
    CommandType.MQTT: MqttParams,
    CommandType.SFTP: SftpParams,
}
# Parameters that never leave the API and are purged from a command once it is finished.
SECRET_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "mqtt": frozenset({"broker_password"}),
    "sftp": frozenset({"password"}),
}
HEADER_FIELDS: Final = ("command_id", "type", "origin", "issued_at", "expires_at")
_COMMAND_TYPES: Final = frozenset(t.value for t in CommandType)


def command_type(value: object, field: str = "type") -> CommandType:
    """Return `value` as a CommandType or raise ContractError naming `field`."""
    if isinstance(value, str) and value in _COMMAND_TYPES:
        return CommandType(value)
    raise field_error(field, f"must be one of reboot, ntp, mqtt, sftp, got {short_repr(value)}")


def params_model_for(type_: CommandType | str) -> type[CommandParams]:
    """The parameters model of a command type."""
    return PARAMS_MODELS[command_type(type_)]


def validate_params(
    type_: CommandType | str, params: Mapping[str, Any], *, field_prefix: str = ""
) -> CommandParams:
    """Validate command parameters; ContractError names the offending (or unknown) field."""
    model = params_model_for(type_)
    if not isinstance(params, Mapping):
        raise ContractError(NOT_AN_OBJECT, f"{field_prefix or 'params'} must be a JSON object")
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise from_validation_error(exc, prefix=field_prefix) from None


def secret_fields(type_: CommandType | str) -> frozenset[str]:
    return SECRET_FIELDS.get(str(type_), frozenset())


def strip_secrets(type_: CommandType | str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `params` without its secret fields (for storage once a command is finished)."""
    hidden = secret_fields(type_)
    return {key: value for key, value in params.items() if key not in hidden}


class DeviceCommand(BaseModel):
    """A command as the meter receives it: flat JSON, header fields beside the parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: CommandId
    type: CommandType
    origin: Literal["cloud"] = "cloud"
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    params: CommandParams

    @model_validator(mode="after")
    def _check(self) -> DeviceCommand:
        if not isinstance(self.params, PARAMS_MODELS[self.type]):
            raise ValueError(f"params are not {self.type.value} parameters")
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self

    def to_payload(self) -> bytes:
        """The bytes published on `msm/{uuid}/{type}`."""
        body: dict[str, Any] = {
            "command_id": self.command_id,
            "type": self.type.value,
            "origin": self.origin,
            "issued_at": format_timestamp(self.issued_at),
            "expires_at": format_timestamp(self.expires_at),
        }
        body.update(self.params.model_dump(exclude_none=True))
        return orjson.dumps(body)

    @classmethod
    def from_payload(
        cls, payload: bytes, *, max_bytes: int = _checks.MAX_PAYLOAD_BYTES
    ) -> DeviceCommand:
        """Parse what `to_payload` produced; raise ContractError for anything else."""
        obj = _checks.require_object(_checks.load_json(payload, max_bytes=max_bytes), "command")
        type_ = command_type(obj.get("type"))
        header = {key: obj[key] for key in HEADER_FIELDS if key in obj}
        params = validate_params(type_, {k: v for k, v in obj.items() if k not in header})
        try:
            return cls.model_validate({**header, "params": params})
        except ValidationError as exc:
            raise from_validation_error(exc) from None
