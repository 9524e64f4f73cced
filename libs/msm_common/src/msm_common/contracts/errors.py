"""The one error every contract parser raises: a rejected message, with a machine reason."""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

# Machine-readable reasons. Stored with quarantined messages and counted in metrics, so they are
# part of the contract: add new ones, never rename.
INVALID_JSON: Final = "invalid_json"
INVALID_ENCODING: Final = "invalid_encoding"
NON_FINITE_NUMBER: Final = "non_finite_number"
TOO_DEEP: Final = "too_deep"
TOO_LARGE: Final = "too_large"
NOT_AN_OBJECT: Final = "not_an_object"
FIELD_MISSING: Final = "field_missing"
FIELD_INVALID: Final = "field_invalid"
UNKNOWN_FIELD: Final = "unknown_field"
TIMESTAMP_OUT_OF_RANGE: Final = "timestamp_out_of_range"
UNKNOWN_TOPIC: Final = "unknown_topic"
INVALID_TOPIC_SEGMENT: Final = "invalid_topic_segment"
UNSUPPORTED_TOPIC: Final = "unsupported_topic"
TOPIC_MISMATCH: Final = "topic_mismatch"


class ContractError(ValueError):
    """A message or topic that is not in the contract.

    `reason` is a short machine code (the constants above); `detail` is for humans and names the
    offending field; `field` is that field's path (e.g. ``readings[2].phase``) when there is one.
    """

    def __init__(self, reason: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field

    def within(self, prefix: str) -> ContractError:
        """The same error for a field nested under `prefix` (e.g. ``readings[2]``)."""
        if self.field is None:
            return type(self)(self.reason, f"{prefix}: {self.detail}", field=prefix)
        field = f"{prefix}.{self.field}"
        problem = self.detail.removeprefix(f"{self.field}: ")
        return type(self)(self.reason, f"{field}: {problem}", field=field)


class TopicError(ContractError):
    """A topic string (or a segment to build one from) that is not in the contract."""


def short_repr(value: object, limit: int = 40) -> str:
    """Render `value` for an error message without echoing a huge payload back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_error(field: str, problem: str, *, missing: bool = False) -> ContractError:
    """Build the error for one bad field; the detail starts with the field's path."""
    return ContractError(
        FIELD_MISSING if missing else FIELD_INVALID, f"{field}: {problem}", field=field
    )


def from_validation_error(exc: ValidationError, *, prefix: str = "") -> ContractError:
    """Turn pydantic's error into a ContractError naming the first offending field."""
    first = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, path) if part)
    message = first["msg"].removeprefix("Value error, ")
    if not field:  # a whole-object rule, e.g. expires_at after issued_at
        return ContractError(FIELD_INVALID, message)
    if first["type"] == "missing":
        return field_error(field, "required", missing=True)
    if first["type"] == "extra_forbidden":
        return ContractError(UNKNOWN_FIELD, f"{field}: not allowed", field=field)
    return field_error(field, message)
